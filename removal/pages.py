"""Server-rendered pages of the removal app: the web editor."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from PIL import ImageColor

from accounts.authentication import client_ip, network_of
from billing import stripe_gateway
from billing.credits import available, next_utc_midnight
from billing.models import AnonymousUsage, CreditAccount
from removal import registry
from removal.limits import MAX_SIDE, MAX_UPLOAD_BYTES, MAX_UPLOAD_MB
from removal.samples import SAMPLES
from removal.validation import ALLOWED_EXTENSIONS


def allowance(request) -> dict:
    """What the visitor may still process: credits, or the anonymous daily allowance."""
    now = timezone.now()
    if request.user.is_authenticated:
        account = CreditAccount.objects.for_user(request.user)
        included, prepaid = available(account, now)
        return {
            "kind": "credits",
            "remaining": included + prepaid,
            "included": included,
            "prepaid": prepaid,
            "renews_at": account.period_end,
            # Only a server that sells credits may tell someone to buy them.
            "can_buy": stripe_gateway.configured(),
        }
    row = AnonymousUsage.objects.filter(ip=network_of(client_ip(request)), day=now.date()).first()
    used = row.used if row else 0
    return {
        "kind": "daily",
        "remaining": max(0, settings.ANONYMOUS_DAILY_LIMIT - used),
        "renews_at": next_utc_midnight(now),
    }


QUALITY = {"u2net": "Fast", "isnet": "Best"}


def model_choices() -> list[dict]:
    """The quality choice the editor offers when the server has more than one model."""
    return [
        {
            "name": spec.name,
            "label": QUALITY.get(spec.family.name, spec.name),
            "credits": spec.credits,
            "licence": spec.licence,
            "default": spec.name == settings.REMOVAL_DEFAULT_MODEL,
        }
        for spec in registry.installed().values()
    ]


@never_cache  # the page embeds a user token: no cache or back button may keep it
def editor(request):
    context = {
        "allowance": allowance(request),
        "models": model_choices(),
        # The names the API accepts for bg_color, so the page can refuse the same ones.
        "colour_names": sorted(ImageColor.colormap),
        # The API's limits, so the page refuses a file before uploading it, not after.
        "max_bytes": MAX_UPLOAD_BYTES,
        "max_mb": MAX_UPLOAD_MB,
        "max_side": MAX_SIDE,
        "extensions": ALLOWED_EXTENSIONS,
        # A batch's limits, so a batch the API would refuse is not uploaded first.
        "batch_max_files": settings.BATCH_MAX_FILES,
        "batch_max_mb": settings.BATCH_MAX_MB,
        "samples": SAMPLES,
    }
    return render(request, "removal/editor.html", context)
