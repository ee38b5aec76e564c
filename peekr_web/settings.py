"""Peekr's one settings module: every knob is read from the environment (see .env.example).

Defaults are the laptop default: SQLite in WAL mode and Celery on kombu's filesystem transport,
both under PEEKR_DATA_DIR. PEEKR_DATABASE_URL and PEEKR_BROKER_URL switch to PostgreSQL and Redis.
"""

import os
from pathlib import Path

import dj_database_url
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


DATA_DIR = Path(env_str("PEEKR_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("PEEKR_DEBUG", False)
SECRET_KEY = env_str("PEEKR_SECRET_KEY")
if not SECRET_KEY:
    # A laptop install gets a stable random key kept beside its data; production sets PEEKR_SECRET_KEY.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = [h.strip() for h in env_str("PEEKR_ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("PEEKR_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

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
    "traces",
    "evals",
    "insights",
    "annotations",
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
# The ingest views read the stream themselves and answer 413; Django's own cap would answer 400 first.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
# A trace is complete once its root span ended and no span arrived for this long.
PEEKR_TRACE_QUIET_SECONDS = env_float("PEEKR_TRACE_QUIET_SECONDS", 5.0)

# LLM judges: any OpenAI-compatible endpoint; each rule may override the URL and model.
PEEKR_JUDGE_BASE_URL = env_str("PEEKR_JUDGE_BASE_URL")
PEEKR_JUDGE_API_KEY = env_str("PEEKR_JUDGE_API_KEY")
PEEKR_JUDGE_MODEL = env_str("PEEKR_JUDGE_MODEL")
# The most text one judgement sends (question, answer, context): a 200 KB prompt must not become a $2 judge call.
PEEKR_JUDGE_MAX_INPUT_CHARS = env_int("PEEKR_JUDGE_MAX_INPUT_CHARS", 32_000)
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("PEEKR_LOG_LEVEL", "WARNING")},
}

CELERY_BEAT_SCHEDULE = {
    "settle-sweep": {"task": "traces.settle_sweep", "schedule": env_float("PEEKR_SETTLE_SWEEP_SECONDS", 30.0)},
    "judge-requeue-stale": {"task": "evals.requeue_stale", "schedule": 60.0},
}
