"""A client generated from our spec by openapi-python-client works against the server."""

from __future__ import annotations

import base64
import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image

from billing.credits import grant_prepaid

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cutout_client(live_server, tmp_path, monkeypatch):
    """The package openapi-python-client generates from /api/openapi, imported."""
    spec = requests.get(
        f"{live_server.url}/api/openapi", headers={"Accept": "application/json"}, timeout=30
    )
    assert spec.status_code == 200
    (tmp_path / "openapi.json").write_bytes(spec.content)
    # No formatting hooks: the generator would look for ruff on PATH.
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(tmp_path / "openapi.json"),
            "--output-path",
            str(tmp_path / "cutout_client"),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.yaml"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.split(".")[0] == "cutout_client"]:
        del sys.modules[name]
    return importlib.import_module("cutout_client")


def api(cutout_client, module: str):
    return importlib.import_module(f"cutout_client.api.{module}")


def test_the_generated_client_reads_membership_usage(cutout_client, live_server, alice, alice_key):
    usage = api(cutout_client, "account.membership_usage")
    # Closed at the end: a kept-alive connection would keep a server thread in the database.
    with cutout_client.AuthenticatedClient(
        base_url=live_server.url, token=alice_key, auth_header_name="x-api-key", prefix=""
    ) as client:
        check_usage(usage, client)


def check_usage(usage, client) -> None:
    from cutout_client.types import Unset

    plain = usage.sync(client=client)  # a KeyError when the spec required billingCycle
    assert (plain.membership, plain.app_usage, plain.api_usage) == ("Free", 0, 0)
    assert isinstance(plain.billing_cycle, Unset)

    expanded = usage.sync(client=client, expand="billing_cycle", year=2025, month=3)
    assert expanded.billing_cycle.included_credits == plain.credits_  # "credits" is taken

    # A flag in any case, as the server reads it: the spec gives a pattern, so a string.
    cycles = usage.sync(client=client, list_billing_cycles="true")
    assert [c.period_start_unix > 0 for c in cycles.billing_cycles] == [True]


def test_the_generated_client_removes_a_background(
    cutout_client, live_server, alice, alice_key, small_car_jpeg
):
    from cutout_client.models import RemovalFormRequest, RemovalJson
    from cutout_client.types import File

    grant_prepaid(alice, 5, "test")
    # The generated client reads the JSON form of the answer, which it asks for.
    remove = api(cutout_client, "background_removal.remove_background")
    body = RemovalFormRequest(
        image=File(payload=io.BytesIO(small_car_jpeg), file_name="car.jpg"), w=80
    )
    body.format_ = type(body.format_).PNG

    with cutout_client.AuthenticatedClient(
        base_url=live_server.url,
        token=alice_key,
        auth_header_name="x-api-key",
        prefix="",
        headers={"Accept": "application/json"},
        timeout=60,
    ) as client:
        result = remove.sync(client=client, body=body)
    assert isinstance(result, RemovalJson), result
    assert (result.format_, result.width, result.height) == ("png", 80, 60)
    image = Image.open(io.BytesIO(base64.b64decode(result.image)))
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (80, 60))
    assert image.getpixel((0, 0))[3] == 0
