"""The admin shows billing state; what the application writes can't be edited there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.tests.helpers import account_for

pytestmark = pytest.mark.django_db

MODELS = [
    "plan",
    "creditaccount",
    "creditgrant",
    "billingperiod",
    "charge",
    "anonymoususage",
    "creditpack",
    "subscription",
    "stripeevent",
]


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", MODELS)
def test_every_billing_list_renders(operator, alice, model):
    account_for(alice)
    assert operator.get(reverse(f"admin:billing_{model}_changelist")).status_code == 200


@pytest.mark.parametrize("model", ["charge", "subscription", "stripeevent", "creditaccount"])
def test_rows_the_application_writes_cannot_be_added_by_hand(operator, model):
    assert operator.get(reverse(f"admin:billing_{model}_add")).status_code == 403


def test_a_ledger_row_is_shown_read_only(operator, rmbg, small_car_jpeg, alice_key):
    from billing.models import Charge

    rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    charge = Charge.objects.get()
    page = operator.get(reverse("admin:billing_charge_change", args=[charge.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    response = operator.post(
        reverse("admin:billing_charge_change", args=[charge.pk]), {"status": "reserved"}
    )
    assert response.status_code == 403
    assert Charge.objects.get().status == "committed"
