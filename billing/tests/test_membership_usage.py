"""GET /api/membership-usage, every query mode, as rembg.com documents it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.authentication import issue_user_token
from billing.credits import grant_prepaid
from billing.periods import month_bounds
from billing.tests.helpers import account_for, past_charge, put_on_plan, record_period

pytestmark = pytest.mark.django_db


@pytest.fixture
def get(client, alice_key):
    def call(**params):
        return client.get("/api/membership-usage", params, headers={"x-api-key": alice_key})

    return call


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def test_it_needs_an_api_key(client, alice):
    assert client.get("/api/membership-usage").status_code == 401
    token = issue_user_token(alice)
    response = client.get("/api/membership-usage", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    client.force_login(alice)
    assert client.get("/api/membership-usage").status_code == 401


def test_it_reports_plan_credits_and_this_months_usage(get, alice):
    put_on_plan(alice, included=20000, label="Premium-20000")
    grant_prepaid(alice, 500, "pack")
    now = timezone.now()
    start, _ = month_bounds(now)
    for _ in range(2):
        past_charge(alice, "app", now, start)
    for _ in range(3):
        past_charge(alice, "api", now, start)
    past_charge(alice, "api", start - timedelta(days=3), start - timedelta(days=31))  # last month

    assert get().json() == {
        "membership": "Premium-20000",
        "credits": 20000,
        "prepaidCredits": 500,
        "app_usage": 2,
        "api_usage": 3,
    }


def test_year_and_month_pick_a_calendar_month(get, alice):
    when = datetime(2025, 3, 14, 12, tzinfo=UTC)
    past_charge(alice, "api", when, datetime(2025, 3, 1, tzinfo=UTC))
    past_charge(alice, "app", datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    body = get(year=2025, month=3).json()
    assert (body["app_usage"], body["api_usage"]) == (0, 1)
    body = get(year=2025, month=4).json()
    assert (body["app_usage"], body["api_usage"]) == (1, 0)


def test_period_start_picks_a_billing_periods_cycle_counters(get, alice):
    start = datetime(2025, 1, 15, tzinfo=UTC)
    record_period(alice, start, start + timedelta(days=30), stripe=True)
    past_charge(alice, "api", start + timedelta(days=20), start)  # in February's calendar month
    past_charge(alice, "app", start + timedelta(days=1), start)
    body = get(periodStartUnix=ts(start), expand="billing_cycle").json()
    assert (body["app_usage"], body["api_usage"]) == (1, 1)
    cycle = body["billingCycle"]
    assert cycle["periodStartUnix"] == ts(start)
    assert (cycle["appUsage"], cycle["apiUsage"]) == (1, 1)
    assert cycle["stripeBillingSynced"] is True


def test_period_start_with_year_or_month_is_a_400(get):
    for params in ({"year": 2025}, {"month": 3}):
        response = get(periodStartUnix=1735689600, **params)
        assert response.status_code == 400
        assert response.json() == {
            "error": "'periodStartUnix' cannot be combined with 'year' or 'month'",
            "field": "periodStartUnix",
            "status": 400,
        }


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"year": "0"}, "year", "'year' must be between 1 and 9998, got: 0"),
        # December 9999 ends in year 10000, past what the server can represent.
        ({"year": "9999", "month": "1"}, "year", "'year' must be between 1 and 9998, got: 9999"),
        (
            {"periodStartUnix": "253402300799", "expand": "billing_cycle"},
            "periodStartUnix",
            "'periodStartUnix' must be between 0 and 253370764799, got: 253402300799",
        ),
        ({"year": "twenty"}, "year", "'year' must be an integer, got: 'twenty'"),
        # Only ASCII digits: int() would read these as 2025, 3 and 1735689600.
        (
            {"year": "\u0662\u0660\u0662\u0665"},
            "year",
            "'year' must be an integer, got: '\u0662\u0660\u0662\u0665'",
        ),
        ({"month": "\uff13"}, "month", "'month' must be an integer, got: '\uff13'"),
        (
            {"periodStartUnix": "1_735_689_600"},
            "periodStartUnix",
            "'periodStartUnix' must be an integer, got: '1_735_689_600'",
        ),
        # An empty value is not absent: the spec could not say so.
        ({"year": ""}, "year", "'year' must be an integer, got: ''"),
        (
            {"includeBillingCycle": ""},
            "includeBillingCycle",
            "'includeBillingCycle' must be 1, true, 0 or false, got: ''",
        ),
        ({"month": "13"}, "month", "'month' must be between 1 and 12, got: 13"),
        ({"month": "0"}, "month", "'month' must be between 1 and 12, got: 0"),
        (
            {"periodStartUnix": "soon"},
            "periodStartUnix",
            "'periodStartUnix' must be an integer, got: 'soon'",
        ),
        (
            {"listBillingCycles": "maybe"},
            "listBillingCycles",
            "'listBillingCycles' must be 1, true, 0 or false, got: 'maybe'",
        ),
        (
            {"includeBillingCycle": "maybe"},
            "includeBillingCycle",
            "'includeBillingCycle' must be 1, true, 0 or false, got: 'maybe'",
        ),
    ],
)
def test_bad_values_are_a_400(get, params, field, message):
    response = get(**params)
    assert response.status_code == 400
    assert response.json() == {"error": message, "field": field, "status": 400}


@pytest.mark.parametrize(
    "params",
    [
        {"year": "9998", "month": "12"},
        {"year": "1", "month": "1", "expand": "billing_cycle"},
        {"periodStartUnix": "253370764799", "expand": "billing_cycle"},
        {"periodStartUnix": "0", "expand": "billing_cycle"},
    ],
)
def test_the_first_and_last_accepted_periods_are_reported(get, params):
    response = get(**params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["app_usage"], body["api_usage"]) == (0, 0)


def test_year_9999_december_is_a_400_not_a_crash(get):
    response = get(year="9999", month="12")
    assert response.status_code == 400
    assert response.json() == {
        "error": "'year' must be between 1 and 9998, got: 9999",
        "field": "year",
        "status": 400,
    }


@pytest.mark.parametrize("expand", ["foo,billing_cycle", "billing_cycle,foo", " billing_cycle ,"])
def test_expand_is_a_list_of_flags_and_unknown_ones_are_ignored(get, expand):
    response = get(expand=expand)
    assert response.status_code == 200, response.content
    assert "billingCycle" in response.json()


def test_an_unknown_expand_flag_alone_adds_nothing(get):
    response = get(expand="everything")
    assert response.status_code == 200, response.content
    assert "billingCycle" not in response.json()


def test_several_bad_values_are_reported_together(get):
    body = get(year="x", month="99").json()
    assert body["error"] == "Multiple validation errors"
    assert [d["field"] for d in body["details"]] == ["year", "month"]


@pytest.mark.parametrize(
    "params",
    [{"expand": "billing_cycle"}, {"includeBillingCycle": "1"}, {"includeBillingCycle": "true"}],
)
def test_the_billing_cycle_is_added_on_request(get, alice, params):
    put_on_plan(alice, included=10)
    account = account_for(alice)
    for _ in range(3):
        past_charge(alice, "api", timezone.now(), account.period_start)
    past_charge(alice, "app", timezone.now(), account.period_start)
    cycle = get(**params).json()["billingCycle"]
    assert cycle == {
        "periodStartUnix": ts(account.period_start),
        "periodEndUnix": ts(account.period_end),
        "appUsage": 1,
        "apiUsage": 3,
        "includedCredits": 10,
        "prepaidCredits": 0,
        "usedIncludedCredits": 4,
        "remainingIncludedCredits": 6,
        "stripeBillingSynced": False,
    }


def test_without_a_recorded_period_the_cycle_is_the_utc_month(get):
    start, end = month_bounds(timezone.now())
    cycle = get(expand="billing_cycle").json()["billingCycle"]
    assert (cycle["periodStartUnix"], cycle["periodEndUnix"]) == (ts(start), ts(end))


def test_remaining_included_credits_never_go_negative(get, alice):
    put_on_plan(alice, included=2)
    start = account_for(alice).period_start
    for _ in range(5):
        past_charge(alice, "api", timezone.now(), start)
    cycle = get(includeBillingCycle="true").json()["billingCycle"]
    assert (cycle["usedIncludedCredits"], cycle["remainingIncludedCredits"]) == (5, 0)


def test_the_billing_cycle_is_absent_unless_asked_for(get):
    assert "billingCycle" not in get().json()
    assert "billingCycle" not in get(includeBillingCycle="0").json()


def test_list_billing_cycles_returns_only_the_cycles_newest_first(get, alice):
    now = timezone.now()
    first = now - timedelta(days=70)
    second = now - timedelta(days=40)
    current = now - timedelta(days=10)
    current_end = now + timedelta(days=20)
    record_period(alice, first, second, stripe=True)
    record_period(alice, second, current, stripe=True)
    record_period(alice, current, current_end, stripe=True)
    past_charge(alice, "api", first + timedelta(days=1), first)
    past_charge(alice, "app", second + timedelta(days=1), second)
    past_charge(alice, "api", current + timedelta(days=1), current)
    past_charge(alice, "api", current + timedelta(days=2), current)

    # Other parameters, even invalid ones, are ignored.
    body = get(listBillingCycles="true", year="nonsense", expand="x").json()
    assert body == {
        "billingCycles": [
            {
                "periodStartUnix": ts(current),
                "periodEndUnix": ts(current_end),
                "appUsage": 0,
                "apiUsage": 2,
            },
            {
                "periodStartUnix": ts(second),
                "periodEndUnix": ts(current) - 1,
                "appUsage": 1,
                "apiUsage": 0,
            },
            {
                "periodStartUnix": ts(first),
                "periodEndUnix": ts(second) - 1,
                "appUsage": 0,
                "apiUsage": 1,
            },
        ]
    }
    assert get(listBillingCycles="1").json() == body


def test_a_new_period_resets_usage_and_keeps_the_old_one_reportable(
    rmbg, small_car_jpeg, get, alice, alice_key
):
    put_on_plan(alice, included=2)
    old_start = datetime(2020, 1, 1, tzinfo=UTC)
    account = account_for(alice)
    account.period_start, account.period_end = old_start, datetime(2020, 2, 1, tzinfo=UTC)
    account.included_used = 2
    account.save()
    for _ in range(2):
        past_charge(alice, "api", old_start + timedelta(days=1), old_start)

    # The old period is used up, but it is over: the request starts a new period.
    response = rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert response.status_code == 200
    account.refresh_from_db()
    assert account.period_start == month_bounds(timezone.now())[0]
    assert account.included_used == 1

    cycles = get(listBillingCycles="true").json()["billingCycles"]
    assert [(c["periodStartUnix"], c["apiUsage"]) for c in cycles] == [
        (ts(account.period_start), 1),
        (ts(old_start), 2),
    ]
    old = get(periodStartUnix=ts(old_start), expand="billing_cycle").json()
    assert old["api_usage"] == 2
    assert old["billingCycle"]["periodEndUnix"] == ts(account.period_start) - 1


def test_the_commands_set_a_plan_and_grant_prepaid_credits(get, alice):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("set_plan", "--email", alice.email, "--plan", "premium-20000", stdout=out)
    call_command("grant_credits", "--email", alice.email, "--prepaid", "250", stdout=out)
    call_command("grant_credits", "--email", alice.email, "--prepaid", "50", stdout=out)
    body = get().json()
    assert (body["membership"], body["credits"], body["prepaidCredits"]) == (
        "Premium-20000",
        20000,
        300,
    )
    assert alice.credit_grants.count() == 2
