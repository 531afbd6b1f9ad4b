"""gunicorn settings; every value can be overridden from the environment.

One process with threads: the model (and its memory) is shared by every
request of the process, and removal.pipeline bounds how many images are
processed at once. Add workers (or machines) to scale out.

Memory and speed: onnxruntime allocates and frees a few hundred MB of
activations per image. With 4 KB pages every run faults them in afresh; with
transparent huge pages (glibc's malloc.hugetlb tunable) the same run is about
28 % faster, at the same resident size (a one-thread u2netp run measured
360 -> 260 ms on 2 cores). glibc reads GLIBC_TUNABLES only when a process
starts, so the master re-executes itself once with it set; workers inherit it.
REMOVAL_HUGE_PAGES=false turns this off. config.wsgi also caps glibc's malloc
arenas (REMOVAL_MALLOC_ARENA_MAX), and removal.pipeline trims the heap after
big images.
"""

from __future__ import annotations

import os
import sys

from config.env import env_bool

HUGE_PAGES = "glibc.malloc.hugetlb=1"


def _restart_with_huge_pages() -> None:
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if not env_bool("REMOVAL_HUGE_PAGES", True) or "glibc.malloc.hugetlb=" in tunables:
        return
    os.environ["GLIBC_TUNABLES"] = f"{tunables}:{HUGE_PAGES}" if tunables else HUGE_PAGES
    os.execv(sys.executable, [sys.executable, *sys.argv])  # noqa: S606 - this same command


_restart_with_huge_pages()

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# Workers are recycled now and then so a slow leak can never grow unbounded.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
accesslog = "-"
# Never log request headers: they carry API keys.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
