"""The OpenAPI spec describes /rmbg fully, validates, and the reference is served locally."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from drf_spectacular.validation import validate_schema


@pytest.fixture(scope="module")
def spec(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/openapi", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def test_the_spec_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    validate_schema(spec)


def test_the_spec_command_validates_without_warnings():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_rmbg_documents_every_field_with_its_default(spec):
    operation = spec["paths"]["/rmbg"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    fields = spec["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    properties = fields["properties"]
    assert set(properties) == {
        "image",
        "format",
        "mask",
        "bg_color",
        "w",
        "h",
        "exact_resize",
        "angle",
        "expand",
        "model",
        "return_base64",
    }
    assert fields["required"] == ["image"]
    assert properties["image"]["format"] == "binary"
    assert properties["format"]["default"] == "WEBP"
    assert properties["expand"]["default"] == "true"
    assert "counter-clockwise" in properties["angle"]["description"]


def test_rmbg_documents_each_response(spec):
    responses = spec["paths"]["/rmbg"]["post"]["responses"]
    assert set(responses["200"]["content"]) == {
        "image/webp",
        "image/png",
        "image/jpeg",
        "image/bmp",
        "application/json",
    }
    examples = responses["400"]["content"]["application/json"]["examples"]
    assert any(e["value"]["error"] == "Multiple validation errors" for e in examples.values())
    assert "503" in responses


def test_the_interactive_reference_uses_only_local_assets(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    # What the page loads (scripts, styles, images), not the site header's links.
    assets = re.findall(r'<(?:script|link|img)\b[^>]*?(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert not asset.startswith(("http:", "https:", "//")), asset
        assert client.get(asset).status_code == 200, asset
    # The start-up script, a file of its own for the CSP, loads our schema.
    assert "/api/openapi" in client.get("/api/docs/?script=").content.decode()


def test_membership_usage_documents_its_parameters_and_examples(spec):
    operation = spec["paths"]["/api/membership-usage"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"year", "month", "periodStartUnix", "expand", "includeBillingCycle"} <= names
    assert "listBillingCycles" in names
    examples = operation["responses"]["200"]["content"]["application/json"]["examples"]
    assert any("billingCycles" in e["value"] for e in examples.values())
    assert operation["security"] == [{"ApiKey": []}]


def test_rmbg_documents_limits_and_authentication_errors(spec):
    responses = spec["paths"]["/rmbg"]["post"]["responses"]
    assert {"401", "403", "409", "429"} <= set(responses)
    limits = responses["429"]["content"]["application/json"]["examples"]
    messages = {e["value"]["error"] for e in limits.values()}
    assert "You've reached your daily limit. Please sign up for more access." in messages
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": schemes["ApiKey"]["description"],
    }


def test_try_it_out_prefills_only_values_the_api_accepts(spec, rmbg, small_car_jpeg):
    # Swagger UI fills a form field with its example or default, else with "string".
    operation = spec["paths"]["/rmbg"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    properties = spec["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]["properties"]
    prefilled = {}
    for name, field in properties.items():
        if name == "image":
            continue
        value = field.get("example", field.get("default"))
        assert value is not None, f"{name} would be pre-filled with 'string'"
        prefilled[name] = value
    response = rmbg(small_car_jpeg, **prefilled)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/webp"


def test_the_model_field_lists_the_installed_models(client, db, settings, tmp_path):
    def model_field():
        spec = client.get("/api/openapi", HTTP_ACCEPT="application/json").json()
        form = spec["components"]["schemas"]["RemovalFormRequest"]
        return form["properties"]["model"]

    settings.REMOVAL_MODEL_DIR = str(tmp_path)
    assert model_field()["enum"] == ["u2netp"]
    (tmp_path / "isnet-imgly-medium-fp32.onnx").write_bytes(b"")  # installed
    settings.REMOVAL_DEFAULT_MODEL = "isnet"
    field = model_field()
    assert (field["enum"], field["default"]) == (["isnet", "u2netp"], "isnet")
    assert "x-installed-models" not in field
