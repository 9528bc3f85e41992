"""Thin tasks: load ids, call a service, record the job. Idempotent (a re-delivered task
rewrites the same feed checks)."""

from datetime import date, timedelta

from django.utils import timezone

from beneficiaries import services
from medaid.core.celery import app
from medaid.core.jobs import JobTask, job_running
from medaid.core.models import Job


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def check_change_feeds(self, period: str | None = None):
    """Beat, on the 11th: last month's feeds — on time, late or missing — and apply the pending."""
    if period:
        month = date.fromisoformat(period)
    else:
        month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    job = Job.objects.create(
        kind="beneficiaries.check_change_feeds", parameters={"period": str(month)}
    )
    with job_running(job=job):
        summary = services.feed_checks_run(period=month)
        Job.objects.filter(pk=job.pk).update(result=summary)
    return summary


@app.task(base=JobTask, bind=True, acks_late=True, reject_on_worker_lost=True)
def process_roster_import(self, job_id: int, batch_id: int, apply: bool, user_id=None) -> None:
    """Validate (and apply) a department's list; idempotent: a batch applied is left alone."""
    services.roster_import_job_run(
        job=Job.objects.get(pk=job_id), batch_id=batch_id, apply=apply, user_id=user_id
    )
