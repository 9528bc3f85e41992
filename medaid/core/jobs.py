"""Long jobs: every long job records its life and progress on a `Job` row, and tasks are sent
by name.

A job's work commits in chunks (partitions, batches), so progress written between chunks is
visible to the admin while the job runs.

Services never import a `tasks` module: tasks import services (they are thin wrappers over
them), so a service that must start a task names it (`task_send("claims.tasks.decide_partition",
...)`). Each app's `AppConfig.ready` imports its tasks module, so every name is registered in
every process, and an unknown name fails loudly instead of being sent nowhere.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.utils import timezone

from medaid.core.celery import app
from medaid.core.models import Job


def task_send(name: str, *args) -> None:
    """Send the task registered as `name` once the surrounding transaction commits (at once
    outside a transaction; in-process when Celery is eager)."""
    app.tasks[name].delay_on_commit(*args)


def job_create(*, kind: str, parameters: dict | None = None, county=None, created_by=None) -> Job:
    return Job.objects.create(
        kind=kind, parameters=parameters or {}, county=county, created_by=created_by
    )


@dataclass
class JobProgress:
    job_id: int
    done: int = 0

    def set_total(self, total: int) -> None:
        Job.objects.filter(pk=self.job_id).update(progress_total=total)

    def advance(self, n: int = 1) -> None:
        self.done += n
        Job.objects.filter(pk=self.job_id).update(progress_done=self.done)


@contextmanager
def job_running(*, job: Job) -> Iterator[JobProgress]:
    """Mark `job` running for the block; succeeded when it ends, failed (and re-raised) when it
    raises. Running a job again restarts its counters: the work itself is idempotent."""
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        finished_at=None,
        error="",
        progress_done=0,
    )
    progress = JobProgress(job_id=job.pk)
    try:
        yield progress
    except Exception as exc:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:4000]
        )
        raise
    job.refresh_from_db()
    job.status = Job.Status.SUCCEEDED
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at", "result", "result_file"])


# Chinese names of job kinds for the admin; each app registers its own kinds.
JOB_KIND_LABELS: dict[str, str] = {"report": "报表导出"}


def register_job_kind(kind: str, label: str) -> None:
    JOB_KIND_LABELS[kind] = label


def job_kind_label(kind: str) -> str:
    return JOB_KIND_LABELS.get(kind, kind)
