from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from accounts.authentication import issue_user_token


def user_token(request) -> dict:
    """``user_token`` for pages that call the API as the signed-in user (lazy)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_token": ""}
    return {"user_token": SimpleLazyObject(lambda: issue_user_token(user))}
