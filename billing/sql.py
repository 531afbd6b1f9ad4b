"""The SQL of the metering hot path (billing.credits), portable to PostgreSQL and SQLite.

Every API request runs these statements, and building them with the ORM would
triple the time metering adds to a request (benchmarks/bench_metering.py).
Taking a credit is one conditional UPDATE of the account row: the database checks
the balance and counts the reservation in one atomic step, and concurrent requests
queue on the row lock. Only table names and model constants are interpolated;
every value is a query parameter.
"""

# ruff: noqa: S608 - the f-strings interpolate table names and constants, never input

from billing.models import Charge, CreditAccount, Plan

ACCOUNT = CreditAccount._meta.db_table
PLAN = Plan._meta.db_table
CHARGE = Charge._meta.db_table
CHARGE_COLUMNS = (
    "user_id, status, source, channel, period_start, reserved_at, api_key_id, idempotency_key, "
    "request_fingerprint"
)


def _take(source: str) -> str:
    """Count a reservation if ``source`` has a credit left (params: user, now, now)."""
    if source == Charge.INCLUDED:
        available = f"""included_used + reserved_included
            < (SELECT included_credits FROM {PLAN} WHERE {PLAN}.id = {ACCOUNT}.plan_id)"""
    else:
        available = "prepaid_balance > reserved_prepaid"
    return f"""
        UPDATE {ACCOUNT} SET reserved_{source} = reserved_{source} + 1
        WHERE user_id = %s AND period_start <= %s AND period_end > %s AND {available}
        RETURNING user_id, period_start"""


SOURCES = (Charge.INCLUDED, Charge.PREPAID)  # the order credits are spent in
# Params: user, channel, period start, now, API key, idempotency key, request fingerprint.
TAKE = {source: _take(source) for source in SOURCES}
RECORD = {
    source: f"""
        INSERT INTO {CHARGE} ({CHARGE_COLUMNS})
        VALUES (%s, '{Charge.RESERVED}', '{source}', %s, %s, %s, %s, %s, %s)
        RETURNING id"""
    for source in SOURCES
}
# Outside a transaction, PostgreSQL takes and records in one statement (params: user,
# now, now, channel, now, API key, idempotency key, request fingerprint): atomic on
# its own, so there are no BEGIN/COMMIT round trips. Its commit skips the wait for the WAL flush: a
# reservation lost in a database crash is a released one. Settling, which records
# the money, stays durable.
TAKE_AND_RECORD = {
    source: f"""
        WITH taken AS ({_take(source)}),
             no_flush_wait AS (SELECT set_config('synchronous_commit', 'off', true))
        INSERT INTO {CHARGE} ({CHARGE_COLUMNS})
        SELECT user_id, '{Charge.RESERVED}', '{source}', %s, period_start, %s, %s, %s, %s
        FROM taken, no_flush_wait
        RETURNING id, period_start"""
    for source in SOURCES
}


def _decrement(column: str) -> str:
    return f"{column} = CASE WHEN {column} > 0 THEN {column} - 1 ELSE 0 END"


# Settling a reservation touches the account first: its row lock orders the
# settlement with recounts and counter rebuilds, which take the same lock. An
# included credit counts in its own period only (params: its period start, user).
SETTLE = {
    Charge.INCLUDED: f"""
        UPDATE {ACCOUNT} SET {_decrement("reserved_included")},
            included_used = included_used + CASE WHEN period_start = %s THEN 1 ELSE 0 END
        WHERE user_id = %s""",
    Charge.PREPAID: f"""
        UPDATE {ACCOUNT} SET {_decrement("reserved_prepaid")}, {_decrement("prepaid_balance")}
        WHERE user_id = %s""",
}
UNRESERVE = {
    Charge.INCLUDED: f"UPDATE {ACCOUNT} SET {_decrement('reserved_included')} WHERE user_id = %s",
    Charge.PREPAID: f"UPDATE {ACCOUNT} SET {_decrement('reserved_prepaid')} WHERE user_id = %s",
}
COMMIT_CHARGE = f"""
    UPDATE {CHARGE} SET status = '{Charge.COMMITTED}', charged_at = %s
    WHERE id = %s AND status = '{Charge.RESERVED}'"""
DELETE_RESERVATION = f"DELETE FROM {CHARGE} WHERE id = %s AND status = '{Charge.RESERVED}'"
