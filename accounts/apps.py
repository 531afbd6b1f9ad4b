from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from accounts import schema  # noqa: F401 - registers the OpenAPI auth schemes

        user_logged_out.connect(_end_user_tokens, dispatch_uid="accounts.end_user_tokens")


def _end_user_tokens(sender, request, user, **kwargs) -> None:
    if user is not None:
        user.end_user_tokens()
