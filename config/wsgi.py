from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Worker start, before gunicorn starts its request threads: cap the malloc
# arenas, then load the model so the first request is not the slow one.
from django.conf import settings  # noqa: E402

from removal import malloc  # noqa: E402
from removal.inference import warm_up  # noqa: E402

malloc.limit_arenas(settings.REMOVAL_MALLOC_ARENA_MAX)
warm_up()

# Embedded defaults (no broker): this process runs batches itself; resume any a
# restart interrupted. With a broker, Celery workers do and this does nothing.
from batches.engine import start_in_process  # noqa: E402

start_in_process()
