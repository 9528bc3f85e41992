"""Settings for medaid, all read from the environment (one file, twelve-factor style).

The embedded default needs nothing: SQLite in the project folder and Celery tasks run eagerly
in-process. Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), SECRET_KEY and
DJANGO_DEBUG=0; see README.md.
"""

import os
from pathlib import Path

import dj_database_url
import pghistory
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_DEBUG=0.")
    # A development-only key: never used once DEBUG is off.
    SECRET_KEY = "medaid-development-only-key-not-for-production"

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h] or (
    ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_celery_beat",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "axes",
    "medaid.core",
    "beneficiaries",
    "claims",
    "funds",
    "medaid",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Records the acting user on every audited change (django-pghistory context).
    # (PostgreSQL only: SQLite has no audit triggers and cannot run the context SQL.)
    "medaid.core.middleware.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "medaid.urls"
WSGI_APPLICATION = "medaid.wsgi.application"
ASGI_APPLICATION = "medaid.asgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Waiting briefly on a locked database beats failing a clerk's click in the demo.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "medaid.User"

# Audit events are read by the object they describe and by their context, both indexed; an
# index on every foreign key a snapshot copies (county, household, township, department …)
# would only slow the bulk paths that write a million events at once.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)
PGHISTORY_CONTEXT_FIELD = pghistory.ContextForeignKey(db_index=True)

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling: five failures lock the username + address pair for 30 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.5
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The lockout page a clerk sees, in Chinese (status 429).
AXES_LOCKOUT_TEMPLATE = "medaid/lockout.html"

# Chinese first and only: the counter's browsers may ask for English, the admin still answers
# in Chinese (no LocaleMiddleware).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
# Where `make demo` and report jobs write finished workbooks for people to open.
REPORTS_DIR = Path(os.environ.get("REPORTS_DIR", BASE_DIR / "out"))

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("API_RATE", "600/min")},
    "COERCE_DECIMAL_TO_STRING": True,
}

# --- Celery --------------------------------------------------------------------------------
# Without a broker every task runs eagerly in-process (the embedded default); with redis://
# a real broker and workers. The visibility timeout is the one number Celery reads in two
# places (broker and result transport); task time limits stay well under it so that Redis
# never re-delivers a task that is still running.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
# In eager mode nothing is ever sent; the in-memory transport keeps kombu from looking for a
# broker on localhost.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", str(4 * 3600)))
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_TIME_LIMIT = CELERY_VISIBILITY_TIMEOUT // 2
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 300
# Job state lives in PostgreSQL (medaid.Job), not in a result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Heavy, long jobs go to their own queue so that a settlement never waits behind a preview.
CELERY_TASK_ROUTES = {
    # The outbox dispatcher is light; the work its handlers start goes to the heavy queue.
    "medaid.core.tasks.dispatch_outbox": {"queue": "default"},
    "medaid.core.tasks.sweep_jobs": {"queue": "default"},
    "funds.tasks.settle_month": {"queue": "heavy"},
    "funds.tasks.settle_all_counties": {"queue": "heavy"},
    "claims.tasks.*": {"queue": "heavy"},
    "beneficiaries.tasks.*": {"queue": "heavy"},
    "medaid.core.tasks.*": {"queue": "heavy"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The one schedule of recurring jobs; django-celery-beat copies it into its tables at start.
CELERY_BEAT_SCHEDULE = {
    "monthly-settlement": {
        "task": "funds.tasks.settle_all_counties",
        "schedule": crontab(minute=0, hour=2, day_of_month=1),
    },
    "early-warning-lists": {
        "task": "claims.tasks.send_warning_lists",
        "schedule": crontab(minute=0, hour=3, day_of_month=5),
    },
    "change-feed-check": {
        "task": "beneficiaries.tasks.check_change_feeds",
        "schedule": crontab(minute=0, hour=1, day_of_month=11),
    },
    "outbox-dispatch": {
        "task": "medaid.core.tasks.dispatch_outbox",
        "schedule": 10.0,
    },
    "job-sweep": {
        "task": "medaid.core.tasks.sweep_jobs",
        "schedule": 60.0,
    },
    "nightly-monitoring": {
        "task": "claims.tasks.monitor_burdens",
        "schedule": crontab(minute=30, hour=1),
    },
    # After the 1st's settlement (02:00): the ledger, statements, claims and reports agree.
    "nightly-reconciliation": {
        "task": "funds.tasks.reconcile_nightly",
        "schedule": crontab(minute=0, hour=4),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # In-process (eager) tasks would log every success into the command's output; a
        # worker keeps its own logging.
        "celery.app.trace": {"level": "WARNING" if CELERY_TASK_ALWAYS_EAGER else "INFO"},
    },
}

# Amount above which a counter application needs a second supervisor's approval.
SECOND_APPROVAL_THRESHOLD = os.environ.get("SECOND_APPROVAL_THRESHOLD", "20000.00")

# Seconds the monthly settlement waits between posting two statements: a throttle that lets a
# busy database breathe; the fault tests use it to stop a worker in the middle of a run.
FUNDS_STATEMENT_PAUSE_SECONDS = float(os.environ.get("FUNDS_STATEMENT_PAUSE_SECONDS", "0"))
