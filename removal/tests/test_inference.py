"""The model is loaded once per process, shared by threads, and work is bounded."""

from __future__ import annotations

import importlib
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime
import pytest
from django.test import override_settings
from PIL import Image

from removal import inference, pipeline, registry
from removal.tests.helpers import decode


@pytest.fixture
def fresh_model(monkeypatch):
    """Forget the loaded model (and slots) for the test; restore them after."""
    monkeypatch.setattr(inference.loaded, "value", None)
    monkeypatch.setattr(pipeline.processing_slots, "value", None)


def test_the_bundled_model_is_rembgs_u2netp():
    import hashlib

    path = registry.bundled_u2netp()
    assert path.name == "u2netp.onnx"
    assert hashlib.md5(path.read_bytes()).hexdigest() == "8e83ca70e441ab06c318d82300c84806"  # noqa: S324


def test_the_wsgi_application_loads_the_model_at_start(fresh_model):
    import config.wsgi

    importlib.reload(config.wsgi)
    assert inference.loaded.value


def test_the_model_has_a_solo_session_on_every_core_and_a_shared_one(fresh_model, settings):
    settings.REMOVAL_MAX_CONCURRENCY = 2
    settings.REMOVAL_INTRA_OP_THREADS = 1
    settings.REMOVAL_SOLO_THREADS = 2
    model = inference.get_model()
    assert model.solo is not model.shared
    options = (model.solo.get_session_options(), model.shared.get_session_options())
    assert [o.intra_op_num_threads for o in options] == [2, 1]


def test_a_lone_image_runs_on_the_solo_session_and_overlapping_ones_share(fresh_model, settings):
    settings.REMOVAL_INTRA_OP_THREADS = 1
    settings.REMOVAL_SOLO_THREADS = 2
    model = inference.get_model()
    used = []
    both_running = threading.Barrier(2, timeout=30)

    class Recording:
        def __init__(self, session, name):
            self.session, self.name = session, name

        def run(self, *args):
            used.append(self.name)
            if len(used) <= 2:
                both_running.wait()  # hold the first two runs so they overlap
            return self.session.run(*args)

    model.solo = Recording(model.solo, "solo")
    model.shared = Recording(model.shared, "shared")
    image = Image.new("RGB", (64, 48), "white")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: model.predict(image), range(2)))
    assert used == ["solo", "shared"]
    model.predict(image)
    assert used[-1] == "solo"


def test_requests_never_load_the_model(rmbg, small_car_jpeg, monkeypatch):
    model = inference.get_model()

    def refuse(*args, **kwargs):
        raise AssertionError("a request created an onnxruntime session")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    assert rmbg(small_car_jpeg).status_code == 200
    assert rmbg(small_car_jpeg).status_code == 200
    assert inference.get_model() is model


def test_a_setting_points_to_another_model_file(fresh_model, tmp_path, settings):
    other = tmp_path / "my-model.onnx"
    shutil.copy(registry.bundled_u2netp(), other)
    settings.REMOVAL_MODEL_PATH = str(other)
    model = inference.get_model()
    assert model.path == other
    matte = model.predict(Image.new("RGB", (50, 40), "white"))
    assert matte.size == (50, 40)


def test_a_missing_model_file_fails_loudly(fresh_model, tmp_path, settings):
    settings.REMOVAL_MODEL_PATH = str(tmp_path / "nope.onnx")
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        inference.get_model()


# Requests in other threads use other database connections: commit for real.
@pytest.mark.django_db(transaction=True)
def test_threads_share_one_session_and_get_the_same_answer(rmbg, small_car_jpeg):
    expected = np.asarray(decode(rmbg(small_car_jpeg, mask="true", format="png")))
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(
            pool.map(lambda _: rmbg(small_car_jpeg, mask="true", format="png"), range(4))
        )
    for response in responses:
        assert np.array_equal(np.asarray(decode(response)), expected)


@pytest.mark.django_db(transaction=True)
def test_concurrent_work_is_bounded_by_the_setting(
    fresh_model, rmbg, small_car_jpeg, monkeypatch, together
):
    in_flight = 0
    peak = 0
    lock = threading.Lock()
    render = pipeline._render

    def counting_render(*args, **kwargs):
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        try:
            return render(*args, **kwargs)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(pipeline, "_render", counting_render)
    with override_settings(REMOVAL_MAX_CONCURRENCY=2):
        statuses = together(lambda _: rmbg(small_car_jpeg).status_code, list(range(6)))
    assert statuses == [200] * 6
    assert peak == 2


def test_it_answers_503_when_no_slot_frees_up(fresh_model, rmbg, small_car_jpeg):
    with override_settings(REMOVAL_MAX_CONCURRENCY=1, REMOVAL_QUEUE_TIMEOUT=1):
        slots = pipeline.processing_slots()
        slots.acquire()
        try:
            response = rmbg(small_car_jpeg)
        finally:
            slots.release()
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "error": "The server is busy. Please retry in a few seconds.",
        "status": 503,
    }


def test_light_sessions_share_one_arena_and_isnet_keeps_none(fresh_model, settings):
    settings.REMOVAL_SHARED_ARENA = True
    light = inference.get_model("u2netp")
    for session in (light.solo, light.shared):
        options = session.get_session_options()
        assert options.get_session_config_entry("session.use_env_allocators") == "1"
    if registry.all_models()["isnet"].installed:
        heavy = inference.get_model("isnet")
        assert heavy.solo is heavy.shared  # one session: one image at a time, every core
        assert not heavy.solo.get_session_options().enable_cpu_mem_arena


def test_isnet_runs_one_image_at_a_time(fresh_model):
    if not registry.all_models()["isnet"].installed:
        pytest.skip("isnet is not installed: make install-isnet ACCEPT_LICENSE=agpl-3.0")
    model = inference.get_model("isnet")
    running, most = [0], [0]
    lock = threading.Lock()

    class Counting:
        def __init__(self, session):
            self.session = session

        def run(self, *args):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                return self.session.run(*args)
            finally:
                with lock:
                    running[0] -= 1

    model.solo = model.shared = Counting(model.solo)
    image = Image.new("RGB", (64, 48), "white")
    with ThreadPoolExecutor(max_workers=3) as pool:
        mattes = list(pool.map(lambda _: model.predict(image), range(3)))
    assert most[0] == 1  # each run holds ~0.5 GB: never two at once in one process
    assert all(matte.size == (64, 48) for matte in mattes)
