"""Short-term rate limits for abuse control, with the `limits` package.

A moving window per user, or per client address for anonymous callers and
failed credentials (an IPv6 /64 is one address: accounts.authentication.network_of),
kept in Redis (atomic Lua on the server) or in process memory on the embedded
defaults. Every API response carries X-RateLimit-Limit/-Remaining/-Reset; a
refusal adds Retry-After.
If Redis is unreachable the limiter fails open: it guards against abuse, it
does not meter money (that is billing.credits, in the database).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from rest_framework import exceptions

from accounts.authentication import Caller, client_ip, network_of
from config.errors import ApiError
from config.once import PerProcess

logger = logging.getLogger(__name__)
TOO_FAST = "You're making requests too quickly, Please Upgrade or slow down."


@PerProcess
def limiter() -> MovingWindowRateLimiter:
    uri = settings.REDIS_URL or "memory://"
    options = {"socket_timeout": settings.REDIS_TIMEOUT} if settings.REDIS_URL else {}
    return MovingWindowRateLimiter(storage_from_string(uri, key_prefix="ratelimit", **options))


@dataclass(frozen=True)
class Window:
    limit: int
    remaining: int
    reset: int  # unix time at which a request is certain to be allowed again

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def hit(identity: str) -> Window | None:
    """Count one request; raise 429 when over the limit. None when the store is down."""
    item = parse(settings.API_RATE_LIMIT)
    try:
        allowed = limiter().hit(item, identity)
        stats = limiter().get_window_stats(item, identity)
    except Exception:  # noqa: BLE001 - any storage failure: fail open, loudly
        logger.warning("rate-limit store unavailable; request not limited", exc_info=True)
        return None
    window = Window(item.amount, stats.remaining, math.ceil(stats.reset_time))
    if not allowed:
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            TOO_FAST,
            status_code=429,
            headers={**window.headers(), "Retry-After": str(retry_after)},
        )
    return window


def identity_of(caller: Caller) -> str:
    # Per user, not per key: ten keys must not buy ten times the limit.
    if caller.user is not None:
        return f"user:{caller.user.pk}"
    return f"ip:{caller.address}"


class RateLimitedMixin:
    """For APIViews: limit every request, after authentication, and add the headers.

    The caller is built once here and kept as ``self.caller`` for the handler.
    """

    rate_window: Window | None = None
    caller: Caller

    def initial(self, request, *args, **kwargs):
        try:
            super().initial(request, *args, **kwargs)
        except (
            exceptions.AuthenticationFailed,
            exceptions.NotAuthenticated,
            exceptions.PermissionDenied,
            ApiError,
        ):
            # Failed credentials are limited by IP, like anonymous traffic.
            self.rate_window = hit(f"ip:{network_of(client_ip(request))}")
            raise
        self.caller = Caller.of(request)
        self.rate_window = hit(identity_of(self.caller))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.rate_window is not None and "X-RateLimit-Limit" not in response:
            for name, value in self.rate_window.headers().items():
                response[name] = value
        return response
