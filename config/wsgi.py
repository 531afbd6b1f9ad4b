from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Load the model when the worker starts, not on its first request.
from removal.inference import warm_up  # noqa: E402

warm_up()
