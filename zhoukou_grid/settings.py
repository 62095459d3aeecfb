"""Settings for the Zhoukou Grid Service Portal.

Everything that differs between a laptop, CI and the company server comes from the
environment. With no environment at all the portal runs on a SQLite file and runs
Celery tasks in-process, so `make run` works on a fresh machine.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
TESTING = env_bool("ZG_TESTING", default=False) or "pytest" in sys.modules

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING:
        # Development and tests only: a fixed, obviously insecure key.
        SECRET_KEY = "dev-insecure-key-do-not-use-in-production-0123456789abcdef"
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if (DEBUG or TESTING) else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "axes",
    "csp",  # Content-Security-Policy (docs/security.md)
    "zhoukou_grid",
    "customers",
    "visits",
    "loadforecast",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # CSP and Permissions-Policy on every answer, static files included.
    "csp.middleware.CSPMiddleware",
    "zhoukou_grid.core.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Chinese first; the language switch (cookie) chooses English. See zhoukou_grid/core/i18n.py.
    "zhoukou_grid.core.i18n.PortalLocaleMiddleware",
    # API 404s are JSON with DEBUG on too (its technical 404 page is HTML).
    "zhoukou_grid.core.middleware.ApiJsonNotFoundMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "zhoukou_grid.core.middleware.LoginRequiredMiddleware",
    # Idle and absolute session limits; records each login's session.
    "zhoukou_grid.core.security.SessionLimitsMiddleware",
    # Axes must be last: it answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "zhoukou_grid.urls"
WSGI_APPLICATION = "zhoukou_grid.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "zhoukou_grid.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get("TEST_DATABASE_NAME") or None
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ----------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache raises when Redis is down; this one answers
            # misses (zhoukou_grid/core/cache.py, a breaker keeps a hung Redis from costing 1 s a call).
            "BACKEND": "zhoukou_grid.core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            # Parallel test processes share one Redis: each keeps its own keys.
            "KEY_PREFIX": "zg-test-" + os.environ.get("PYTEST_XDIST_WORKER", "main") if TESTING else "zg",
            "TIMEOUT": 300,
            # A Redis outage must degrade to cache misses, not to errors.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Without Redis the portal runs every task in-process, so a laptop needs no worker.
# Tests run tasks in-process too; the tests that prove the real worker start one and
# switch this off for their duration.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or TESTING
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redelivery of an unacknowledged task waits for this; it must exceed the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_RESULT_EXPIRES = timedelta(days=2)

# --- deploy: beat runs exactly once (celery-redbeat holds a lock in Redis). ----------
# A second beat started by mistake waits for the lock instead of sending every task twice;
# if the holder dies, the lock expires after REDBEAT_LOCK_TIMEOUT seconds and the waiting
# beat takes over. Without REDIS_URL (`make run` on SQLite) beat is not used at all.
if REDIS_URL:
    CELERY_BEAT_SCHEDULER = "zhoukou_grid.beat:PortalBeatScheduler"  # redbeat that rides out Redis outages
    CELERY_REDBEAT_REDIS_URL = REDIS_URL
    CELERY_REDBEAT_REDIS_OPTIONS = {"socket_connect_timeout": 5, "socket_timeout": 5, "retry_period": 60}
    CELERY_REDBEAT_KEY_PREFIX = os.environ.get("REDBEAT_KEY_PREFIX", "zg-redbeat:")
    CELERY_BEAT_MAX_LOOP_INTERVAL = int(os.environ.get("BEAT_MAX_LOOP_INTERVAL", "30"))
    CELERY_REDBEAT_LOCK_TIMEOUT = int(os.environ.get("REDBEAT_LOCK_TIMEOUT", "150"))
# Photos are sent after the permission check; behind nginx by X-Accel-Redirect to this internal
# location (deploy/nginx-portal.conf), otherwise streamed by Django. See zhoukou_grid/core/media.py.
MEDIA_ACCEL_REDIRECT_PREFIX = os.environ.get("MEDIA_ACCEL_REDIRECT_PREFIX", "")
# Login throttling per real client behind nginx, not per 127.0.0.1 (zhoukou_grid/core/proxy.py).
AXES_CLIENT_IP_CALLABLE = "zhoukou_grid.core.proxy.client_ip"
# --- end deploy -----------------------------------------------------------------

# --- Auth -----------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # The roles decide every permission (and refuse the others, so ModelBackend's permission
    # tables are never read); ModelBackend stays for the password login and the sessions.
    "zhoukou_grid.core.scoping.RolePermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Many phones share one carrier IP: lock on username + IP, and let the lock cool off.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
# A friendly page in the user's language instead of axes' plain-text answer.
AXES_LOCKOUT_CALLABLE = "zhoukou_grid.core.views.lockout_response"

# --- I18N -----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
# Only the languages offered: otherwise a browser's Accept-Language would pick others.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
# The language switch is remembered for a year (Chinese again only when switched back).
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
# The second path holds third-party catalogs copied in as zh_Hans (django-filter ships zh_CN only).
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_thirdparty"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if (DEBUG or TESTING)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Development and tests serve static files straight from the finders (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# Uploads: spreadsheets up to this size are accepted (bytes).
IMPORT_MAX_UPLOAD_BYTES = int(os.environ.get("IMPORT_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))
# Hostile workbooks (docs/security.md, "Hostile files"): the cell extent a sheet may span,
# checked in the XML before anything reads it (python-calamine allocates rows × columns cells
# and aborts the process when it cannot) ...
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "1048576"))
IMPORT_MAX_COLUMNS = int(os.environ.get("IMPORT_MAX_COLUMNS", "256"))
IMPORT_MAX_CELLS = int(os.environ.get("IMPORT_MAX_CELLS", "30000000"))
# ... and the reader itself runs in a child process limited to this much address space and
# time, so that a crash of the native reader refuses the file instead of killing the worker.
IMPORT_READER_ISOLATED = env_bool("IMPORT_READER_ISOLATED", default=True)
IMPORT_READER_MEMORY_BYTES = int(os.environ.get("IMPORT_READER_MEMORY_BYTES", str(4 * 1024 ** 3)))
IMPORT_READER_TIMEOUT_SECONDS = int(os.environ.get("IMPORT_READER_TIMEOUT_SECONDS", "600"))
# An import task delivered this many times without finishing (its worker died each time: a
# native crash, an out-of-memory kill) fails its job instead of being delivered again.
IMPORT_MAX_DELIVERIES = int(os.environ.get("IMPORT_MAX_DELIVERIES", "2"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# POST /api/v1/visit-logs/ carries its photos base64 inside the JSON: its own, larger limit
# (keep nginx's client_max_body_size at least this big).
API_VISIT_LOG_MAX_BYTES = int(os.environ.get("API_VISIT_LOG_MAX_BYTES", str(20 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The phone's copy of the day and its outbox (docs/security.md, "The phone's copy"):
# at most this many bytes; a photo is refused before it is taken in when it would not fit.
OFFLINE_STORAGE_BUDGET_BYTES = int(os.environ.get("OFFLINE_STORAGE_BUDGET_MB", "50")) * 1024 * 1024
# The service worker's version; empty: the hash of the static files (zhoukou_grid/core/webapp.py).
STATIC_VERSION = os.environ.get("STATIC_VERSION", "")
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

# --- Email ----------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if os.environ.get("EMAIL_HOST") else
    "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "portal@localhost")
# The portal's address as users reach it (e.g. https://grid.example.intranet): links in
# emails are made absolute with it; without it they stay relative.
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "")

# --- Outgoing webhooks (group chats; zhoukou_grid/core/webhooks.py) -----------------
# Each attempt waits at most this long to connect and to read the answer; a failed attempt
# is retried after WEBHOOK_BACKOFF_SECONDS * 2^(attempt - 1), WEBHOOK_MAX_ATTEMPTS in all.
WEBHOOK_CONNECT_TIMEOUT = 5.0
WEBHOOK_READ_TIMEOUT = 5.0
WEBHOOK_MAX_ATTEMPTS = 5
WEBHOOK_BACKOFF_SECONDS = 30
# Without a worker (tasks in-process) the sends of one request take at most about this long
# in all; what is left waits for the retry watch.
WEBHOOK_EAGER_BUDGET_SECONDS = 4.0
# Hosts exempt from the address rules (loopback, link-local, the portal itself). For the
# tests' local fake server only: empty, and never read from the environment.
WEBHOOK_ALLOW_HOSTS: list[str] = []

# --- REST framework -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["zhoukou_grid.core.api_permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Zhoukou Grid Service Portal API",
    "DESCRIPTION": "Scoped API of the grid-based power service portal.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Swagger UI would otherwise ask validator.swagger.io (off the intranet) to check the schema.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    # Plans have two cadences (normal and festival) over one choice set: one enum component.
    "ENUM_NAME_OVERRIDES": {"PlanCadenceEnum": "customers.models.ServicePlan.Cadence",
                            # Load forecast: one component per choice set (levels, statuses).
                            "LoadLevelEnum": "loadforecast.models.Level",
                            "AlertStatusEnum": "loadforecast.models.Alert.Status",
                            "RunStatusEnum": "loadforecast.models.ProjectionRun.Status",
                            "MeasureStatusEnum": "loadforecast.models.Measure.Status",
                            # Visits.
                            "IssueCategoryEnum": "visits.models.CustomerIssue.Category",
                            "RoundTargetSourceEnum": "visits.models.RoundTarget.Source",
                            "HazardStatusEnum": "visits.models.Hazard.Status",
                            "IssueStatusEnum": "visits.models.CustomerIssue.Status",
                            "IssueChannelEnum": "visits.models.CustomerIssue.Channel"},
}

# --- Security -------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
if env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Security: CSP, headers, session limits. See docs/security.md. ----------------
from csp.constants import NONE, SELF  # noqa: E402

# No inline script or style anywhere (ours, the admin's, Swagger UI's: see templates/).
# img-src allows data: (Swagger UI's stylesheet draws its icons as data: URLs). A photo
# preview before upload (URL.createObjectURL) would need blob: as well; none exists yet.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
    },
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Nothing in the portal uses these; a photo is taken through a file input, which needs none.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
# Idle limit: office users 30 min; field users (only grid manager roles) 2 h, since a
# visit in a household can take that long between two pages on the phone. Absolute limit
# from the login: 12 h, one working day. Cookie lifetime follows the absolute limit.
SESSION_IDLE_TIMEOUT = int(os.environ.get("SESSION_IDLE_TIMEOUT", str(30 * 60)))
SESSION_IDLE_TIMEOUT_FIELD = int(os.environ.get("SESSION_IDLE_TIMEOUT_FIELD", str(2 * 60 * 60)))
SESSION_ABSOLUTE_TIMEOUT = int(os.environ.get("SESSION_ABSOLUTE_TIMEOUT", str(12 * 60 * 60)))
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # the admin and Swagger UI read it for their AJAX posts

# --- Logging: never personal data; messages only carry ids and counts. ----------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# SQLite cannot enforce NULLS NOT DISTINCT; PostgreSQL (production, CI) does.
SILENCED_SYSTEM_CHECKS = ["models.W047"]

if TESTING:
    # Tests hash many passwords: a fast hasher keeps the suite quick. Never in production.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Visits: target time to resolve a customer issue, in hours, by category. -----
ISSUE_SLA_HOURS = {
    "no_power": 4,
    "low_voltage": 72,
    "meter": 72,
    "billing": 120,
    "new_connection": 240,
    "app_help": 24,
    "other": 72,
}

# --- Personal data at rest (docs/personal-data.md) --------------------------------
# ID and phone numbers of returning residents are stored AES-256-GCM encrypted, with a
# keyed HMAC beside each for matching. The keys live in the environment only: not in the
# database, not in its backups, and none of them is SECRET_KEY. Keep a copy apart from
# the database backups: without the keys the encrypted numbers are lost for good.
#   PERSONAL_DATA_KEYS               "kid:base64key,kid2:base64key": 32-byte AES keys; the FIRST
#                                    encrypts new values, all of them decrypt (rotation). Generate
#                                    a key: python -c "import base64,os;print(base64.b64encode(os.urandom(32)).decode())"
#   PERSONAL_DATA_HMAC_KEY           base64, >= 32 bytes: key of the HMAC-SHA256 used to match ID
#                                    and phone numbers (re-imports, duplicates, uniqueness).
#   PERSONAL_DATA_HMAC_KEY_PREVIOUS  the old HMAC key, set only while
#                                    `manage.py rotate_personal_data_keys --hmac` runs.
#   RESIDENT_RETENTION_MONTHS        returning residents' personal data is erased this many
#                                    months after the Spring Festival they came home for
#                                    (nightly task; counts are kept). Default 3.
# Required when DEBUG is off; DEBUG and tests use fixed, public, insecure keys.
try:
    from zhoukou_grid.core.crypto import KeyConfigError, settings_keys

    PERSONAL_DATA_KEYS, PERSONAL_DATA_HMAC_KEY, PERSONAL_DATA_HMAC_KEY_PREVIOUS = settings_keys(
        os.environ, insecure_defaults=DEBUG or TESTING)
except KeyConfigError as error:
    raise ImproperlyConfigured(str(error)) from None
RESIDENT_RETENTION_MONTHS = int(os.environ.get("RESIDENT_RETENTION_MONTHS", "3"))
# A village with a clerk whose returning list has not changed for this many days shows on
# the grid manager's home, and its clerks get a daily in-app reminder.
VILLAGE_LIST_STALE_DAYS = int(os.environ.get("VILLAGE_LIST_STALE_DAYS", "3"))

# --- Service cards' QR code (issue 15; docs/security.md, "anyone holding a card") ---
# The address customers' phones open, printed in the QR code: the public name of the
# portal's /c/ pages (nginx exposes those only). Empty: the address of the printed page.
CARD_PUBLIC_BASE_URL = os.environ.get("CARD_PUBLIC_BASE_URL", "")
# After a grid's cards are reprinted with a new code, the old code keeps working this
# many days, then answers "card expired" with the 95598 line.
CARD_TOKEN_GRACE_DAYS = int(os.environ.get("CARD_TOKEN_GRACE_DAYS", "30"))
# Requests to the public pages: (limit, window in seconds) per scope. Over it: a 429 page.
CARD_THROTTLE = {
    "address": (60, 60),  # every public card request from one address
    "address_posts": (5, 600),  # requests left from one address
    "token_posts": (30, 3600),  # requests left on one grid's card (many customers share it)
    "status": (10, 600),  # status look-ups from one address (reference + last 4 digits)
}
