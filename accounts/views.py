from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.forms import ApiKeyNameForm
from accounts.models import MAX_KEYS_PER_USER, ApiKey

NEW_KEY_SESSION = "new_api_key"


def _keys_page(request, *, form=None, status=200):
    # The raw key of a key just created comes once from the session, then is gone:
    # the page after the redirect shows it, a reload does not.
    new_key, raw_key = None, None
    if fresh := request.session.pop(NEW_KEY_SESSION, None):
        new_key = ApiKey.objects.active().filter(pk=fresh["pk"], user=request.user).first()
        raw_key = fresh["raw"] if new_key else None
    context = {
        "keys": ApiKey.objects.active().filter(user=request.user),
        "form": form or ApiKeyNameForm(),
        "new_key": new_key,
        "raw_key": raw_key,
        "max_keys": MAX_KEYS_PER_USER,
        "api_url": request.build_absolute_uri("/rmbg"),
    }
    return render(request, "accounts/api_keys.html", context, status=status)


@never_cache
@login_required
def api_keys(request):
    if request.method != "POST":
        return _keys_page(request)
    form = ApiKeyNameForm(request.POST)
    if not form.is_valid():
        return _keys_page(request, form=form, status=400)
    try:
        key, raw_key = ApiKey.issue(request.user, form.cleaned_data["name"])
    except ValidationError as exc:
        form.add_error(None, exc)
        return _keys_page(request, form=form, status=400)
    # Post/redirect/get, so a reload does not create a second key. The raw key waits in
    # the session for the one page that shows it; it is never stored anywhere else.
    request.session[NEW_KEY_SESSION] = {"pk": key.pk, "raw": raw_key}
    return redirect("api-keys")


@require_POST
@login_required
def rename_api_key(request, pk: int):
    key = get_object_or_404(ApiKey.objects.active(), pk=pk, user=request.user)
    form = ApiKeyNameForm(request.POST)
    if form.is_valid():
        key.name = form.cleaned_data["name"]
        key.save(update_fields=["name"])
        messages.success(request, _("Renamed the key to “%(name)s”.") % {"name": key.name})
    else:
        messages.error(request, _("A key needs a name of at most 100 characters."))
    return redirect("api-keys")


@require_POST
@login_required
def revoke_api_key(request, pk: int):
    key = get_object_or_404(ApiKey.objects.active(), pk=pk, user=request.user)
    key.revoke()
    messages.success(
        request, _("Revoked “%(name)s”. It stopped working immediately.") % {"name": key.name}
    )
    return redirect("api-keys")
