"""Benchmark settings (``make bench-assign``): served like production, over plain HTTP on loopback.

DEBUG off (no per-query recording), persistent database connections as in production,
quiet logs. No TLS redirect, since the load generator talks to 127.0.0.1 directly.
"""

from workforce.settings.base import *  # noqa: F403
from workforce.settings.env import env_int, env_str

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {
    "default": dj_database_url.parse(  # noqa: F405
        env_str("DATABASE_URL", "postgres://postgres@/fairtask_bench"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
# Setup creates a few users; the password hash cost is not what is being measured.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
