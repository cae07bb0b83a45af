"""Settings for RPA Workbench.

Everything that differs between machines comes from environment variables, with safe defaults
for local development. Bad values stop start-up with a clear message (ImproperlyConfigured).
The README lists every variable.
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from rpa_workbench.schema_docs import TAGS as API_TAGS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RPA_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {raw!r}")


def env_number(name: str, default: float, *, minimum: float = 0, cast: type = float):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return cast(default)
    try:
        value = cast(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {raw!r}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_timezone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} must be an IANA time zone such as Asia/Shanghai, got {value!r}") from None
    return value


def load_secret_key() -> str:
    """DJANGO_SECRET_KEY, or a key generated once into var/secret_key (untracked) and reused."""
    key = env_str("DJANGO_SECRET_KEY")
    if key:
        return key
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = load_secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "rpa_workbench.admin_apps.WorkbenchAdminConfig",  # django.contrib.admin, open to every role
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",  # rotated and signed-out refresh tokens (rpa_workbench/tokens.py)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rpa_workbench",
    "accounts",
    "pools",
    "tasks",
    "executionlogs",
    "dashboard",
    "webhooks",
    "resources",
    "jobs",
    "alerts",
    "yingdao",
    "workqueues",
]

# Run synchronously under Daphne, in one worker-thread call per request (rpa_workbench/handler.py).
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "rpa_workbench.headers.content_security_policy",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "rpa_workbench.locale.WorkbenchLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "rpa_workbench.urls"
APPEND_SLASH = False

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
            ],
        },
    },
]

WSGI_APPLICATION = "rpa_workbench.wsgi.application"
ASGI_APPLICATION = "rpa_workbench.asgi.application"

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'rpa_app.db'}")
try:
    # RPA_DB_CONN_MAX_AGE: seconds a connection is kept for reuse (0 = one per request). Requests
    # run on a pool of long-lived threads (rpa_workbench/handler.py), each keeping its connection
    # between requests; Django checks it (age, errors, and a ping after an idle spell) before
    # every request (bench/README.md "Connections").
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_number("RPA_DB_CONN_MAX_AGE", 600, minimum=0, cast=int),
            conn_health_checks=True,
        )
    }
except Exception as exc:  # dj-database-url raises several types for bad URLs
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend plus a per-process queue for writers (see rpa_workbench/sqlite/base.py).
    DATABASES["default"]["ENGINE"] = "rpa_workbench.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE: writers take the lock when the transaction begins, so concurrent writers
        # queue on the busy timeout instead of failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests need a file (live Daphne servers and threads share it); one per test process.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("RPA_TEST_SQLITE_PATH")
        or str(Path(os.environ.get("TMPDIR", "/tmp")) / f"rpa_test_{os.getpid()}.sqlite3"),
    }

elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("RPA_PG_JIT", False):
    # PostgreSQL's JIT compiler off (RPA_PG_JIT=true turns it back on): it compiles a statement
    # whose estimated cost is high, and estimates go high on tables not analyzed yet (a queue
    # just bulk-loaded): the work queues' admin list spent 425 of its 456 ms compiling a 30 ms
    # query (bench/README.md, "JIT"). Our statements are short; none gains from it.
    connection_options = DATABASES["default"].setdefault("OPTIONS", {})
    connection_options["options"] = f"{connection_options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's ModelBackend, with a user's permissions read in one query (rpa_workbench/auth_backend.py).
AUTHENTICATION_BACKENDS = ["rpa_workbench.auth_backend.OneQueryModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The admin and the dashboard in English and Simplified Chinese, chosen from the browser's
# Accept-Language (zh-CN, zh-SG… → zh-hans) or the language switcher (/i18n/setlang/).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
# Ours first (makemessages writes there); then what Django's own Chinese catalogues lack.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "django_locale_gaps"]
# One format for dates people read, in both languages: 2026-01-21 14:30:00 (rpa_workbench/formats).
FORMAT_MODULE_PATH = ["rpa_workbench.formats"]
# One clock for people: every date a person reads (admin, dashboard, messages, log lines) and the
# offsets the API writes are in this zone; by default the robots' zone. DJANGO_TIME_ZONE is the
# older name of the same setting. The robots' zone is read (and checked) first, so a bad value is
# reported under its own name.
# Naive times in webhooks are read in this zone.
RPA_ROBOT_TIMEZONE = env_timezone("RPA_ROBOT_TIMEZONE", "Asia/Shanghai")
RPA_DISPLAY_TIMEZONE = env_timezone("RPA_DISPLAY_TIMEZONE", env_str("DJANGO_TIME_ZONE") or RPA_ROBOT_TIMEZONE)
TIME_ZONE = RPA_DISPLAY_TIMEZONE
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve the apps' and static/'s files even before `collectstatic` (a fresh clone, the tests'
# live servers, whose var/ is empty); collected files are served as before.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env_str("RPA_MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/api/v1/resources/"

LOGIN_URL = "/admin/login/"

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if env_bool("DJANGO_SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# HSTS on responses to requests that came over TLS (behind the proxy: X-Forwarded-Proto: https
# with DJANGO_SECURE_PROXY_SSL=true); never on plain HTTP. 0 turns it off.
SECURE_HSTS_SECONDS = env_number("DJANGO_SECURE_HSTS_SECONDS", 31_536_000, minimum=0, cast=int)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)

# --- CORS (the SPA) ------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", "http://localhost:3000,http://127.0.0.1:3000")
if "*" in CORS_ALLOWED_ORIGINS:
    raise ImproperlyConfigured("CORS_ALLOWED_ORIGINS must list origins; '*' is refused because credentials are allowed")
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "last-event-id",
    "x-csrftoken",
    "x-requested-with",
    "x-webhook-token",
]
CORS_EXPOSE_HEADERS = ["content-disposition"]

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rpa_workbench.tokens.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rpa_workbench.permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "rpa_workbench.pagination.EnvelopePagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["rpa_workbench.filtering.FilterBackend"],  # django-filter, skipped when unused
    "DEFAULT_RENDERER_CLASSES": ["rpa_workbench.renderers.FiniteJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rpa_workbench.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "rpa_workbench.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "rpa_workbench.schema.ApiAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": __import__("datetime").timedelta(
        minutes=env_number("RPA_JWT_ACCESS_MINUTES", 60, minimum=1, cast=int)
    ),
    "REFRESH_TOKEN_LIFETIME": __import__("datetime").timedelta(
        days=env_number("RPA_JWT_REFRESH_DAYS", 7, minimum=1, cast=int)
    ),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_OBTAIN_SERIALIZER": "rpa_workbench.login.ThrottledTokenObtainPairSerializer",
    # Revocation (rpa_workbench/tokens.py, docs/security.md): each refresh returns a new refresh
    # token and blacklists the used one; a password change ends every token issued before it.
    "TOKEN_REFRESH_SERIALIZER": "rpa_workbench.token_views.RevocableTokenRefreshSerializer",
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "CHECK_REVOKE_TOKEN": True,
}

# --- Sign-in and webhook-secret throttling (rpa_workbench/throttling.py, docs/security.md) -----
# Failures counted within this window; a key reaching its limit is locked for the lockout time.
RPA_AUTH_FAILURE_WINDOW_SECONDS = env_number("RPA_AUTH_FAILURE_WINDOW_SECONDS", 900, minimum=1, cast=int)
RPA_AUTH_LOCKOUT_SECONDS = env_number("RPA_AUTH_LOCKOUT_SECONDS", 900, minimum=1, cast=int)
RPA_LOGIN_MAX_FAILURES_PER_USERNAME = env_number("RPA_LOGIN_MAX_FAILURES_PER_USERNAME", 5, minimum=1, cast=int)
RPA_LOGIN_MAX_FAILURES_PER_ADDRESS = env_number("RPA_LOGIN_MAX_FAILURES_PER_ADDRESS", 20, minimum=1, cast=int)
RPA_WEBHOOK_MAX_FAILURES_PER_ADDRESS = env_number("RPA_WEBHOOK_MAX_FAILURES_PER_ADDRESS", 20, minimum=1, cast=int)
# Password hashes computed at once per process, and how long a sign-in waits for a slot (503).
RPA_PASSWORD_CHECKS_CONCURRENCY = env_number("RPA_PASSWORD_CHECKS_CONCURRENCY", 2, minimum=1, cast=int)
RPA_PASSWORD_CHECK_WAIT_SECONDS = env_number("RPA_PASSWORD_CHECK_WAIT_SECONDS", 5.0, minimum=0)

SPECTACULAR_SETTINGS = {
    "TITLE": "RPA Workbench API",
    "DESCRIPTION": "Run fleets of Yingdao (ShadowBot) RPA robots: accounts, tasks, control, history, events.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Readable operation ids, tags, summaries, every error status: see rpa_workbench/schema.py.
    "TAGS": API_TAGS,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # One component per status choice set, however many serializers use it.
    "ENUM_NAME_OVERRIDES": {"JobStatusEnum": "jobs.models.JobStatus"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "rpa_workbench.schema.postprocess",
    ],
}

APP_VERSION = "0.1.0"

# --- RPA domain settings --------------------------------------------------------------------
# Shared secret robots send on webhooks; empty = webhooks refuse every call.
RPA_WEBHOOK_TOKEN = env_str("RPA_WEBHOOK_TOKEN")
# Relay that forwards control requests to robots; empty = control answers 503 saying so.
RPA_RELAY_URL = env_str("RPA_RELAY_URL")
RPA_RELAY_CONNECT_TIMEOUT = env_number("RPA_RELAY_CONNECT_TIMEOUT", 3.0, minimum=0.1)
RPA_RELAY_TIMEOUT = env_number("RPA_RELAY_TIMEOUT", 10.0, minimum=0.1)
# --- Yingdao Open API dispatch backend (yingdao/, docs/yingdao.md) --------------------------
# Access key of the tenant; both empty = the `yingdao` backend answers 503 BACKEND_NOT_CONFIGURED.
RPA_YINGDAO_API_URL = env_str("RPA_YINGDAO_API_URL", "https://api.yingdao.com").rstrip("/")
RPA_YINGDAO_ACCESS_KEY_ID = env_str("RPA_YINGDAO_ACCESS_KEY_ID")
RPA_YINGDAO_ACCESS_KEY_SECRET = env_str("RPA_YINGDAO_ACCESS_KEY_SECRET")
# Seconds: connecting, and one whole call (connect + answer).
RPA_YINGDAO_CONNECT_TIMEOUT = env_number("RPA_YINGDAO_CONNECT_TIMEOUT", 3.0, minimum=0.1)
RPA_YINGDAO_TIMEOUT = env_number("RPA_YINGDAO_TIMEOUT", 10.0, minimum=0.1)
# A call refused by the rate limit is retried after a backoff for at most this many seconds.
RPA_YINGDAO_RATE_LIMIT_WAIT = env_number("RPA_YINGDAO_RATE_LIMIT_WAIT", 5.0, minimum=0)
# Renew the access token this many seconds before Yingdao says it expires.
RPA_YINGDAO_TOKEN_MARGIN_SECONDS = env_number("RPA_YINGDAO_TOKEN_MARGIN_SECONDS", 300, minimum=0, cast=int)
# client/list sync period (robot presence); 0 = never.
RPA_YINGDAO_CLIENT_SYNC_SECONDS = env_number("RPA_YINGDAO_CLIENT_SYNC_SECONDS", 60, minimum=0)
# A dispatched/running Yingdao job not heard from for this long is checked with job/query.
RPA_YINGDAO_RECONCILE_SECONDS = env_number("RPA_YINGDAO_RECONCILE_SECONDS", 120, minimum=1)
# This server's address as Yingdao reaches it (the callbackUrl base), e.g. https://rpa.example.com.
RPA_PUBLIC_URL = env_str("RPA_PUBLIC_URL").rstrip("/")
# A second start within this many seconds of an unconfirmed one is refused (409 START_PENDING).
RPA_START_PENDING_SECONDS = env_number("RPA_START_PENDING_SECONDS", 60, minimum=0, cast=int)
# Watchdog: a running task silent for this many seconds is marked lost.
RPA_HEARTBEAT_TIMEOUT = env_number("RPA_HEARTBEAT_TIMEOUT", 600, minimum=1, cast=int)
# Presence: a robot with no contact of any kind for this many seconds is `offline` (UiPath's 120 s).
RPA_PRESENCE_TIMEOUT = env_number("RPA_PRESENCE_TIMEOUT", 120, minimum=1, cast=int)
# Resources
RPA_PROXY_ALLOWED_HOSTS = env_list("RPA_PROXY_ALLOWED_HOSTS", "")
RPA_PROXY_MAX_BYTES = env_number("RPA_PROXY_MAX_BYTES", 50 * 1024 * 1024, minimum=1, cast=int)
RPA_UPLOAD_MAX_BYTES = env_number("RPA_UPLOAD_MAX_BYTES", 20 * 1024 * 1024, minimum=1, cast=int)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Proxy time limits (seconds): connect, each read, and the whole transfer.
RPA_PROXY_CONNECT_TIMEOUT = env_number("RPA_PROXY_CONNECT_TIMEOUT", 3.0, minimum=0.1)
RPA_PROXY_READ_TIMEOUT = env_number("RPA_PROXY_READ_TIMEOUT", 10.0, minimum=0.1)
RPA_PROXY_TOTAL_TIMEOUT = env_number("RPA_PROXY_TOTAL_TIMEOUT", 120.0, minimum=0.1)
# CA bundle (PEM path) for HTTPS upstreams; empty = the public CAs shipped with certifi.
RPA_PROXY_CA_BUNDLE = env_str("RPA_PROXY_CA_BUNDLE")
# How long signed resource URLs (screenshot_url, log_url, file_url) stay valid, in seconds.
RPA_SIGNED_URL_MAX_AGE = env_number("RPA_SIGNED_URL_MAX_AGE", 3600, minimum=1, cast=int)
# Optional: store files in an S3-compatible bucket (e.g. Aliyun OSS) through django-storages
# (`pip install django-storages[s3]`, not installed by default). Unset = local MEDIA_ROOT.
RPA_S3_BUCKET = env_str("RPA_S3_BUCKET")
if RPA_S3_BUCKET:
    import importlib.util

    if importlib.util.find_spec("storages") is None or importlib.util.find_spec("boto3") is None:
        raise ImproperlyConfigured("RPA_S3_BUCKET is set but django-storages/boto3 are not installed: pip install 'django-storages[s3]'")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": RPA_S3_BUCKET,
            "endpoint_url": env_str("RPA_S3_ENDPOINT_URL") or None,
            "region_name": env_str("RPA_S3_REGION") or None,
            "access_key": env_str("RPA_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("RPA_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("RPA_S3_LOCATION"),
            "addressing_style": env_str("RPA_S3_ADDRESSING_STYLE") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# --- Events (server-sent events) ------------------------------------------------------------
# The jobs that make a robot "busy" (accounts/presence.py, API.md §1): the job model and its
# busy statuses, named by string because accounts/ sits below jobs/ (docs/architecture.md).
RPA_PRESENCE_BUSY_JOBS = ("jobs.Job", "jobs.models.BUSY")
# The robots' model, which `?account_id=` of the event stream names (rpa_workbench/sse.py).
RPA_ACCOUNT_MODEL = "accounts.Account"
# The event outbox (rpa_workbench.event_store): each event stored once, in its change's
# transaction; replayable for RPA_SSE_RETENTION_HOURS, at most the last RPA_SSE_RETENTION_EVENTS.
RPA_SSE_RETENTION_HOURS = env_number("RPA_SSE_RETENTION_HOURS", 24, minimum=0.01)
RPA_SSE_RETENTION_EVENTS = env_number("RPA_SSE_RETENTION_EVENTS", 10000, minimum=100, cast=int)
RPA_SSE_HEARTBEAT_SECONDS = env_number("RPA_SSE_HEARTBEAT_SECONDS", 30, minimum=0.1)
# Events published within this many seconds reach a stream in one write (one webhook's three).
RPA_SSE_BATCH_SECONDS = env_number("RPA_SSE_BATCH_SECONDS", 0.01, minimum=0)
# Cached reads (rpa_workbench/list_cache.py; docs/architecture.md "Cached reads"): the lists and
# the dashboard's reads, keyed by query, role and newest event position. RPA_LIST_CACHE:
# `local` (default) each process its own memory; `database` one table every process shares
# (create it once: `manage.py createcachetable`); `off` no cache (every read queries; the
# ETag and its 304 still work). Fields derived from the moment (presence, dashboard windows,
# signed links) are exact to RPA_LIST_CACHE_BUCKET_SECONDS (0: such reads compute every time).
RPA_LIST_CACHE = env_str("RPA_LIST_CACHE", "local")
RPA_LIST_CACHE_BUCKET_SECONDS = env_number("RPA_LIST_CACHE_BUCKET_SECONDS", 1.0, minimum=0)
RPA_LIST_CACHE_ALIAS = "lists"
_LIST_CACHES = {
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rpa-lists",
              "TIMEOUT": 300, "OPTIONS": {"MAX_ENTRIES": 2000}},
    "database": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "rpa_list_cache",
                 "TIMEOUT": 300, "OPTIONS": {"MAX_ENTRIES": 5000}},
    "off": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}
if RPA_LIST_CACHE not in _LIST_CACHES:
    raise ImproperlyConfigured(f"RPA_LIST_CACHE must be one of {', '.join(_LIST_CACHES)}, got {RPA_LIST_CACHE!r}")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},  # Django's default
    RPA_LIST_CACHE_ALIAS: _LIST_CACHES[RPA_LIST_CACHE],
}
# Threads that run requests' synchronous work (middleware and views), each with its database
# connection kept between requests: at most this many requests are worked on at once per
# process (the others wait their turn; streams and bodies being sent hold no thread).
RPA_REQUEST_THREADS = env_number("RPA_REQUEST_THREADS", 8, minimum=1, cast=int)
# Pushpin's publish endpoint (e.g. http://127.0.0.1:5561) when Pushpin holds the streams in
# front of several server processes (docs/production.md); empty = streams served in-process.
RPA_PUSHPIN_PUBLISH_URL = env_str("RPA_PUSHPIN_PUBLISH_URL")


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {  # log times in RPA_DISPLAY_TIMEZONE (Django sets the process TZ), offset named
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s", "datefmt": "%Y-%m-%d %H:%M:%S%z"}
    },
    # Every line we write goes through RedactingFilter: no JWT, signature or secret in the logs.
    "filters": {"redact": {"()": "rpa_workbench.redaction.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("RPA_LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Embedded loops (rpa_workbench/embedded.py) ---------------------------------------------
# Daemon threads each server process runs: thread name → (the setting that turns it on, None =
# always; the function run with `stop=`). Named by string: rpa_workbench imports no domain app.
RPA_EMBEDDED_LOOPS = {
    "rpa-scheduler": ("RPA_EMBEDDED_SCHEDULER", "jobs.scheduler.run_forever"),
    # Presence flips go with the scheduler: a separate `run_scheduler` runs the sweep too.
    "rpa-presence": ("RPA_EMBEDDED_SCHEDULER", "accounts.presence.run_forever"),
    "rpa-dispatcher": ("RPA_EMBEDDED_DISPATCHER", "jobs.dispatcher.run_forever"),
    "rpa-alerts": ("RPA_EMBEDDED_ALERTS", "alerts.worker.run_forever"),
    # Work queues: triggers, abandonment, SLA alerts, queue_updated events (`run_workqueues` alone).
    "rpa-workqueues": ("RPA_EMBEDDED_WORKQUEUES", "workqueues.worker.run_forever"),
    # Yingdao client sync and reconciliation (idle without an access key); `run_yingdao` alone.
    "rpa-yingdao": ("RPA_EMBEDDED_SCHEDULER", "yingdao.loop.run_forever"),
    # Stamps events whose process died between their commit and their stamping (PostgreSQL).
    "rpa-events": (None, "rpa_workbench.events.run_sequencer"),
}
# Called when the loops stop: the dispatcher sleeps on its own wake-up event.
RPA_EMBEDDED_WAKERS = ["jobs.wakeup.kick"]

# --- Scheduler (jobs/scheduler.py) ----------------------------------------------------------
# Run the scheduler + watchdog loop inside the server process (a daemon thread started from
# asgi.py). Turn off when a separate `manage.py run_scheduler` process runs instead.
RPA_EMBEDDED_SCHEDULER = env_bool("RPA_EMBEDDED_SCHEDULER", True)
# Seconds between scheduler passes.
RPA_SCHEDULER_INTERVAL = env_number("RPA_SCHEDULER_INTERVAL", 5.0, minimum=0.1)

# --- Jobs (jobs/, docs/jobs.md) -------------------------------------------------------------
# A dispatched job the robot has not confirmed within this many seconds ends failed/never_confirmed.
RPA_START_CONFIRM_SECONDS = env_number("RPA_START_CONFIRM_SECONDS", 120, minimum=1, cast=int)
# A robot report whose start_time is earlier than its job's creation by more than this is history only.
RPA_CLOCK_SKEW_SECONDS = env_number("RPA_CLOCK_SKEW_SECONDS", 300, minimum=0, cast=int)
# Defaults for tasks that leave run_timeout_seconds / wait_timeout_seconds empty.
RPA_JOB_RUN_TIMEOUT_SECONDS = env_number("RPA_JOB_RUN_TIMEOUT_SECONDS", 3600, minimum=1, cast=int)
RPA_JOB_WAIT_TIMEOUT_SECONDS = env_number("RPA_JOB_WAIT_TIMEOUT_SECONDS", 1800, minimum=1, cast=int)
# The dispatcher loop inside the server process (off when `manage.py run_dispatcher` runs instead).
RPA_EMBEDDED_DISPATCHER = env_bool("RPA_EMBEDDED_DISPATCHER", True)
# Seconds between dispatcher sweeps (a job ending wakes it at once in its own process).
RPA_DISPATCHER_INTERVAL = env_number("RPA_DISPATCHER_INTERVAL", 1.0, minimum=0.05)
# Backend calls in flight at once (one slow robot never holds up the others); 0 sends in the
# dispatcher's own thread, one after another (the tests' setting).
RPA_DISPATCHER_THREADS = env_number("RPA_DISPATCHER_THREADS", 8, minimum=0, cast=int)
# Starts (robot free) whose request waits for its START's outcome (jobs.outbox), at once per
# process: each holds a request thread for as long as the backend takes; past this it is queued.
RPA_INLINE_STARTS = env_number("RPA_INLINE_STARTS", max(1, RPA_REQUEST_THREADS // 2), minimum=0, cast=int)
# --- Work queues (workqueues/, docs/work-queues.md) -----------------------------------------
# The queue worker (triggers, abandonment, SLA alerts, queue_updated events) inside the server
# process (off: run `manage.py run_workqueues`), and the seconds between its passes.
RPA_EMBEDDED_WORKQUEUES = env_bool("RPA_EMBEDDED_WORKQUEUES", True)
RPA_WORKQUEUE_INTERVAL = env_number("RPA_WORKQUEUE_INTERVAL", 1.0, minimum=0.05)
# --- Alerts (alerts/, docs/alerts.md) -------------------------------------------------------
# Links in alert messages start with RPA_PUBLIC_URL (defined above; empty = no link).
# Run the alert delivery worker inside the server process (off: run `manage.py run_alerts`).
RPA_EMBEDDED_ALERTS = env_bool("RPA_EMBEDDED_ALERTS", True)
# Seconds between the worker's looks for due deliveries.
RPA_ALERT_INTERVAL = env_number("RPA_ALERT_INTERVAL", 2.0, minimum=0.05)
# Sends in flight at once per worker process (one per channel at a time).
RPA_ALERT_THREADS = env_number("RPA_ALERT_THREADS", 4, minimum=1, cast=int)
# Time limits of one send (seconds): connect, and each read of the answer.
RPA_ALERT_CONNECT_TIMEOUT = env_number("RPA_ALERT_CONNECT_TIMEOUT", 3.0, minimum=0.1)
RPA_ALERT_TIMEOUT = env_number("RPA_ALERT_TIMEOUT", 10.0, minimum=0.1)
# Channels may not reach internal addresses (loopback, private, link-local, metadata) unless
# this comma list names the host: exact names or addresses, or networks such as 10.20.0.0/16.
RPA_ALERT_ALLOWED_INTERNAL_HOSTS = env_list("RPA_ALERT_ALLOWED_INTERNAL_HOSTS", "")


def env_either(name: str, default: str = "") -> str:
    """RPA_EMAIL_X, else DJANGO_EMAIL_X, else the default."""
    return env_str(f"RPA_{name}") or env_str(f"DJANGO_{name}") or default


# Email channels send through Django's email backend (SMTP by default).
EMAIL_BACKEND = env_either("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_either("EMAIL_HOST", "localhost")
def env_either_number(name: str, default: float, cast: type = float):
    raw = env_either(name, str(default))
    try:
        value = cast(raw)
    except ValueError:
        raise ImproperlyConfigured(f"RPA_{name} / DJANGO_{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ImproperlyConfigured(f"RPA_{name} / DJANGO_{name} must be > 0, got {raw!r}")
    return value


EMAIL_PORT = env_either_number("EMAIL_PORT", 25, int)
EMAIL_HOST_USER = env_either("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_either("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("RPA_EMAIL_USE_TLS", env_bool("DJANGO_EMAIL_USE_TLS", False))
EMAIL_USE_SSL = env_bool("RPA_EMAIL_USE_SSL", env_bool("DJANGO_EMAIL_USE_SSL", False))
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("RPA_EMAIL_USE_TLS and RPA_EMAIL_USE_SSL are mutually exclusive")
EMAIL_TIMEOUT = env_either_number("EMAIL_TIMEOUT", 10.0)
DEFAULT_FROM_EMAIL = env_either("EMAIL_FROM", "rpa-workbench@localhost")
