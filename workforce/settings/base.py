"""Base settings: a working ``make run`` with no variables set.

Development defaults: SQLite and a filesystem Celery broker under ``var/``, DEBUG on,
email to the console. ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to PostgreSQL and
Redis. ``workforce.settings.production`` tightens everything for a real deployment.
"""

import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from workforce.settings.env import env_bool, env_int, env_list, env_str

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("FAIRTASK_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-0123456789-abcdefghijklmnop")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

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
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "workforce",
    "tasks",
    "payments",
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
    "allauth.account.middleware.AccountMiddleware",
    "workforce.middleware.RequireMfaMiddleware",
    "workforce.middleware.UserTimezoneMiddleware",
]

ROOT_URLCONF = "workforce.urls"
WSGI_APPLICATION = "workforce.wsgi.application"

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
                "workforce.context_processors.portal",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fairtask.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "workforce.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["workforce.formats"]

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))

REDIS_CACHE_URL = env_str("CACHE_URL", "")
if REDIS_CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Email: the console in development; SMTP from the environment in production.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Fairtask <no-reply@fairtask.localhost>")

# Accounts (django-allauth): email is the login, and it must be verified.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
# A duplicate signup is told plainly that the address is taken (the issue's "clear message
# naming the field"); the signup and login rate limits below bound enumeration attempts.
ACCOUNT_PREVENT_ENUMERATION = False
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_ADAPTER = "workforce.adapters.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    # allauth limits the login view per IP only; a "/key" rate here makes every sign-in a 500.
    # Guessing one account's password is bounded per key by "login_failed".
    "login": env_str("RATE_LIMIT_LOGIN", "30/m/ip"),
    "login_failed": env_str("RATE_LIMIT_LOGIN_FAILED", "10/m/ip,5/5m/key"),
    "signup": env_str("RATE_LIMIT_SIGNUP", "20/m/ip"),
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
}
LOGIN_REDIRECT_URL = "workforce:home"
LOGIN_URL = "account_login"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Fairtask"

# Celery: an embedded filesystem broker under var/ unless CELERY_BROKER_URL is set.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery-queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "store_processed": False,
    }
    # kombu does not create its folders; make them so any FAIRTASK_VAR_DIR works.
    _queue_dir.mkdir(parents=True, exist_ok=True)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "audit-log-verify-hourly": {"task": "workforce.jobs.audit_log_verify", "schedule": 3600.0},
    "appeals-overdue-daily": {"task": "workforce.jobs.appeals_overdue_notify", "schedule": 86400.0},
    "quality-recompute-15min": {"task": "tasks.jobs.quality_recompute_job", "schedule": 900.0},
    "leases-release-every-minute": {"task": "tasks.jobs.leases_release_job", "schedule": 60.0},
    "answers-auto-approve-hourly": {"task": "tasks.jobs.answers_auto_approve_job", "schedule": 3600.0},
    "import-uploads-purge-daily": {"task": "tasks.jobs.import_uploads_purge_job", "schedule": 86400.0},
    # Resumes payouts left pending by a run whose worker died (same idempotency key, so never twice).
    "payouts-resume-15min": {"task": "payments.payouts.jobs.payouts_resume_job", "schedule": 900.0},
    # Closes every pay period that is over; a second run while one is busy does nothing (advisory lock).
    "pay-periods-close-hourly": {"task": "payments.jobs.periods_close_due_job", "schedule": 3600.0},
    # Runs every compliance check; operations managers are emailed the new findings only.
    "audits-run-daily": {"task": "payments.audits.jobs.audit_run_job", "schedule": 86400.0},
    # Removes fair-wage report files past FAIRTASK_REPORT_RETENTION_DAYS; rows and hashes stay.
    "reports-purge-daily": {"task": "payments.reports.jobs.reports_purge_job", "schedule": 86400.0},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    # MfaEnrolled repeats the MFA middleware's rule for token clients, whom the middleware cannot see.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "workforce.permissions.MfaEnrolled"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "workforce.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Fairtask API",
    "DESCRIPTION": "Contractors, decisions and appeals; projects, tasks, time and review; pay periods, "
    "fair-wage reports and audit findings.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page loads its assets from this server, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A choice set used by more than one component needs a name of its own, or the schema warns.
    "ENUM_NAME_OVERRIDES": {"PayPeriodStatusEnum": "payments.models.PeriodStatus"},
}

# Product settings.
FAIRTASK_DEMO_SEEDERS = ["workforce.demo.seed_demo", "tasks.demo.seed_demo"]
FAIRTASK_APPEAL_DUE_DAYS = env_int("FAIRTASK_APPEAL_DUE_DAYS", 7, minimum=1)
FAIRTASK_CONTRACTORS_PER_PAGE = env_int("FAIRTASK_CONTRACTORS_PER_PAGE", 25, minimum=1)
# Work: idle gaps, caps (wellbeing limits, rule 9), review and qualification timing, imports.
FAIRTASK_IDLE_GAP_SECONDS = env_int("FAIRTASK_IDLE_GAP_SECONDS", 120, minimum=10)
# How often a visible work page sends a heartbeat. Slower than the idle gap, every gap would
# count as idle and no time would be paid, so such a value stops start-up.
FAIRTASK_HEARTBEAT_SECONDS = env_int("FAIRTASK_HEARTBEAT_SECONDS", 15, minimum=1)
if FAIRTASK_HEARTBEAT_SECONDS >= FAIRTASK_IDLE_GAP_SECONDS:
    raise ImproperlyConfigured(
        f"FAIRTASK_HEARTBEAT_SECONDS ({FAIRTASK_HEARTBEAT_SECONDS}) must be shorter than "
        f"FAIRTASK_IDLE_GAP_SECONDS ({FAIRTASK_IDLE_GAP_SECONDS}), or no active time is ever counted."
    )
FAIRTASK_DAILY_HOUR_CAP = env_int("FAIRTASK_DAILY_HOUR_CAP", 10, minimum=1)
FAIRTASK_WEEKLY_HOUR_CAP = env_int("FAIRTASK_WEEKLY_HOUR_CAP", 48, minimum=1)
FAIRTASK_AUTO_APPROVE_DAYS = env_int("FAIRTASK_AUTO_APPROVE_DAYS", 3, minimum=1)
FAIRTASK_QUALIFICATION_COOLDOWN_HOURS = env_int("FAIRTASK_QUALIFICATION_COOLDOWN_HOURS", 24, minimum=0)
FAIRTASK_IMPORT_MAX_BYTES = env_int("FAIRTASK_IMPORT_MAX_BYTES", 200 * 1024 * 1024, minimum=1)
FAIRTASK_UPLOAD_RETENTION_DAYS = env_int("FAIRTASK_UPLOAD_RETENTION_DAYS", 30, minimum=1)
FAIRTASK_UPLOAD_DIR = Path(env_str("FAIRTASK_UPLOAD_DIR", str(VAR_DIR / "uploads")))
# Payments: an FX rate older than this many days before the day it is asked for is refused, so
# a floor is never converted at a stale rate without anyone noticing (rule 2).
FAIRTASK_FX_MAX_AGE_DAYS = env_int("FAIRTASK_FX_MAX_AGE_DAYS", 7, minimum=0)
# The one currency the organisation pays in: every project's rates are in it, and wage floors
# in other currencies are converted into it at the rate of the period's last day.
FAIRTASK_PAY_CURRENCY = env_str("FAIRTASK_PAY_CURRENCY", "USD").strip().upper()
if not re.fullmatch(r"[A-Z]{3}", FAIRTASK_PAY_CURRENCY):
    raise ImproperlyConfigured(
        f"FAIRTASK_PAY_CURRENCY must be a three-letter ISO 4217 code such as USD (got {FAIRTASK_PAY_CURRENCY!r})."
    )
# Pay periods are weeks starting on this weekday (0 = Monday … 6 = Sunday) at midnight in FAIRTASK_PAY_TIMEZONE.
FAIRTASK_PAY_WEEK_START = env_int("FAIRTASK_PAY_WEEK_START", 0, minimum=0)
if FAIRTASK_PAY_WEEK_START > 6:
    raise ImproperlyConfigured(
        f"FAIRTASK_PAY_WEEK_START must be 0 (Monday) to 6 (Sunday) (got {FAIRTASK_PAY_WEEK_START})."
    )
FAIRTASK_PAY_TIMEZONE = env_str("FAIRTASK_PAY_TIMEZONE", "UTC")
try:
    ZoneInfo(FAIRTASK_PAY_TIMEZONE)
except (ZoneInfoNotFoundError, ValueError) as _exc:
    raise ImproperlyConfigured(
        f"FAIRTASK_PAY_TIMEZONE must be an IANA time zone such as UTC or Europe/Berlin (got {FAIRTASK_PAY_TIMEZONE!r})."
    ) from _exc
# Overtime policy: a premium of half the regular rate for every hour over 40 in a pay week.
FAIRTASK_OVERTIME_PREMIUM = env_bool("FAIRTASK_OVERTIME_PREMIUM", False)
# The close handles this many contractors per transaction: a crash loses at most one chunk's work.
FAIRTASK_CLOSE_CHUNK_SIZE = env_int("FAIRTASK_CLOSE_CHUNK_SIZE", 2000, minimum=1)
# Tests only: sleep this long after each committed chunk, so a test can kill a worker mid-close.
FAIRTASK_CLOSE_CHUNK_PAUSE_MS = env_int("FAIRTASK_CLOSE_CHUNK_PAUSE_MS", 0, minimum=0)
# Onboarding checklist steps that other apps add (``(profile) -> ChecklistStep | None``), so
# workforce shows them without importing the apps that build on it.
FAIRTASK_ONBOARDING_STEPS = ["payments.payouts.selectors.payout_account_step"]
# Payouts (rule 6). Nothing here calls Stripe: the client is built on the first payout call.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 30, minimum=1)
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2, minimum=0)
# Where contractors set up payouts: "stripe_connect" (Express accounts) or "bank_file".
FAIRTASK_PAYOUT_PROVIDER = env_str("FAIRTASK_PAYOUT_PROVIDER", "stripe_connect")
if FAIRTASK_PAYOUT_PROVIDER not in ("stripe_connect", "bank_file"):
    raise ImproperlyConfigured(
        f"FAIRTASK_PAYOUT_PROVIDER must be stripe_connect or bank_file (got {FAIRTASK_PAYOUT_PROVIDER!r})."
    )
# The smallest payout, in minor units of the run's currency (1000 = 10.00 USD): smaller
# balances wait for the next run, so fees do not eat small payouts.
FAIRTASK_PAYOUT_MINIMUM_MINOR = env_int("FAIRTASK_PAYOUT_MINIMUM_MINOR", 1000, minimum=1)
# Tests only: a file path. The first payout call to return stops its worker right there (it
# writes its pid into the file and sleeps), so a test can kill it between the provider's
# answer and the database update. Empty (the default) turns the hook off.
FAIRTASK_PAYOUT_TEST_HOLD_FILE = env_str("FAIRTASK_PAYOUT_TEST_HOLD_FILE", "")
# Compliance audits: the daily run re-checks this many of the latest closed periods (a run after
# a close checks that period), and payouts made in the last FAIRTASK_AUDIT_PAYOUT_DAYS days.
FAIRTASK_AUDIT_PERIODS = env_int("FAIRTASK_AUDIT_PERIODS", 8, minimum=1)
FAIRTASK_AUDIT_PAYOUT_DAYS = env_int("FAIRTASK_AUDIT_PAYOUT_DAYS", 60, minimum=1)
# The auditor portal counts a payout as late when it was paid more than this many days after
# the close of the period it pays out (or is still unpaid that long after).
FAIRTASK_AUDIT_LATE_PAYOUT_DAYS = env_int("FAIRTASK_AUDIT_LATE_PAYOUT_DAYS", 7, minimum=1)
# A week that is over and still not closed this many hours after it could be is an audit finding.
FAIRTASK_AUDIT_CLOSE_GRACE_HOURS = env_int("FAIRTASK_AUDIT_CLOSE_GRACE_HOURS", 24, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
# Fair-wage reports: real names only with this AND the payments.view_real_names permission.
FAIRTASK_REPORT_REAL_NAMES = env_bool("FAIRTASK_REPORT_REAL_NAMES", False)
FAIRTASK_REPORT_RETENTION_DAYS = env_int("FAIRTASK_REPORT_RETENTION_DAYS", 365, minimum=1)
FAIRTASK_REPORT_DIR = Path(env_str("FAIRTASK_REPORT_DIR", str(VAR_DIR / "reports")))
# The version a report says made it; empty = the installed package's version (pyproject.toml).
FAIRTASK_VERSION = env_str("FAIRTASK_VERSION", "")
