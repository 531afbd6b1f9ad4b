"""gunicorn settings; every value can be overridden from the environment.

One process with threads: the model (and its memory) is shared by every
request of the process, and removal.pipeline bounds how many images are
processed at once. Add workers (or machines) to scale out.
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
