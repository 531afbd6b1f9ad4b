"""Who is calling the API, and through which channel.

- ``x-api-key``                    -> that key's user, channel "api"
- ``Authorization: Bearer <token>``-> the signed-in user of our own pages, channel "app"
- a signed-in browser session      -> that user, channel "app" (CSRF enforced)
- nothing                          -> anonymous, channel "app", known by client IP
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiKey
from config.errors import ApiError

API_KEY_HEADER = "x-api-key"
USER_TOKEN_SALT = "accounts.user-token"  # noqa: S105 - a namespace, not a secret
INVALID_KEY = "invalid api key"
UNVERIFIED = "Email address not verified – please check your inbox"
BOTH_CREDENTIALS = "This is a mistake: Cannot use both API key and user token"
INVALID_TOKEN = "invalid or expired user token"  # noqa: S105 - a message


@dataclass(frozen=True)
class Channel:
    """What ``request.auth`` holds once a caller is authenticated."""

    name: str  # "api" or "app"
    api_key: ApiKey | None = None


APP = Channel("app")


@dataclass(frozen=True)
class Caller:
    """Who made an API request: a user (or nobody), the channel, the client IP."""

    user: Any
    channel: str
    api_key: ApiKey | None
    ip: str

    @classmethod
    def of(cls, request: Request) -> Caller:
        auth = request.auth if isinstance(request.auth, Channel) else APP
        user = request.user if request.user and request.user.is_authenticated else None
        return cls(user=user, channel=auth.name, api_key=auth.api_key, ip=client_ip(request))

    @property
    def address(self) -> str:
        """What anonymous allowances and limits count by (see ``network_of``)."""
        return network_of(self.ip)

    def describe(self) -> str:
        """For logs: never the key itself, only its visible prefix."""
        if self.user is None:
            return f"channel={self.channel} anonymous ip={self.ip}"
        key = f" key={self.api_key.prefix}" if self.api_key else ""
        return f"channel={self.channel} user={self.user.pk}{key}"


def bearer_token(request: Request) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request):
        raw_key = request.headers.get(API_KEY_HEADER)
        if raw_key is None:
            return None
        if bearer_token(request) is not None:
            raise ApiError(BOTH_CREDENTIALS, status_code=400)
        key = ApiKey.objects.for_key(raw_key.strip())
        if key is None or not key.user.is_active:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        if not key.user_email_verified:
            raise exceptions.PermissionDenied(UNVERIFIED)
        key.touch()
        return key.user, Channel("api", key)

    def authenticate_header(self, request: Request) -> str:
        return f'ApiKey header="{API_KEY_HEADER}"'


def issue_user_token(user) -> str:
    """A short-lived signed token our own pages use to call the API.

    Bound to the user's password and token version: a password change or a
    logout ends it, not only its max age.
    """
    return signing.dumps(
        {"uid": user.pk, "b": _token_binding(user)}, salt=USER_TOKEN_SALT, compress=True
    )


def _token_binding(user) -> str:
    # Like Django's session auth hash: an HMAC, so the token reveals nothing of either.
    value = f"{user.password}:{user.token_version}"
    return salted_hmac(USER_TOKEN_SALT, value, algorithm="sha256").hexdigest()[:32]


class UserTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request):
        token = bearer_token(request)
        if token is None:
            return None
        try:
            payload = signing.loads(
                token, salt=USER_TOKEN_SALT, max_age=settings.USER_TOKEN_MAX_AGE
            )
        except signing.BadSignature:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN) from None
        user = get_user_model().objects.filter(pk=payload.get("uid"), is_active=True).first()
        binding = str(payload.get("b", ""))
        if user is None or not constant_time_compare(binding, _token_binding(user)):
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        return user, APP

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class AppSessionAuthentication(authentication.SessionAuthentication):
    """Our own pages, signed in with a session cookie; CSRF is enforced."""

    def authenticate(self, request: Request):
        result = super().authenticate(request)
        if result is None:
            return None
        return result[0], APP


def client_ip(request) -> str:
    """The caller's IP; X-Forwarded-For is believed only from trusted proxies."""
    remote = request.META.get("REMOTE_ADDR", "")
    nearest = _ip(remote)
    if nearest is None:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    # Walk back from the nearest hop while it is a proxy of ours: it names the next one.
    # A hop that is no address ends the walk: nothing it reports can be believed.
    for hop in reversed(hops):
        if not _is_trusted_proxy(nearest):
            break
        reported = _ip(hop)
        if reported is None:
            break
        nearest = reported
    return str(nearest)


def network_of(ip: str) -> str:
    """An IPv4 address as it is; an IPv6 one as its network (a /64 by default).

    One IPv6 subscriber gets a whole /64 (often a /56 or /48): counting single
    addresses would give each of them 2**64 allowances.
    """
    address = _ip(ip)
    if address is None or address.version == 4:
        return ip
    prefix = f"{address.exploded.split('%')[0]}/{settings.IPV6_PREFIX_LENGTH}"
    return str(ipaddress.ip_network(prefix, strict=False).network_address)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``text`` holds (IPv4-mapped IPv6 as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted_proxy(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(ip in network for network in settings.TRUSTED_PROXY_NETWORKS)
