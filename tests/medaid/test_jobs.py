import pytest
from django.db import connection

from medaid.core import jobs
from medaid.core.errors import Refusal
from medaid.core.models import Job
from tests.medaid.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(db):
    user = make_user("boss", is_superuser=True)
    return user


def test_a_job_runs_and_a_second_delivery_does_nothing():
    job = jobs.job_create(kind="test")
    with jobs.job_running(job=job) as progress:
        progress.set_total(10)
        progress.stage("写入")
        progress.advance(10)
    job.refresh_from_db()
    assert (job.status, job.progress_done, job.attempts) == (Job.Status.SUCCEEDED, 10, 1)
    with pytest.raises(jobs.JobNotRunnable), jobs.job_running(job=job):
        pytest.fail("a finished job must not run again unasked")
    with jobs.job_running(job=job, rerun=True):
        pass
    job.refresh_from_db()
    assert job.attempts == 2


def test_a_failure_is_recorded_in_words():
    job = jobs.job_create(kind="test")
    with pytest.raises(Refusal), jobs.job_running(job=job):
        raise Refusal("名册格式不对")
    job.refresh_from_db()
    assert (job.status, job.error) == (Job.Status.FAILED, "名册格式不对")


def test_cancel_stops_a_running_job_at_its_next_chunk(boss):
    job = jobs.job_create(kind="test")
    chunks = 0
    with jobs.job_running(job=job) as progress:
        for _ in range(5):
            chunks += 1  # a chunk's work, committed
            if chunks == 2:  # someone presses 取消 while the second chunk runs
                jobs.job_cancel(job=job, by=boss)
                progress._checked = 0.0  # do not wait a second in a test
            progress.advance(1)
    job.refresh_from_db()
    assert chunks == 2
    assert job.status == Job.Status.CANCELLED
    assert job.progress_done == 2


def test_cancel_of_a_pending_job_is_immediate_and_needs_the_permission(boss):
    job = jobs.job_create(kind="test")
    clerk = make_user("nobody")
    with pytest.raises(Refusal):
        jobs.job_cancel(job=job, by=clerk)
    jobs.job_cancel(job=job, by=boss)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    with pytest.raises(jobs.JobNotRunnable), jobs.job_running(job=job):
        pass
    with pytest.raises(Refusal):
        jobs.job_cancel(job=job, by=boss)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the runner's lock is PostgreSQL's")
def test_the_sweeper_restarts_a_job_whose_runner_died_and_spares_a_live_one(monkeypatch):
    sent = []
    monkeypatch.setattr(jobs, "task_send", lambda name, *args: sent.append((name, args)))
    dead = jobs.job_create(kind="test", task="x.tasks.work", task_args=[1, 2])
    Job.objects.filter(pk=dead.pk).update(status=Job.Status.RUNNING, attempts=1)
    alive = jobs.job_create(kind="test", task="x.tasks.work", task_args=[3])
    Job.objects.filter(pk=alive.pk).update(status=Job.Status.RUNNING, attempts=1)
    worn = jobs.job_create(kind="test", task="x.tasks.work", task_args=[4])
    Job.objects.filter(pk=worn.pk).update(status=Job.Status.RUNNING, attempts=jobs.MAX_JOB_ATTEMPTS)

    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [jobs.JOB_LOCK_SPACE, alive.pk])
        counts = jobs.jobs_sweep()
    finally:
        other.close()
    assert counts == {"resent": 1, "failed": 1}
    assert sent == [("x.tasks.work", (1, 2))]
    dead.refresh_from_db()
    worn.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.stage) == (Job.Status.PENDING, jobs.RESUMED)
    assert worn.status == Job.Status.FAILED
    assert alive.status == Job.Status.RUNNING


def test_a_send_to_an_unreachable_broker_loses_nothing_and_raises_nothing(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """Redis down: the request that started a job still answers; the job's row stays pending
    for the sweeper to send again once the queue is back."""
    import kombu.exceptions

    from medaid.core.celery import app

    def unreachable(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379")

    task = app.tasks["medaid.core.tasks.sweep_jobs"]
    monkeypatch.setattr(task, "delay", unreachable)
    job = jobs.job_create(kind="test", task="medaid.core.tasks.sweep_jobs")
    with django_capture_on_commit_callbacks(execute=True):
        jobs.task_send("medaid.core.tasks.sweep_jobs")
    job.refresh_from_db()
    assert job.status == Job.Status.PENDING
    assert "broker unreachable" in caplog.text


def test_the_dashboard_says_when_the_queue_cannot_be_reached(client, monkeypatch):
    from medaid import dashboard

    boss = make_user("boss2", is_superuser=True)
    client.force_login(boss)
    monkeypatch.setattr(dashboard, "broker_reachable", lambda: False)
    page = client.get("/admin/").content.decode()
    assert "任务队列（Redis）暂时无法连接" in page
    monkeypatch.setattr(dashboard, "broker_reachable", lambda: True)
    assert "暂时无法连接" not in client.get("/admin/").content.decode()
