"""Real services for `@pytest.mark.integration` tests: the PostgreSQL test database, Redis,
and a `celery worker` process that a test starts and stops (or kills).

These tests never skip: in `make test-services` (and so in CI) a missing PostgreSQL or Redis
is a failure.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import kombu.pools
import pytest
import redis
from django.conf import settings
from django.db import connection

from beneficiaries.models import Identity, Person
from claims.models import Claim, Hospital
from medaid.core.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def redis_url() -> str:
    url = os.environ.get("MEDAID_TEST_REDIS_URL")
    if not url:
        pytest.fail(
            "MEDAID_TEST_REDIS_URL is not set: run integration tests with `make test-services`"
        )
    return url


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.fail("integration tests need PostgreSQL: run them with `make test-services`")


def test_database_url() -> str:
    """The URL of the database pytest-django created, for processes the test starts."""
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


def _file_settings() -> dict[str, str]:
    """Where this test keeps uploaded and generated files (the per-test folders of
    tests/conftest.py), so that a worker reads the file a test uploaded."""
    return {"MEDIA_ROOT": str(settings.MEDIA_ROOT), "REPORTS_DIR": str(settings.REPORTS_DIR)}


class _CeleryProcess:
    """A `celery` subprocess on the test database, the test Redis and the test's file folders:
    what a worker and a beat share (start until its log says it is ready, stop, kill)."""

    kind = ""  # "worker" or "beat"
    ready_text = b""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.log_path = ROOT / "test-artifacts" / f"{self.kind}-{os.getpid()}-{time.time_ns()}.log"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30):
        self.log_path.parent.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": redis_url(),
            "DJANGO_SETTINGS_MODULE": "medaid.settings",
            "PYTHONPATH": str(ROOT),
            **_file_settings(),
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", *self.argv()],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery {self.kind} exited early:\n{self.log()}")
            if self.ready_text in self.log_path.read_bytes():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"celery {self.kind} did not start in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the process and its children: a crash, not a shutdown."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None):
            self._log.close()


class WorkerProcess(_CeleryProcess):
    """A `celery worker` subprocess; `kill()` is how a test crashes it."""

    kind = "worker"
    ready_text = b"ready."

    def __init__(self, *, queues: str = "default,heavy", concurrency: int = 1):
        super().__init__()
        self.queues = queues
        self.concurrency = concurrency

    def argv(self) -> list[str]:
        return [
            "-A",
            "medaid.core.celery",
            "worker",
            "-Q",
            self.queues,
            "-c",
            str(self.concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
            "-n",
            f"test-{time.time_ns()}@%h",
        ]

    def wait_until_idle(self, client: redis.Redis, *, timeout: float = 90) -> None:
        """Until the queues are empty and the worker has finished what it took."""
        deadline = time.monotonic() + timeout
        last, stable_since = None, time.monotonic()
        while time.monotonic() < deadline:
            queued = sum(client.llen(q) for q in self.queues.split(","))
            unacked = client.hlen("unacked")
            done = self.log().count("succeeded in")
            if done != last or queued or unacked:
                last, stable_since = done, time.monotonic()
            elif time.monotonic() - stable_since > 2:
                return
            time.sleep(0.2)
        raise AssertionError(f"the worker did not become idle in {timeout}s:\n{self.log()[-3000:]}")


class BeatProcess(_CeleryProcess):
    """A `celery beat` subprocess sending the outbox dispatcher and the job sweeper on their
    production schedule (`tests.integration_beat`) to the test Redis. Its schedule state lives
    in a file of its own (`PersistentScheduler`), so it needs no scheduler tables."""

    kind = "beat"
    ready_text = b"beat: Starting"

    def __init__(self):
        super().__init__()
        self.schedule_path = self.log_path.with_suffix(".schedule")

    def argv(self) -> list[str]:
        return [
            "-A",
            "tests.integration_beat",
            "beat",
            "--scheduler",
            "celery.beat:PersistentScheduler",
            "-s",
            str(self.schedule_path),
            "--pidfile=",
            "-l",
            "info",
        ]

    def sent(self, task: str) -> int:
        """How many times beat has sent `task` so far."""
        return sum(
            1 for line in self.log().splitlines() if "Sending due task" in line and task in line
        )

    def stop(self) -> None:
        super().stop()
        for path in self.schedule_path.parent.glob(f"{self.schedule_path.name}*"):
            path.unlink(missing_ok=True)


def _reset_connection_pools() -> None:
    # Celery builds its connection and producer pools from broker_url on first use; drop
    # them so the next send connects to the broker now configured.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # kombu keeps producer pools per connection in a registry of its own.
    kombu.pools.reset()


@contextmanager
def broker_for_tests():
    """Point this process's Celery app at the test Redis (not eager) for the block."""
    url = redis_url()
    client = redis.Redis.from_url(url)
    client.ping()
    client.flushdb()
    saved = {k: celery_app.conf[k] for k in ("broker_url", "task_always_eager")}
    celery_app.conf.update(broker_url=url, task_always_eager=False)
    _reset_connection_pools()
    try:
        yield client
    finally:
        celery_app.conf.update(saved)
        _reset_connection_pools()
        client.flushdb()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def celery_broker():
    require_postgresql()
    with broker_for_tests() as client:
        yield client


@pytest.fixture
def celery_worker_process(celery_broker):
    worker = WorkerProcess().start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def celery_beat_process(celery_broker):
    beat = BeatProcess().start()
    try:
        yield beat
    finally:
        beat.stop()


def people_with_claims(county, n_people: int) -> None:
    """`n_people` 低保边缘 people of `county`, each with a March and a July stay in 2024 at
    the county's hospital: data a recompute has something to decide for."""
    hospital = Hospital.objects.create(
        code=f"R{county.code}", name=f"{county.name}人民医院", level=2, county=county
    )
    for n in range(n_people):
        person = Person.objects.create(
            id_number=f"{county.code}19700101{n:04d}",
            name=f"对象{n}",
            sex="F",
            birth_date=dt.date(1970, 1, 1),
            county=county,
        )
        Identity.objects.create(person=person, code="dibao_edge", start=dt.date(2023, 1, 1))
        for month in (3, 7):
            Claim.objects.create(
                person=person,
                county=county,
                hospital=hospital,
                source=Claim.Source.DECLARATION,
                external_ref=f"ZY{county.code}{n:04d}{month:02d}",
                kind="inpatient",
                admitted=dt.date(2024, month, 1),
                discharged=dt.date(2024, month, 10),
                total_cost=Decimal("20000.00") + n,
                in_policy_cost=Decimal("20000.00"),
                basic_insurance_paid=Decimal("11000.00"),
            )
