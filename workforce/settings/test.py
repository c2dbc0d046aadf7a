"""Test settings: the real PostgreSQL and Redis, fast password hashing."""

from workforce.settings.base import *  # noqa: F403
from workforce.settings.env import env_str

DATABASES = {
    "default": dj_database_url.parse(  # noqa: F405
        env_str("DATABASE_URL", "postgres://postgres@/fairtask")
    )
}
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
