"""Reservations in flight: held until settled, recounted from the ledger, never leaked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing import credits, periods
from billing.credits import MONTHLY_LIMIT, stale_after
from billing.models import AnonymousUsage, Charge
from billing.tests.helpers import account_for, committed, now, put_on_plan, record_period
from config.errors import ApiError

# Transactional: reserve() outside a transaction takes its one-statement path.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


def reserve(user, **options):
    return credits.reserve(user, Charge.API, ip="127.0.0.1", **options)


def refused(user) -> bool:
    try:
        reserve(user)
    except ApiError as error:
        assert (error.status_code, error.message) == (429, MONTHLY_LIMIT)
        return True
    return False


def in_flight(user) -> tuple[int, int]:
    account = account_for(user)
    return account.reserved_included, account.reserved_prepaid


def age(reservation, by: timedelta) -> None:
    Charge.objects.filter(pk=reservation.charge_id).update(reserved_at=now() - by)


def statements(captured) -> list[str]:
    """The verbs of the data statements sent (not BEGIN, COMMIT or SAVEPOINT)."""
    verbs = [query["sql"].split()[0].upper() for query in captured]
    return [verb for verb in verbs if verb in ("WITH", "SELECT", "INSERT", "UPDATE", "DELETE")]


def test_reserving_is_one_statement_and_settling_two(alice):
    put_on_plan(alice, included=1, prepaid=1)
    if connection.vendor == "postgresql":  # take and record at once, outside a transaction
        expected = {Charge.INCLUDED: ["WITH"], Charge.PREPAID: ["WITH", "WITH"]}
    else:
        expected = {
            Charge.INCLUDED: ["UPDATE", "INSERT"],
            Charge.PREPAID: ["UPDATE", "UPDATE", "INSERT"],
        }
    for source in (Charge.INCLUDED, Charge.PREPAID):
        with CaptureQueriesContext(connection) as reserving:
            reservation = reserve(alice)
        assert reservation.source == source
        assert statements(reserving) == expected[source]
        with CaptureQueriesContext(connection) as settling:
            credits.commit(reservation)
        assert statements(settling) == ["UPDATE", "UPDATE"]


def test_a_reservation_holds_its_credit_until_it_is_released(alice):
    put_on_plan(alice, included=1)
    first = reserve(alice)
    assert in_flight(alice) == (1, 0)
    assert refused(alice)

    credits.release(first)
    assert in_flight(alice) == (0, 0)
    assert Charge.objects.count() == 0
    second = reserve(alice)
    credits.commit(second)
    assert (committed(alice), in_flight(alice)) == (1, (0, 0))


def test_settling_returns_each_credit_to_the_source_it_was_taken_from(alice):
    put_on_plan(alice, included=1, prepaid=1)
    included, prepaid = reserve(alice), reserve(alice)
    assert (included.source, prepaid.source) == (Charge.INCLUDED, Charge.PREPAID)
    assert in_flight(alice) == (1, 1)

    credits.commit(prepaid)
    credits.release(included)
    account = account_for(alice)
    assert (account.reserved_included, account.reserved_prepaid) == (0, 0)
    assert (account.included_used, account.prepaid_balance) == (0, 0)
    # The released included credit is free again; nothing else is.
    assert reserve(alice).source == Charge.INCLUDED
    assert refused(alice)


def test_a_reservation_of_a_request_that_died_stops_counting_after_the_window(alice):
    put_on_plan(alice, included=1)
    dead = reserve(alice)
    age(dead, stale_after() - timedelta(seconds=30))
    assert refused(alice)  # still young enough to be running

    age(dead, stale_after() + timedelta(seconds=1))
    alive = reserve(alice)
    assert not Charge.objects.filter(pk=dead.charge_id).exists()
    assert in_flight(alice) == (1, 0)
    credits.commit(alive)
    assert committed(alice) == 1


def dead_then_alive(user):
    """A reservation whose request died, and the one that took its only credit after."""
    put_on_plan(user, included=1)
    dead = reserve(user)
    age(dead, stale_after() + timedelta(seconds=1))
    return dead, reserve(user)  # recounts: the dead one is dropped


def test_committing_a_reservation_that_was_dropped_as_dead_changes_nothing(alice):
    dead, alive = dead_then_alive(alice)

    with pytest.raises(RuntimeError, match="vanished"):
        credits.commit(dead)
    account = account_for(alice)
    assert (account.included_used, account.reserved_included) == (0, 1)
    credits.commit(alive)
    assert committed(alice) == 1


def test_releasing_a_reservation_that_was_dropped_as_dead_changes_nothing(alice):
    dead, alive = dead_then_alive(alice)

    credits.release(dead)
    assert in_flight(alice) == (1, 0)
    assert Charge.objects.filter(pk=alive.charge_id).exists()


def test_a_reservation_from_before_a_new_period_is_charged_to_its_own_period(alice):
    put_on_plan(alice, included=5)
    earlier = reserve(alice)
    start = now()
    record_period(alice, start, start + timedelta(days=30), stripe=True)
    with transaction.atomic():
        periods.roll(credits.locked_account(alice, start), start, force=True)

    credits.commit(earlier)
    charge = Charge.objects.get(pk=earlier.charge_id)
    assert charge.period_start == earlier.period_start != start
    account = account_for(alice)
    assert account.period_start == start
    assert (account.included_used, account.reserved_included) == (0, 0)


def test_drifted_in_flight_counts_are_repaired_from_the_ledger_before_a_refusal(alice):
    put_on_plan(alice, included=3)
    account = account_for(alice)
    account.reserved_included = 3  # as a restored backup or a hand edit could leave it
    account.save(update_fields=["reserved_included"])

    reservation = reserve(alice)
    assert reservation.source == Charge.INCLUDED
    assert in_flight(alice) == (1, 0)


def test_the_first_anonymous_requests_of_a_day_arriving_together_all_get_in(settings, together):
    settings.ANONYMOUS_DAILY_LIMIT = 100
    threads = 6

    def visit(ip: str) -> bool:
        try:
            credits.reserve(None, Charge.APP, ip=ip)
            return True
        except ApiError:
            return False

    for visitor in range(15):
        ip = f"203.0.113.{visitor}"
        admitted = together(visit, [ip] * threads)
        assert admitted == [True] * threads
        assert AnonymousUsage.objects.get(ip=ip).used == threads


def test_a_retry_after_the_first_attempt_died_takes_the_credit_it_held(alice):
    put_on_plan(alice, included=1)
    dead = reserve(alice, idempotency_key="retry-1")
    age(dead, stale_after() + timedelta(seconds=1))

    retry = reserve(alice, idempotency_key="retry-1")
    assert not Charge.objects.filter(pk=dead.charge_id).exists()
    assert in_flight(alice) == (1, 0)
    credits.commit(retry)
    assert Charge.objects.get(idempotency_key="retry-1").status == Charge.COMMITTED
