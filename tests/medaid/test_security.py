"""Production settings: secure cookies, HTTPS, HSTS; a refused start without a secret key."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.medaid.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({k: getattr(settings, k, None) for k in ("
    "'DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
    "'SECURE_HSTS_SECONDS', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_HTTPONLY', "
    "'X_FRAME_OPTIONS', 'ALLOWED_HOSTS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
    "'SECURE_HSTS_PRELOAD', 'SECURE_PROXY_SSL_HEADER', 'SECURE_CONTENT_TYPE_NOSNIFF', "
    "'SESSION_COOKIE_AGE', 'SESSION_SAVE_EVERY_REQUEST')}))"
)


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x" * 60,
    "ALLOWED_HOSTS": "medaid.example",
}
OURS = (
    "SECRET_KEY",
    "DJANGO_DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_AGE",
    # Set by the test run (pytest-django / Playwright), never in a deployment.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def probe(env: dict, args=None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in OURS}
    full.update(env, DJANGO_SETTINGS_MODULE="medaid.settings")
    return subprocess.run(
        [sys.executable, *(args or ["-c", PROBE])],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
    )


def settings_of(env: dict) -> dict:
    done = probe(env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_settings_are_secure():
    s = settings_of(PRODUCTION)
    assert s["DEBUG"] is False
    assert s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"]
    assert s["SECURE_SSL_REDIRECT"] and s["SECURE_HSTS_SECONDS"] >= 31536000
    assert s["SESSION_COOKIE_HTTPONLY"] and s["X_FRAME_OPTIONS"] == "DENY"
    assert s["ALLOWED_HOSTS"] == ["medaid.example"]


def test_production_refuses_to_start_without_a_secret_key():
    done = probe({"DJANGO_DEBUG": "0"})
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr and "必须设置" in done.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    done = probe({"DJANGO_DEBUG": "0", "SECRET_KEY": "x" * 50})
    assert done.returncode != 0
    assert "ALLOWED_HOSTS" in done.stderr and "必须设置" in done.stderr


def test_production_hsts_redirect_and_proxy_header_come_from_the_environment():
    s = settings_of(PRODUCTION)
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and s["SECURE_HSTS_PRELOAD"]
    assert s["SECURE_CONTENT_TYPE_NOSNIFF"] and s["SECURE_PROXY_SSL_HEADER"] is None
    s = settings_of(
        {
            **PRODUCTION,
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_PRELOAD": "0",
            "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
        }
    )
    assert s["SECURE_SSL_REDIRECT"] is False and s["SECURE_HSTS_PRELOAD"] is False
    assert s["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_sessions_end_after_thirty_idle_minutes_by_default():
    s = settings_of(PRODUCTION)
    assert s["SESSION_COOKIE_AGE"] == 30 * 60 and s["SESSION_SAVE_EVERY_REQUEST"] is True
    assert settings_of({**PRODUCTION, "SESSION_COOKIE_AGE": "600"})["SESSION_COOKIE_AGE"] == 600


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    """`manage.py check --deploy --fail-level WARNING` (the CI step): no warning at all."""
    env = {**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}"}
    done = probe(env, ["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_password_validators_ask_for_ten_characters_and_no_common_words(settings):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    names = [v["NAME"].rsplit(".", 1)[-1] for v in settings.AUTH_PASSWORD_VALIDATORS]
    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    for weak in ("short1!", "password123", "12345678901"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password(PASSWORD)


@pytest.mark.django_db
def test_logins_logouts_and_failures_are_recorded(client, clerk_a):
    from medaid.core.models import LoginEvent

    url = reverse("admin:login")
    client.post(url, {"username": "clerk_a", "password": "wrong-password"}, REMOTE_ADDR="10.1.2.3")
    client.post(url, {"username": "nobody", "password": "wrong-password"})
    client.post(url, {"username": "clerk_a", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    client.post(reverse("admin:logout"))
    events = list(LoginEvent.objects.order_by("id").values_list("kind", "username", "user", "ip"))
    assert events == [
        ("failed", "clerk_a", clerk_a.pk, "10.1.2.3"),
        ("failed", "nobody", None, "127.0.0.1"),
        ("login", "clerk_a", clerk_a.pk, "10.1.2.3"),
        ("logout", "clerk_a", clerk_a.pk, "127.0.0.1"),
    ]


@pytest.mark.django_db
def test_every_request_renews_the_idle_session(client, clerk_a):
    client.force_login(clerk_a)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "sessionid" in response.cookies  # re-sent (and so renewed) on every request


@pytest.mark.django_db
def test_the_lockout_page_is_chinese(client, clerk_a, settings):
    url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": "clerk_a", "password": "wrong-password"})
    response = client.post(url, {"username": "clerk_a", "password": PASSWORD})
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()


@pytest.mark.django_db
def test_the_api_refuses_anonymous_callers(client):
    assert client.get("/api/v1/preview/").status_code in (401, 403)
