"""Test hosts: app machines, a worker machine and nginx, each a process tree of its own.

Each host runs what deploy/ ships: its command is a line of deploy/Procfile, and
nginx serves deploy/nginx/cutout.conf with only the app hosts' addresses and its
own listen address filled in. Each app host listens on a loopback address of its
own (127.0.0.2, 127.0.0.3, ...); the test's clients come from another one
(CLIENT), so nothing here looks like a request from the balancer by accident.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
# The public's machine: every request the test makes comes from this address.
CLIENT = "127.0.0.5"
# A gunicorn access-log line (config/gunicorn.py): client "METHOD path proto" status ...
ACCESS_LINE = re.compile(
    r'^(?P<client>\S+) "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) '
)


def procfile() -> dict[str, str]:
    """The process commands an operator runs, by name."""
    lines = (DEPLOY / "Procfile").read_text().splitlines()
    found = (re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line) for line in lines)
    return {match[1]: match[2] for match in found if match}


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


class _FromAddress(HTTPAdapter):
    """Connections from a chosen local address (a client machine of its own)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client() -> requests.Session:
    """A session on the public's machine (one per thread: sessions are not thread-safe)."""
    session = requests.Session()
    session.trust_env = False  # never a proxy from the environment
    adapter = _FromAddress(CLIENT)
    session.mount("http://", adapter)
    return session


@dataclass
class Host:
    """One machine: a command run in a session of its own, its output in ``log``."""

    name: str
    command: str
    env: dict[str, str]
    log: Path
    address: str = ""
    port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            # Through a shell, as honcho and foreman run a Procfile line; exec keeps
            # one process tree whose group is the host.
            self.process = subprocess.Popen(
                ["/bin/sh", "-c", f"exec {self.command}"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_for(self, ready, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited before {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {what} within {timeout} s:\n{self.tail()}")
            time.sleep(0.2)

    def wait_until_ready(self, path: str = "/readyz") -> None:
        session = client()

        def ready() -> bool:
            try:
                status = session.get(f"{self.url}{path}", timeout=5).status_code
            except requests.RequestException:
                return False
            if status == 500:  # broken, not starting: no use waiting
                raise RuntimeError(f"{self.name} answers 500 to {path}:\n{self.tail()}")
            return status == 200

        self.wait_for(ready, f"200 from {path}")

    def kill(self) -> None:
        """SIGKILL the whole process tree: the machine is gone, mid-request or not.

        Returns once every process of it is dead, so its sockets are closed.
        """
        if not self.alive():
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        while self.port and _listening(self.address, self.port) and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def requests_served(self, since: int = 0) -> list[dict[str, str]]:
        """gunicorn's access log from byte ``since`` on: what this host answered."""
        with open(self.log, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return [m.groupdict() for m in map(ACCESS_LINE.match, text.splitlines()) if m]


def _group_alive(group: int) -> bool:
    """Whether a process of this group still runs.

    A process whose every thread is a zombie has closed its files. Its main thread
    alone says nothing: it shows as a zombie while other threads (an inference still
    running) are exiting, and they hold the files, listening socket included.
    """
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if _stat(f"/proc/{entry}/stat")[2] != str(group):
                continue
            threads = os.listdir(f"/proc/{entry}/task")
            if any(_stat(f"/proc/{entry}/task/{t}/stat")[0] != "Z" for t in threads):
                return True
        except OSError:  # gone meanwhile
            continue
    return False


def _stat(path: str) -> list[str]:
    """The fields of a /proc stat file after the command name: state, ppid, pgrp..."""
    with open(path) as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _listening(address: str, port: int) -> bool:
    """Whether anything still accepts connections there (the kernel does for a socket
    that is open, whatever state its process is in)."""
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def app_host(name: str, address: str, env: dict[str, str], logs: Path) -> Host:
    port = free_port(address)
    return Host(
        name=name,
        command=procfile()["web"],
        env={**env, "GUNICORN_BIND": f"{address}:{port}"},
        log=logs / f"{name}.log",
        address=address,
        port=port,
    )


def worker_host(name: str, env: dict[str, str], logs: Path) -> Host:
    return Host(name=name, command=procfile()["worker"], env=env, log=logs / f"{name}.log")


def site_conf(app_hosts: list[Host], listen: str) -> str:
    """deploy/nginx/cutout.conf with these app hosts and this listen address, nothing else."""
    text = (DEPLOY / "nginx" / "cutout.conf").read_text()
    upstream = re.search(r"upstream cutout_app \{.*?\n\}", text, re.S)
    assert upstream, "deploy/nginx/cutout.conf has no upstream cutout_app block"
    servers = re.findall(r"^(\s*)server \S+( [^;]*)?;\n", upstream[0], re.M)
    assert servers, "the upstream lists no app host"
    indent, parameters = servers[0]
    ours = "".join(f"{indent}server {h.address}:{h.port}{parameters};\n" for h in app_hosts)
    block = re.sub(r"^\s*server \S+( [^;]*)?;\n", "", upstream[0], flags=re.M)
    block = block.replace("upstream cutout_app {\n", "upstream cutout_app {\n" + ours, 1)
    text = text.replace(upstream[0], block)
    text, listens = re.subn(r"^(\s*)listen \S+;", rf"\1listen {listen};", text, flags=re.M)
    assert listens == 1, "deploy/nginx/cutout.conf should listen once"
    return text


def nginx_binary() -> str:
    """Debian's nginx (in /usr/sbin, which a non-root PATH may lack)."""
    found = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    assert found, "nginx is needed: apt-get install nginx"
    return found


def nginx_host(name: str, address: str, app_hosts: list[Host], prefix: Path) -> Host:
    """Debian's nginx in the foreground, serving deploy/nginx/cutout.conf from ``address``."""
    port = free_port(address)
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "cutout.conf").write_text(site_conf(app_hosts, f"{address}:{port}"))
    # What Debian's /etc/nginx/nginx.conf gives conf.d/, minus what needs /var:
    # our logs, pid and temporary files stay in the prefix. Workers run as root
    # when we are root (the default "nobody" could not write the prefix).
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (prefix / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        "    log_format upstreams\n"
        "        '$remote_addr \"$request\" $status $upstream_addr $upstream_status';\n"
        f"    access_log {prefix / 'access.log'} upstreams;\n"
        f"{temp}"
        # This machine's own address towards the app hosts, as TRUSTED_PROXIES names it.
        f"    proxy_bind {address};\n"
        f"    include {prefix / 'cutout.conf'};\n"
        "}\n"
    )
    conf = prefix / "nginx.conf"
    log = prefix / "error.log"
    command = shlex.join([nginx_binary(), "-p", str(prefix), "-e", str(log), "-c", str(conf)])
    return Host(
        name=name,
        command=command,
        env=dict(os.environ),
        log=prefix / "nginx.out",
        address=address,
        port=port,
    )
