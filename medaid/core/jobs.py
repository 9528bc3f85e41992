"""Long jobs: every long job records its life and progress on a `Job` row, and tasks are sent
by name.

A job's work commits in chunks (partitions, batches), so progress written between chunks is
visible to the admin while the job runs.

A job that must survive its worker records how to run it again (`task_name`, `task_args`): its
runner holds a lock while it runs, and `jobs_sweep` (beat, every minute) sends the task again
when the lock is free but the row still says running. Every job task is idempotent, so running
it again finishes the same work; `JobTask` makes a re-delivered message for a finished job, or
one whose runner is still alive, a no-op.

Services never import a `tasks` module: tasks import services (they are thin wrappers over
them), so a service that must start a task names it (`task_send("claims.tasks.decide_partition",
...)`). Each app's `AppConfig.ready` imports its tasks module, so every name is registered in
every process, and an unknown name fails loudly instead of being sent nowhere.
"""

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import kombu.exceptions
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from medaid.core.celery import app
from medaid.core.errors import Refusal
from medaid.core.models import Job

logger = logging.getLogger(__name__)

# A job's runner holds a PostgreSQL session lock on (JOB_LOCK_SPACE, job id) while it runs; a
# worker that dies (kill -9, a lost node) loses its connection and with it the lock, which is
# how the sweeper tells a dead job from a slow one without guessing from timestamps.
JOB_LOCK_SPACE = 7_203_118
# How often a job may be started again by the sweeper before it is given up as failed.
MAX_JOB_ATTEMPTS = 3
# A pending job whose message may have been lost is sent again after this long.
PENDING_RESEND_AFTER = dt.timedelta(minutes=10)
RESUMED = "中断后自动恢复"
RESENT = "重新发送"


def task_send(name: str, *args) -> None:
    """Send the task registered as `name` once the surrounding transaction commits (at once
    outside a transaction; in-process when Celery is eager).

    A broker that cannot be reached (Redis down) loses nothing: what the task would do is
    already a row — a pending job the sweeper sends again, a pending outbox event the
    dispatcher delivers, an undone partition the partition sweeper resends — so the send is
    logged and the request that asked for it still answers."""
    task = app.tasks[name]

    def send() -> None:
        try:
            task.delay(*args)
        except kombu.exceptions.OperationalError:
            logger.warning("broker unreachable: %s not sent now; its row will resend it", name)

    transaction.on_commit(send)


def broker_reachable(timeout: float = 1.0) -> bool:
    """Whether the task queue answers (always, when tasks run in-process)."""
    if app.conf.task_always_eager:
        return True
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
    except Exception:  # any failure to connect means the same to the person reading it
        return False
    return True


class JobCancelled(Refusal):
    code = "job_cancelled"


class JobNotRunnable(Exception):
    """The job is finished, cancelled or being run by another worker: nothing to do."""


def job_create(
    *,
    kind: str,
    parameters: dict | None = None,
    county=None,
    created_by=None,
    task: str = "",
    task_args: list | tuple = (),
) -> Job:
    return Job.objects.create(
        kind=kind,
        parameters=parameters or {},
        county=county,
        created_by=created_by,
        task_name=task,
        task_args=list(task_args),
    )


def job_start(
    *,
    kind: str,
    task: str,
    args: list | tuple = (),
    parameters: dict | None = None,
    county=None,
    created_by=None,
) -> Job:
    """Create a job and send its task after commit. The task receives the job id first, then
    `args`; the same call is what the sweeper repeats."""
    job = job_create(
        kind=kind, parameters=parameters, county=county, created_by=created_by, task=task
    )
    job.task_args = [job.pk, *args]
    job.save(update_fields=["task_args"])
    task_send(task, *job.task_args)
    return job


@dataclass
class JobProgress:
    job_id: int
    done: int = 0
    _checked: float = field(default=0.0, repr=False)

    def set_total(self, total: int) -> None:
        Job.objects.filter(pk=self.job_id).update(progress_total=total)

    def stage(self, text: str) -> None:
        """Name what the job is doing now (校验, 写入, 重算 …) for the job page."""
        Job.objects.filter(pk=self.job_id).update(stage=text[:64])
        self.check_cancelled()

    def advance(self, n: int = 1) -> None:
        self.done += n
        Job.objects.filter(pk=self.job_id).update(progress_done=self.done)
        self.check_cancelled()

    def check_cancelled(self) -> None:
        """Raise `JobCancelled` when someone asked to cancel (read at most once a second).
        Callers advance between committed chunks, so a cancel never leaves half a chunk."""
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        if Job.objects.filter(pk=self.job_id, cancel_requested=True).exists():
            raise JobCancelled("任务已按要求取消")


def lock_try(key: int, space: int = JOB_LOCK_SPACE) -> bool:
    """Try the session advisory lock (space, key): held until `lock_release` or until the
    connection dies (a killed worker's lock is freed with its backend)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [space, key])
        return cursor.fetchone()[0]


def lock_release(key: int, space: int = JOB_LOCK_SPACE) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [space, key])


def job_error_message(exc: BaseException) -> str:
    """What a failed job (or batch) says: a refusal's own words; a lost database connection
    (terminated backend, restart, network) in Chinese, since its driver text is English."""
    if isinstance(exc, Refusal):
        return exc.message
    if isinstance(exc, OperationalError | InterfaceError):
        return f"数据库连接中断，本次运行未提交的部分已全部回滚，可重新执行（{exc}）"
    return str(exc)


def reconnect_if_lost() -> None:
    """After a failure outside any transaction: drop a dead connection so that recording the
    failure opens a fresh one instead of failing in turn."""
    nothing_to_drop = connection.connection is None or connection.in_atomic_block
    if not nothing_to_drop and not connection.is_usable():
        connection.close()


@contextmanager
def job_running(*, job: Job, rerun: bool = False) -> Iterator[JobProgress]:
    """Mark `job` running for the block; succeeded when it ends, cancelled when someone asked,
    failed (and re-raised) when it raises. Raises `JobNotRunnable` before the block when the job
    is finished (unless `rerun`: a person asked for it again) or another worker holds it.
    Running a job again restarts its counters: the work itself is idempotent."""
    if not lock_try(job.pk):
        raise JobNotRunnable(f"job {job.pk} is running in another worker")
    try:
        job.refresh_from_db(fields=["status", "cancel_requested"])
        finished = (Job.Status.SUCCEEDED, Job.Status.CANCELLED)
        if job.status in finished and not rerun:
            raise JobNotRunnable(f"job {job.pk} is {job.status}")
        if job.cancel_requested and not rerun:
            _finish(job, Job.Status.CANCELLED, "任务已按要求取消")
            raise JobNotRunnable(f"job {job.pk} was cancelled before it started")
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.RUNNING,
            started_at=timezone.now(),
            finished_at=None,
            error="",
            stage="",
            progress_done=0,
            cancel_requested=False,
            attempts=F("attempts") + 1,
        )
        progress = JobProgress(job_id=job.pk)
        try:
            yield progress
        except JobCancelled as exc:
            _finish(job, Job.Status.CANCELLED, exc.message)
            return
        except Exception as exc:
            reconnect_if_lost()
            _finish(job, Job.Status.FAILED, job_error_message(exc))
            raise
        job.refresh_from_db()
        job.status = Job.Status.SUCCEEDED
        job.finished_at = timezone.now()
        job.stage = ""
        job.save(update_fields=["status", "finished_at", "stage", "result", "result_file"])
    finally:
        lock_release(job.pk)


def _finish(job: Job, status: str, error: str) -> None:
    Job.objects.filter(pk=job.pk).update(
        status=status, finished_at=timezone.now(), error=error[:4000]
    )


class JobTask(app.Task):
    """Base of every task that runs a job: a message for a job that is finished, or that a
    live worker is running, is acknowledged and dropped (the sweeper or Redis re-delivery can
    send one twice; the job's own row decides)."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except JobNotRunnable as exc:
            logger.info("%s skipped: %s", self.name, exc)
            return {"status": "skipped", "reason": str(exc)}


def job_cancel(*, job: Job, by) -> Job:
    """Ask a job to stop. A pending job is cancelled at once; a running one stops at its next
    chunk boundary (what it committed stays: every job's chunks are whole)."""
    if not by.has_perm("medaid.cancel_job"):
        raise Refusal("没有取消后台任务的权限", code="permission_denied")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (Job.Status.PENDING, Job.Status.RUNNING):
            raise Refusal(f"任务{job.get_status_display()}，不能取消", code="job_finished")
        job.cancel_requested = True
        update = ["cancel_requested"]
        if job.status == Job.Status.PENDING:
            job.status = Job.Status.CANCELLED
            job.finished_at = timezone.now()
            job.error = f"{by.get_full_name() or by.get_username()} 取消"
            update += ["status", "finished_at", "error"]
        job.save(update_fields=update)
    return job


# Work that is not one job row (a run's partitions, each its own task) registers how to find
# and resend its orphans: `fn(now=…)` returns counts ({"resent": n, "failed": m}).
SWEEPERS: dict[str, Callable[..., dict]] = {}


def sweeper_register(name: str, fn: Callable[..., dict]) -> None:
    """Have `jobs_sweep` call `fn(now=…)` too (once per name: registering again replaces)."""
    SWEEPERS[name] = fn


def jobs_sweep(*, now=None) -> dict:
    """Find jobs whose worker died and start them again (PostgreSQL: the runner's lock is
    free but the row says running; a pending job older than `PENDING_RESEND_AFTER`), then run
    the registered sweepers; their counts add to the job counts."""
    now = now or timezone.now()
    counts = {"resent": 0, "failed": 0}
    if connection.vendor != "postgresql":
        return counts
    counts = _jobs_sweep(now)
    for name, fn in SWEEPERS.items():
        try:
            found = fn(now=now) or {}
        except Exception:
            logger.exception("sweeper %s failed", name)
            continue
        for key, n in found.items():
            counts[key] = counts.get(key, 0) + n
    return counts


def _jobs_sweep(now) -> dict:
    counts = {"resent": 0, "failed": 0}
    stale_pending = Job.objects.filter(
        status=Job.Status.PENDING, created_at__lt=now - PENDING_RESEND_AFTER
    ).exclude(task_name="")
    running = Job.objects.filter(status=Job.Status.RUNNING).exclude(task_name="")
    resend_once = stale_pending.exclude(stage=RESENT)
    for job in [*running, *resend_once]:
        if not lock_try(job.pk):
            continue  # its runner is alive
        try:
            job.refresh_from_db()
            if job.status not in (Job.Status.PENDING, Job.Status.RUNNING):
                continue
            if job.status == Job.Status.RUNNING and job.attempts >= MAX_JOB_ATTEMPTS:
                _finish(job, Job.Status.FAILED, f"任务中断，已运行 {job.attempts} 次仍未完成")
                counts["failed"] += 1
                continue
            stage = RESUMED if job.status == Job.Status.RUNNING else RESENT
            Job.objects.filter(pk=job.pk).update(status=Job.Status.PENDING, stage=stage)
        finally:
            lock_release(job.pk)
        logger.warning("job %s (%s) orphaned: sending %s again", job.pk, job.kind, job.task_name)
        task_send(job.task_name, *job.task_args)
        counts["resent"] += 1
    return counts


def queue_waiting(task_name: str) -> int | None:
    """How many messages wait in the queue `task_name` is routed to (0 when tasks run eagerly;
    None when the broker cannot be asked). A message a worker has taken is not counted."""
    if app.conf.task_always_eager:
        return 0
    try:
        queue = app.amqp.router.route({}, task_name)["queue"]
        with app.connection_for_read() as conn:
            return conn.default_channel.queue_declare(queue=queue.name).message_count
    except Exception:
        logger.warning("cannot read the length of the queue of %s", task_name, exc_info=True)
        return None


# Chinese names of job kinds for the admin; each app registers its own kinds.
JOB_KIND_LABELS: dict[str, str] = {"report": "报表导出"}


def register_job_kind(kind: str, label: str) -> None:
    JOB_KIND_LABELS[kind] = label


def job_kind_label(kind: str) -> str:
    return JOB_KIND_LABELS.get(kind, kind)
