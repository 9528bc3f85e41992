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
        raise ImproperlyConfigured(
            "生产环境（DJANGO_DEBUG=0）必须设置环境变量 SECRET_KEY。 "
            "SECRET_KEY must be set in the environment when DJANGO_DEBUG=0."
        )
    # A development-only key: never used once DEBUG is off.
    SECRET_KEY = "medaid-development-only-key-not-for-production"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if not ALLOWED_HOSTS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "生产环境（DJANGO_DEBUG=0）必须设置环境变量 ALLOWED_HOSTS（逗号分隔的域名）。 "
            "ALLOWED_HOSTS (comma-separated host names) must be set when DJANGO_DEBUG=0."
        )
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
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
    "drf_spectacular",
    "drf_spectacular_sidecar",
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

# --- sessions and HTTPS ---------------------------------------------------------------------
# An idle timeout: the cookie lives SESSION_COOKIE_AGE seconds (default 30 minutes) and every
# request renews it, so a counter left unattended logs itself out.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# The CSRF failure page, in Chinese (templates/403_csrf.html).
CSRF_FAILURE_VIEW = "medaid.core.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# In production (DJANGO_DEBUG=0) cookies go over HTTPS only, plain HTTP is redirected and the
# browser is told to keep to HTTPS (HSTS). Behind a TLS-terminating proxy set
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO (the header the proxy sets; value "https"),
# or SECURE_SSL_REDIRECT=0 when the proxy itself redirects.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"].strip(), "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "medaid.core.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # A JSON body must be one object (medaid.core.api_errors.ObjectJSONParser).
    "DEFAULT_PARSER_CLASSES": [
        "medaid.core.api_errors.ObjectJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["medaid.core.filters.SafeFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "medaid.core.pagination.SafeCursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": os.environ.get("API_RATE", "600/min")},
    "COERCE_DECIMAL_TO_STRING": True,
    # Every error as {"error": {"code", "message" (Chinese), "field"}} (medaid.core.api_errors).
    "EXCEPTION_HANDLER": "medaid.core.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI schema (/api/schema/) and its docs page (/api/docs/, Swagger UI served from the
# drf-spectacular-sidecar package, so it works without the internet).
SPECTACULAR_SETTINGS = {
    "TITLE": "医疗救助经办管理系统 API / medaid API",
    "DESCRIPTION": (
        "医疗救助经办管理系统的接口：部门名册报送、医疗机构费用申报、救助申请、监测预警与待遇测算。"
        "部门与医疗机构账户使用令牌（`Authorization: Token …`），经办人员可用令牌或登录会话。"
        '所有错误均以 JSON 返回：`{"error": {"code", "message"（中文）, "field"}}`。\n\n'
        "The API of medaid, the back office for municipal medical-assistance schemes: rosters "
        "from departments, claims from hospitals, applications, early warnings and the benefit "
        'preview. Every error is JSON: `{"error": {"code", "message", "field"}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "GET_MOCK_REQUEST": "medaid.core.api_schema.build_mock_request",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ClaimSourceEnum": "claims.models.Claim.Source",
        "ApplicationStateEnum": "claims.models.Application.State",
        "ClaimKindEnum": "claims.models.ClaimKind",
        "WarningKindEnum": "claims.models.Warning.Kind",
        "RosterImportKindEnum": "beneficiaries.models.RosterImport.Kind",
        "IdentityCodeEnum": "beneficiaries.models.IdentityCode",
        "ParameterChangeKindEnum": "beneficiaries.models.ParameterChange.Kind",
        "ParameterChangeStateEnum": "beneficiaries.models.ParameterChange.State",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "medaid.core.api_schema.add_error_responses",
    ],
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

# A department's list with refused lines ends absent identities only when its valid lines are
# at least this share of the department's open identities; an apply ending more than
# REVIEW_SHARE of them (and more than REVIEW_MIN) waits for a second person (beneficiaries.merge).
MEDAID_ROSTER_MIN_VALID_SHARE = os.environ.get("MEDAID_ROSTER_MIN_VALID_SHARE", "0.95")
MEDAID_ROSTER_REVIEW_SHARE = os.environ.get("MEDAID_ROSTER_REVIEW_SHARE", "0.10")
MEDAID_ROSTER_REVIEW_MIN = int(os.environ.get("MEDAID_ROSTER_REVIEW_MIN", "10"))

# Seconds the monthly settlement waits between posting two statements: a throttle that lets a
# busy database breathe; the fault tests use it to stop a worker in the middle of a run.
FUNDS_STATEMENT_PAUSE_SECONDS = float(os.environ.get("FUNDS_STATEMENT_PAUSE_SECONDS", "0"))
# Test hooks only (0 in production): seconds a recompute partition, and a roster apply, wait
# after writing and before committing, so that the fault tests can kill the worker (or cut its
# database connection) with the work written but not committed.
CLAIMS_PARTITION_PAUSE_SECONDS = float(os.environ.get("CLAIMS_PARTITION_PAUSE_SECONDS", "0"))
BENEFICIARIES_APPLY_PAUSE_SECONDS = float(os.environ.get("BENEFICIARIES_APPLY_PAUSE_SECONDS", "0"))
