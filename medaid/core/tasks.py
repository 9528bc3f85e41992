"""Thin tasks of the cross-cutting parts: load ids, call a service."""

from medaid.core.celery import app


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_report(self, job_id: int) -> None:
    """Write one report job's workbook (idempotent: a re-run writes a fresh file)."""
    from medaid.core.reports import report_job_run

    report_job_run(job_id=job_id)
