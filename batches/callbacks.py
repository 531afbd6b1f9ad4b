"""Batch callbacks: a signed POST to the user's URL when a batch ends.

The signature is Stripe's scheme: header ``Cutout-Signature: t=<unix time>,v1=<hex>``
where v1 is HMAC-SHA256 of ``"<t>.<body>"`` under the user's callback secret
(GET /api/batches/callback-secret). A receiver recomputes it and refuses a
timestamp too old, which stops replays.

Targets on private, loopback, link-local and other non-public addresses are
refused, both when the batch is made and when the callback is sent (a name may
resolve elsewhere later), unless BATCH_CALLBACK_ALLOW_PRIVATE is set. The
request goes to the address that was checked, not to a second lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.utils import timezone

from config.errors import ApiError

HEADER = "Cutout-Signature"


class Refused(Exception):
    """The URL may not be called; the message says why."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def check(url: str) -> str:
    """The callback URL of a new batch, or a 400 naming the problem."""
    try:
        resolve(url)
    except Refused as exc:
        raise ApiError(f"Invalid callback_url: {exc}", field="callback_url") from None
    return url


def resolve(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to); Refused if the URL may not be called."""
    if len(url) > 2000:
        raise Refused("it is longer than 2000 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("it must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise Refused("it must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("its port is not a number from 1 to 65535") from None
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(f"the host '{parts.hostname}' could not be resolved") from None
    addresses = [ipaddress.ip_address(entry[4][0].split("%")[0]) for entry in found]
    if not settings.BATCH_CALLBACK_ALLOW_PRIVATE:
        for address in addresses:
            if not address.is_global or address.is_multicast:
                raise Refused(f"the host '{parts.hostname}' is not a public address")
    return parts.scheme, parts.hostname, port, str(addresses[0])


@dataclass(frozen=True)
class Outcome:
    status: str
    delivered_at: datetime | None


def body_of(batch) -> bytes:
    from batches.presentation import summary

    return json.dumps({"type": "batch.ended", "batch": summary(batch)}, sort_keys=True).encode()


def deliver(batch) -> Outcome:
    from batches.models import CallbackSecret

    try:
        scheme, host, port, address = resolve(batch.callback_url)
    except Refused as exc:
        return Outcome(f"refused: {exc}", None)
    body = body_of(batch)
    secret = CallbackSecret.objects.for_user(batch.user).secret
    parts = urlsplit(batch.callback_url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if scheme == "https" else 80
    headers = {
        "Host": host if port == default_port else f"{host}:{port}",
        "Content-Type": "application/json",
        "User-Agent": "Cutout-Callback/1",
        HEADER: sign(secret, int(time.time()), body),
    }
    timeout = urllib3.Timeout(total=settings.BATCH_CALLBACK_TIMEOUT)
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            server_hostname=host,
            assert_hostname=host,
            timeout=timeout,
            retries=False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    try:
        with pool:
            response = pool.urlopen(
                "POST", target, body=body, headers=headers, redirect=False, preload_content=True
            )
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(f"error: {type(exc).__name__}", None)
    if 200 <= response.status < 300:
        return Outcome(f"HTTP {response.status}", timezone.now())
    return Outcome(f"HTTP {response.status}", None)
