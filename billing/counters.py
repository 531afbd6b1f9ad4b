"""The one module that talks to Redis for usage counters and billing periods.

Redis mirrors the ledger for fast reads, under the key names rembg.com documents:

    user:{uid}:app_usage:{year}:{month}        user:{uid}:api_usage:{year}:{month}
    user:{uid}:app_usage:cycle:{periodStart}   user:{uid}:api_usage:cycle:{periodStart}
    user:{uid}:billing_period_start / _end

The database is the truth. A counter is only ever incremented when it already
exists (a Lua script, atomic); a missing counter is rebuilt from the ledger
while the account row is locked, so a flush can never lose or double a charge.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis
from django.conf import settings

from config.once import PerProcess

logger = logging.getLogger(__name__)

# Errors that mean "Redis is not there right now".
RedisUnavailable = (redis.RedisError, OSError)

_INCR_EXISTING = """
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCR', key) end
end
return 1
"""


@PerProcess
def client() -> redis.Redis:
    """Redis at REDIS_URL, or the in-process store of the embedded defaults."""
    if settings.REDIS_URL:
        return redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=settings.REDIS_TIMEOUT,
            socket_connect_timeout=settings.REDIS_TIMEOUT,
            health_check_interval=30,
        )
    import fakeredis

    return fakeredis.FakeRedis()


def month_key(user_id: int, channel: str, moment: datetime) -> str:
    return f"user:{user_id}:{channel}_usage:{moment.year}:{moment.month}"


def cycle_key(user_id: int, channel: str, period_start: datetime) -> str:
    return f"user:{user_id}:{channel}_usage:cycle:{int(period_start.timestamp())}"


def record_charge(user_id: int, channel: str, charged_at: datetime, period_start: datetime) -> None:
    """Count one committed charge in the counters that exist (raises when Redis is down)."""
    keys = [month_key(user_id, channel, charged_at), cycle_key(user_id, channel, period_start)]
    client().eval(_INCR_EXISTING, len(keys), *keys)


def read(keys: list[str]) -> list[int | None]:
    values = client().mget(keys)
    return [None if v is None else int(v) for v in values]


def store(values: dict[str, int]) -> None:
    client().mset({key: str(value) for key, value in values.items()})


def forget_user(user_id: int) -> None:
    """Drop every usage counter of a user, so all are rebuilt from the ledger."""
    redis_client = client()
    keys = list(redis_client.scan_iter(match=f"user:{user_id}:*_usage:*", count=500))
    if keys:
        redis_client.delete(*keys)


def mirror_period(user_id: int, start: datetime, end: datetime) -> None:
    client().mset(
        {
            f"user:{user_id}:billing_period_start": str(int(start.timestamp())),
            f"user:{user_id}:billing_period_end": str(int(end.timestamp())),
        }
    )
