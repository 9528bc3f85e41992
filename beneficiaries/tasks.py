"""Thin tasks: load ids, call a service, record the job. All are idempotent (a re-delivered
task finds the batch already validated or applied, or rewrites the same feed checks)."""

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from beneficiaries import services
from beneficiaries.models import RosterImport
from medaid.core.celery import app
from medaid.core.jobs import job_running
from medaid.core.models import Job


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def process_roster_import(self, job_id: int, batch_id: int, apply: bool = False, user_id=None):
    job = Job.objects.get(pk=job_id)
    batch = RosterImport.objects.get(pk=batch_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with job_running(job=job) as progress:
        batch = services.roster_import_process(
            batch=batch, apply=apply, applied_by=user, progress=progress
        )
        job.result = {
            "batch": batch.pk,
            "status": batch.status,
            "rows_total": batch.rows_total,
            "rows_error": batch.rows_error,
            "error": batch.error,
        }
        Job.objects.filter(pk=job.pk).update(result=job.result)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def apply_roster_import(self, job_id: int, batch_id: int, user_id=None):
    job = Job.objects.get(pk=job_id)
    batch = RosterImport.objects.get(pk=batch_id)
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with job_running(job=job):
        summary = services.roster_import_apply(batch=batch, applied_by=user)
        Job.objects.filter(pk=job.pk).update(
            result={"batch": batch.pk, "counts": summary.get("counts", {})}
        )


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
