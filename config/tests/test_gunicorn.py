"""config/gunicorn.py restarts the server once with glibc's huge-page tunable set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Loads the settings with gunicorn's own loader, then prints how many times the
# process started (an exec keeps the environment) and the GLIBC_TUNABLES it has.
PROBE = """
import os, sys
os.environ["PROBE_STARTS"] = str(int(os.environ.get("PROBE_STARTS", "0")) + 1)
from gunicorn.app.base import Application
sys.path.insert(0, os.getcwd())
Application.get_config_from_filename(None, "config/gunicorn.py")
print(os.environ["PROBE_STARTS"], os.environ.get("GLIBC_TUNABLES", "-"))
"""


def start(tmp_path, **env) -> str:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    environ = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", *env)}
    environ.update(env)
    result = subprocess.run(
        [sys.executable, str(probe)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_the_master_restarts_once_with_huge_pages(tmp_path):
    assert start(tmp_path) == "2 glibc.malloc.hugetlb=1"


def test_tunables_the_operator_set_are_kept(tmp_path):
    kept = start(tmp_path, GLIBC_TUNABLES="glibc.malloc.arena_max=2")
    assert kept == "2 glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"


@pytest.mark.parametrize(
    "env", [{"REMOVAL_HUGE_PAGES": "false"}, {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"}]
)
def test_an_operator_can_keep_ordinary_pages(tmp_path, env):
    assert start(tmp_path, **env) == "1 " + env.get("GLIBC_TUNABLES", "-")
