"""Production settings: ``check --deploy`` is clean, and a missing or bad variable stops start-up."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from workforce.settings.env import env_bool, env_int, env_list, env_str

REPO = Path(__file__).resolve().parent.parent
# The local PostgreSQL and Redis; ``check`` opens no connection, so only the form matters.
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "workforce.settings.production",
    "ALLOWED_HOSTS": "fairtask.example.org",
    "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@/fairtask"),
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/14",
    "CACHE_URL": "redis://127.0.0.1:6379/14",
}


def _production_env(**changes: str | None) -> dict[str, str]:
    """A clean environment (nothing inherited but PATH/HOME) with every required variable set."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    env.update(PRODUCTION_ENV, SECRET_KEY=secrets.token_urlsafe(64))
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_no_issues_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", env=_production_env(SECRET_KEY=None))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "The environment variable SECRET_KEY must be set." in result.stderr


@pytest.mark.parametrize("name", ["ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"])
def test_production_refuses_to_start_without_each_required_variable(name):
    result = _manage("check", env=_production_env(**{name: None}))
    assert result.returncode != 0
    assert f"The environment variable {name} must be set" in result.stderr


def test_production_refuses_a_debug_value_that_is_neither_true_nor_false():
    result = _manage("check", env=_production_env(DEBUG="maybe"))
    assert result.returncode != 0
    assert "DEBUG must be true or false (got 'maybe')." in result.stderr


def test_production_refuses_an_hsts_duration_that_is_not_a_whole_number():
    result = _manage("check", env=_production_env(SECURE_HSTS_SECONDS="one year"))
    assert result.returncode != 0
    assert "SECURE_HSTS_SECONDS must be a whole number (got 'one year')." in result.stderr


def test_a_secret_can_be_read_from_a_file_named_by_the_file_variable(tmp_path, monkeypatch):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-a-mounted-secret\n")
    monkeypatch.setenv("SECRET_KEY", "from-the-plain-variable")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret_file))
    assert env_str("SECRET_KEY") == "from-a-mounted-secret"


def test_an_unreadable_secret_file_is_refused_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE points at"):
        env_str("SECRET_KEY")


def test_an_empty_required_variable_counts_as_missing(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "")
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        env_str("SECRET_KEY")


@pytest.mark.parametrize(("raw", "expected"), [("yes", True), ("ON", True), ("1", True), ("off", False), ("0", False)])
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("EMAIL_USE_TLS", raw)
    assert env_bool("EMAIL_USE_TLS", not expected) is expected


def test_an_unknown_boolean_spelling_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("EMAIL_USE_TLS", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"^EMAIL_USE_TLS must be true or false \(got 'maybe'\)\.$"):
        env_bool("EMAIL_USE_TLS", True)


def test_a_number_that_is_not_whole_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "25.5")
    with pytest.raises(ImproperlyConfigured, match=r"^EMAIL_PORT must be a whole number \(got '25.5'\)\.$"):
        env_int("EMAIL_PORT", 25, minimum=1)


def test_a_number_below_its_minimum_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("FAIRTASK_APPEAL_DUE_DAYS", "0")
    with pytest.raises(ImproperlyConfigured, match=r"^FAIRTASK_APPEAL_DUE_DAYS must be at least 1 \(got 0\)\.$"):
        env_int("FAIRTASK_APPEAL_DUE_DAYS", 7, minimum=1)


def test_a_list_drops_blank_items_and_surrounding_spaces(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " fairtask.example.org , ,www.fairtask.example.org")
    assert env_list("ALLOWED_HOSTS") == ["fairtask.example.org", "www.fairtask.example.org"]
