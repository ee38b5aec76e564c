"""Peekr's one settings module: every knob is read from the environment (see .env.example).

Defaults are the laptop default: SQLite in WAL mode and Celery on kombu's filesystem transport,
both under PEEKR_DATA_DIR. PEEKR_DATABASE_URL and PEEKR_BROKER_URL switch to PostgreSQL and Redis.
"""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DATA_DIR = Path(env_str("PEEKR_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("PEEKR_DEBUG", False)
SECRET_KEY = env_str("PEEKR_SECRET_KEY")
if not SECRET_KEY:
    # A laptop install gets a stable random key kept beside its data (owner-only); production sets PEEKR_SECRET_KEY.
    import secrets

    from peekr_web.secret_files import secret_read_or_create

    SECRET_KEY = secret_read_or_create(DATA_DIR / "secret_key", lambda: secrets.token_urlsafe(50))


# --- Security (production turns these on through the environment; see README "Production settings") ---
# The URL users and SDKs reach Peekr at: shown as the OTLP endpoint on the keys and onboarding pages (never
# taken from a request's Host header), added to ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS.
PEEKR_PUBLIC_URL = (env_str("PEEKR_PUBLIC_URL") or f"http://localhost:{env_int('PEEKR_PORT', 8000)}").rstrip("/")
_public = urlsplit(PEEKR_PUBLIC_URL)
if _public.scheme not in ("http", "https") or not _public.hostname:
    raise ImproperlyConfigured(f"PEEKR_PUBLIC_URL must be an http(s):// URL, got {PEEKR_PUBLIC_URL!r}")
LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env_list("PEEKR_ALLOWED_HOSTS") or list(dict.fromkeys([*LOCAL_HOSTS, _public.hostname]))
CSRF_TRUSTED_ORIGINS = [*env_list("PEEKR_CSRF_TRUSTED_ORIGINS"), f"{_public.scheme}://{_public.netloc}"]
# Cookies only over HTTPS (on by default when the public URL is https://).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("PEEKR_SECURE_COOKIES", _public.scheme == "https")
SECURE_HSTS_SECONDS = env_int("PEEKR_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("PEEKR_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("PEEKR_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("PEEKR_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the process manager's probe speaks plain HTTP
# Behind a TLS-terminating proxy: the header it sets to "https" (e.g. X-Forwarded-Proto); empty: none trusted.
_ssl_header = env_str("PEEKR_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = ("HTTP_" + _ssl_header.upper().replace("-", "_"), "https") if _ssl_header else None
# How many reverse proxies append to X-Forwarded-For in front of Peekr (0: use the peer address).
PEEKR_TRUSTED_PROXIES = env_int("PEEKR_TRUSTED_PROXIES", 0)

# Login throttling (django-axes): after PEEKR_LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# address, that pair is refused (429, even with the right password) for PEEKR_LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env_int("PEEKR_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PEEKR_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "login_locked.html"
AXES_CLIENT_IP_CALLABLE = "peekr_web.accounts.client_ip"
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# Content-Security-Policy (django-csp): scripts only from static/ (the one inline script carries a nonce), no
# eval. Styles allow inline: the waterfall and progress bars place bars with style attributes, and plotly
# and htmx add <style> elements; CSS cannot run script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "https:", "http:"],  # thumbnails of images sent in messages (traces/render.py)
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "template_partials",
    "django_htmx",
    "ninja",  # serves Swagger's bundle locally, so /api/docs works offline
    "axes",  # login throttling
    "traces",
    "evals",
    "insights",
    "annotations",
    "otelmetrics",  # charts of the GenAI metrics SDKs export over OTLP (the points are stored by traces)
    "signals",  # above annotations: its routing policy uses evaluation triggers and review routing
    "metrics",  # above signals: rollups read scores, signals and findings
    "alerts",  # above metrics: monitors read rollups
    "releases",  # above alerts: canary verdicts read rollups; the Releases page
    "regressions",  # above alerts and releases: opened by failed verdicts, peekr_regress runs and pages
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login with AXES_LOCKOUT_TEMPLATE
]

ROOT_URLCONF = "peekr_web.urls"
WSGI_APPLICATION = "peekr_web.wsgi.application"

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
                "peekr_web.accounts.password_change_context",
                "traces.context_processors.pipeline_notice",
                "traces.context_processors.access",
            ],
        },
    },
]

# Database: SQLite (WAL) on a laptop, PostgreSQL when PEEKR_DATABASE_URL is set.
DATABASE_URL = env_str("PEEKR_DATABASE_URL") or f"sqlite:///{DATA_DIR / 'peekr.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("PEEKR_DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Django's SQLite backend + a write queue: write transactions take turns (traces/write_queue.py) instead of
    # polling SQLite's lock on the busy timeout. PEEKR_SQLITE_WRITE_QUEUE=0: Django's own (bench comparisons).
    if env_bool("PEEKR_SQLITE_WRITE_QUEUE", True):
        DATABASES["default"]["ENGINE"] = "peekr_web.queued_sqlite3"
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock at BEGIN so
        # two writers queue on the busy timeout instead of failing on a lock upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not :memory:, so a Celery worker process started by a test sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    raise ImproperlyConfigured("PEEKR_DATABASE_URL must be a postgres:// or sqlite:// URL")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from the apps and static/ without a collectstatic step

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Ingestion: bodies are bounded before and after decompression (OTLP recommends a configurable cap).
PEEKR_MAX_BODY_MB = env_int("PEEKR_MAX_BODY_MB", 64)
PEEKR_MAX_BODY_BYTES = PEEKR_MAX_BODY_MB * 1024 * 1024
# What one ingest request may cost (traces.sanitize): its decoded size (parsing costs ~15x it in memory), its
# spans, and per span its attributes and string length (over those: cut with a marker and counted, as OTel does).
PEEKR_MAX_DECODED_MB = env_int("PEEKR_MAX_DECODED_MB", 20)
PEEKR_MAX_DECODED_BYTES = PEEKR_MAX_DECODED_MB * 1024 * 1024
PEEKR_MAX_SPANS_PER_REQUEST = env_int("PEEKR_MAX_SPANS_PER_REQUEST", 10_000)
PEEKR_MAX_ATTRIBUTES_PER_SPAN = env_int("PEEKR_MAX_ATTRIBUTES_PER_SPAN", 1024)
PEEKR_MAX_ATTRIBUTE_VALUE_CHARS = env_int("PEEKR_MAX_ATTRIBUTE_VALUE_CHARS", 262_144)
# The ingest views read the stream themselves and answer 413; Django's own cap would answer 400 first.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
# Load shedding: at most this many ingest requests work at once per web process; the next get 429 + Retry-After
# at once instead of waiting until the exporter times out. Keep it below gunicorn's --threads (make run: 4), so
# a thread is free to say so. 0 = no limit.
PEEKR_INGEST_MAX_CONCURRENCY = env_int("PEEKR_INGEST_MAX_CONCURRENCY", 2)
# Retry-After (seconds) on that 429 and on the 503 an ingest gets while the database is unavailable.
PEEKR_INGEST_RETRY_AFTER_SECONDS = env_int("PEEKR_INGEST_RETRY_AFTER_SECONDS", 2)
if PEEKR_INGEST_MAX_CONCURRENCY < 0 or PEEKR_INGEST_RETRY_AFTER_SECONDS < 0:
    raise ImproperlyConfigured("PEEKR_INGEST_MAX_CONCURRENCY and PEEKR_INGEST_RETRY_AFTER_SECONDS must be >= 0")
# OTLP over gRPC (`manage.py peekr_grpc`, started by `make run`): its port (0 = off), on the web server's host.
PEEKR_GRPC_PORT = env_int("PEEKR_GRPC_PORT", 4317)
if not 0 <= PEEKR_GRPC_PORT <= 65535:
    raise ImproperlyConfigured(f"PEEKR_GRPC_PORT must be 0 (off) or a port 1..65535, got {PEEKR_GRPC_PORT}")
PEEKR_BIND = env_str("PEEKR_BIND") or "127.0.0.1"
# A trace is complete once its root span ended and no span arrived for this long.
PEEKR_TRACE_QUIET_SECONDS = env_float("PEEKR_TRACE_QUIET_SECONDS", 5.0)

# LLM judges: any OpenAI-compatible endpoint; each rule may override the URL and model.
PEEKR_JUDGE_BASE_URL = env_str("PEEKR_JUDGE_BASE_URL")
PEEKR_JUDGE_API_KEY = env_str("PEEKR_JUDGE_API_KEY")
PEEKR_JUDGE_MODEL = env_str("PEEKR_JUDGE_MODEL")
# Projects' own judge connections reach public addresses only unless the operator allows private ones.
PEEKR_JUDGE_ALLOW_PRIVATE = env_bool("PEEKR_JUDGE_ALLOW_PRIVATE", False)
PEEKR_SECRETS_KEY = env_str("PEEKR_SECRETS_KEY")
# Redaction of personal data at ingest (each project's privacy settings). Off only to measure its cost (bench/ingest.py).
PEEKR_REDACT_AT_INGEST = env_bool("PEEKR_REDACT_AT_INGEST", True)
# Span content stored once (traces.lean); off only to measure what it saves (bench/storage.py --no-lean).
PEEKR_LEAN_STORAGE = env_bool("PEEKR_LEAN_STORAGE", True)
# ?evaluate=sync: a bound on the judging time per request and on sync evaluations at once per process.
PEEKR_SYNC_EVAL_SECONDS = env_float("PEEKR_SYNC_EVAL_SECONDS", 10.0)
PEEKR_SYNC_EVAL_CONCURRENCY = env_int("PEEKR_SYNC_EVAL_CONCURRENCY", 2)
# The most text one judgement sends (question, answer, context): a 200 KB prompt must not become a $2 judge call.
PEEKR_JUDGE_MAX_INPUT_CHARS = env_int("PEEKR_JUDGE_MAX_INPUT_CHARS", 32_000)
# A backfill (a rule run on existing traces, evals.backfill) evaluates this many traces per worker task.
PEEKR_BACKFILL_BATCH = env_int("PEEKR_BACKFILL_BATCH", 200)
# ragas reads these at import: no telemetry, no model hub (the worker must reach only the judge endpoint).
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Celery: kombu's filesystem transport on a laptop (a real worker, no server), Redis in production.
BROKER_URL = env_str("PEEKR_BROKER_URL")
if BROKER_URL:
    CELERY_BROKER_URL = BROKER_URL
else:
    _broker_dir = DATA_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"  # the host is ignored; naming it silences a warning
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # remote control (ping, purge) without a server
        "store_processed": False,
        "polling_interval": 0.2,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message to be redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("PEEKR_CELERY_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# Two queues: "celery" for the fast, CPU-bound stages (settle, rules, detectors, routing: batches of traces) and
# "judges" for LLM judge calls, which wait on the network. Workers take one or both (`-Q celery,judges`); make run
# starts one of each, so a slow judge can never hold up rules or detectors.
CELERY_TASK_ROUTES = {"evals.run_judge": {"queue": "judges"}}
# After completion, a trace goes through every stage within this long or the sweep runs it again.
PEEKR_PIPELINE_SWEEP_AFTER_SECONDS = env_float("PEEKR_PIPELINE_SWEEP_AFTER_SECONDS", 180.0)
# /healthz and the UI say the pipeline is behind past this age of the oldest unprocessed completed trace.
PEEKR_PIPELINE_BEHIND_SECONDS = env_float("PEEKR_PIPELINE_BEHIND_SECONDS", 60.0)
# Monitors (alerts): evaluated every this many seconds; alert deliveries time out, and are retried with
# exponential backoff from the base delay, this many attempts in all.
PEEKR_MONITOR_EVAL_SECONDS = env_float("PEEKR_MONITOR_EVAL_SECONDS", 300.0)
# Retention (traces.retention_run): span ids per batch of the expiry job, and its pause between batches (room for
# ingest on a busy database).
PEEKR_RETENTION_BATCH = env_int("PEEKR_RETENTION_BATCH", 2000)
PEEKR_RETENTION_PAUSE_SECONDS = env_float("PEEKR_RETENTION_PAUSE_SECONDS", 0.2)
PEEKR_ALERT_TIMEOUT_SECONDS = env_float("PEEKR_ALERT_TIMEOUT_SECONDS", 10.0)
PEEKR_ALERT_RETRY_BASE_SECONDS = env_float("PEEKR_ALERT_RETRY_BASE_SECONDS", 10.0)
PEEKR_ALERT_DELIVERY_ATTEMPTS = env_int("PEEKR_ALERT_DELIVERY_ATTEMPTS", 6)
# Webhook and Slack channels reach public addresses only (checked when registered and on every connection), so a
# project editor cannot probe internal services through the delivery log; set 1 to allow an internal receiver.
PEEKR_WEBHOOK_ALLOW_PRIVATE = env_bool("PEEKR_WEBHOOK_ALLOW_PRIVATE", False)
# Email channels: Django's SMTP backend (or any EMAIL_BACKEND, e.g. the console one on a laptop).
EMAIL_BACKEND = env_str("PEEKR_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("PEEKR_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("PEEKR_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("PEEKR_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("PEEKR_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("PEEKR_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("PEEKR_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("PEEKR_EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("PEEKR_EMAIL_FROM", "peekr@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("PEEKR_LOG_LEVEL", "WARNING")},
}

CELERY_BEAT_SCHEDULE = {
    "monitors-evaluate": {"task": "alerts.monitors_evaluate", "schedule": PEEKR_MONITOR_EVAL_SECONDS},
    "settle-sweep": {"task": "traces.settle_sweep", "schedule": env_float("PEEKR_SETTLE_SWEEP_SECONDS", 30.0)},
    "judge-requeue-stale": {"task": "evals.requeue_stale", "schedule": 60.0},
    "pipeline-sweep": {"task": "traces.pipeline_sweep", "schedule": env_float("PEEKR_SETTLE_SWEEP_SECONDS", 30.0)},
    "pipeline-sample": {"task": "traces.pipeline_sample", "schedule": 60.0},  # the Evaluations page's lag chart
    "rollup-pending": {"task": "metrics.rollup_pending", "schedule": 30.0},  # re-scored traces roll up again
    "rollups-purge": {"task": "metrics.rollups_purge", "schedule": 86400.0},  # rollups are kept 12 months
    "signals-abandonment": {"task": "signals.abandonment_sweep", "schedule": 60.0},  # sessions quiet for 30 min
    "retention": {"task": "traces.retention", "schedule": 86400.0},  # partitions ahead, content 30/90 d, records 365 d
}
