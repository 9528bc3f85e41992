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
    "'X_FRAME_OPTIONS', 'ALLOWED_HOSTS')}))"
)


def probe(env: dict) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_DEBUG")}
    full.update(env, DJANGO_SETTINGS_MODULE="medaid.settings")
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=full, capture_output=True, text=True
    )


def test_production_settings_are_secure():
    done = probe({"DJANGO_DEBUG": "0", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "medaid.example"})
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout.strip().splitlines()[-1])
    assert s["DEBUG"] is False
    assert s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"]
    assert s["SECURE_SSL_REDIRECT"] and s["SECURE_HSTS_SECONDS"] >= 31536000
    assert s["SESSION_COOKIE_HTTPONLY"] and s["X_FRAME_OPTIONS"] == "DENY"
    assert s["ALLOWED_HOSTS"] == ["medaid.example"]


def test_production_refuses_to_start_without_a_secret_key():
    done = probe({"DJANGO_DEBUG": "0"})
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr


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
