"""deploy/ as an operator installs it: the files agree with each other and nginx accepts them."""

from __future__ import annotations

import configparser
import shlex
import subprocess

from tests.multihost.hosts import DEPLOY, nginx_binary, procfile

UNITS = {"web": "cutout-web", "worker": "cutout-worker", "beat": "cutout-beat"}
VENV_BIN = "/srv/cutout/.venv/bin/"


def unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(DEPLOY / "systemd" / f"{name}.service")
    return parser["Service"]


def test_the_systemd_units_run_the_procfile_commands():
    commands = procfile()
    assert set(commands) == set(UNITS)
    for process, name in UNITS.items():
        service = unit(name)
        assert service["EnvironmentFile"] == "/etc/cutout/cutout.env"
        assert service["WorkingDirectory"] == "/srv/cutout"
        executable, *arguments = shlex.split(service["ExecStart"])
        assert executable.startswith(VENV_BIN)
        ran = [executable.removeprefix(VENV_BIN), *arguments]
        # The unit may add options (beat's schedule file), never change the command.
        expected = shlex.split(commands[process])
        assert ran[: len(expected)] == expected, name


def test_nginx_accepts_the_site_as_shipped(tmp_path):
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nevents {{}}\n"
        f"http {{ include {DEPLOY / 'nginx' / 'cutout.conf'}; }}\n"
    )
    checked = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log")]
        + ["-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
