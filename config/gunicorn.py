"""gunicorn settings; every value can be overridden from the environment.

One process with threads: the model (and its memory) is shared by every
request of the process, and removal.pipeline bounds how many images are
processed at once. Add workers (or machines) to scale out.

Memory: config.wsgi caps glibc's malloc arenas when a worker loads the app
(REMOVAL_MALLOC_ARENA_MAX) and removal.pipeline trims the heap after big
images. An operator who prefers speed to resident size can also start gunicorn
with GLIBC_TUNABLES=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=536870912
(measured on 2 cores: a 1-thread u2netp run 600 -> 465 ms, the speed of
onnxruntime's arena, for ~300 MB kept per worker). mallopt() from Python cannot
do the same: glibc caps its mmap threshold at 32 MB, which measured no faster.
GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (transparent huge pages) was measured too:
back-to-back runs 240 -> 185 ms at the same resident size, but after a second of
idleness 250 -> 370 ms on a VM whose host pages out idle memory (DAMON), so it is
left to the operator who knows the machine.
"""

from __future__ import annotations

import os

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
