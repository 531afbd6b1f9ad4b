"""Checking a batch callback: ``Cutout-Signature: t=<unix time>,v1=<hex>``.

v1 is HMAC-SHA256 of ``"<t>.<body>"`` under the account's callback secret
(``Client.callback_secret()``), the scheme Stripe signs its webhooks with. A
timestamp too far from now is refused, so a delivery recorded by someone on the
way cannot be played again later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from cutout_client.errors import InvalidSignature

HEADER = "Cutout-Signature"


def verify_callback(
    secret: str,
    header: str | None,
    body: bytes | str,
    tolerance: float = 300,
    now: float | None = None,
) -> dict[str, Any]:
    """The callback's JSON once its signature holds; InvalidSignature otherwise.

    ``body`` must be the request's raw bytes, as received (not JSON parsed and
    dumped again). ``tolerance``: seconds the signature's time may be from now.
    """
    raw = body.encode() if isinstance(body, str) else bytes(body)
    timestamp, signatures = _parse(header)
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    # As Stripe's header, it may list several v1: one matching is enough.
    if not any(hmac.compare_digest(expected.hexdigest(), given) for given in signatures):
        raise InvalidSignature("the signature does not match the body and the secret")
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance:
        raise InvalidSignature(f"the signature is {age:.0f} s old ({tolerance:g} s allowed)")
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidSignature("the body is not JSON") from None


def _parse(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise InvalidSignature(f"no {HEADER} header")
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.strip())
    if timestamp is None or not signatures:
        raise InvalidSignature(f"malformed {HEADER} header: {header[:100]!r}")
    return timestamp, signatures
