"""Data migrations that rewrite balances get the numbers right."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from billing.periods import month_bounds
from billing.tests.helpers import now

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("billing", "0004_seed_credit_packs")]
AFTER = [("billing", "0005_reservations_in_flight")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_0005_counts_included_credits_and_reservations_in_flight():
    apps = migrate(BEFORE)
    try:
        User = apps.get_model("accounts", "User")
        Plan = apps.get_model("billing", "Plan")
        CreditAccount = apps.get_model("billing", "CreditAccount")
        Charge = apps.get_model("billing", "Charge")
        user = User.objects.create(username="alice", email="alice@example.com")
        start, end = month_bounds(now())
        plan = Plan.objects.create(label="Test-10", included_credits=10)
        CreditAccount.objects.create(
            user=user, plan=plan, period_start=start, period_end=end, period_used=4
        )
        rows = [  # (status, source, period start)
            ("committed", "included", start),
            ("committed", "included", start),
            ("committed", "included", start - timedelta(days=31)),  # an earlier period
            ("committed", "prepaid", start),
            ("reserved", "included", start),
            ("reserved", "prepaid", start),
            ("reserved", "prepaid", start),
        ]
        for status, source, period_start in rows:
            Charge.objects.create(
                user=user, status=status, source=source, channel="api", period_start=period_start
            )

        apps = migrate(AFTER)
        account = apps.get_model("billing", "CreditAccount").objects.get(user_id=user.pk)
        assert account.included_used == 2
        assert (account.reserved_included, account.reserved_prepaid) == (1, 2)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
