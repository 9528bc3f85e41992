"""Thin tasks of the ground floor: load ids, call a service."""

from medaid.core.celery import app
from medaid.core.jobs import jobs_sweep
from medaid.core.outbox import outbox_dispatch
from medaid.core.reports import report_job_run


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_report(self, job_id: int) -> None:
    """Write one report job's workbook (idempotent: a re-run writes a fresh file)."""
    report_job_run(job_id=job_id)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def dispatch_outbox(self) -> dict:
    """Deliver the outbox events that are due (beat sends it every few seconds; a commit that
    emitted an event sends it at once). Safe to run twice: delivery is once per event."""
    return outbox_dispatch()


@app.task(bind=True)
def sweep_jobs(self) -> dict:
    """Beat, every minute: start again the jobs whose worker died."""
    return jobs_sweep()
