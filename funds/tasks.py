"""Settlement and reconciliation tasks: thin, idempotent (a settled month is never paid twice,
a crashed run resumes; reconciling only reads), so they are acknowledged late and re-queued
when a worker dies."""

import datetime as dt
import logging

from django.utils import timezone

from beneficiaries.models import County
from funds.models import Account, AccountKind
from funds.reconciliation import reconcile_job
from funds.services import FundsError
from funds.settlement import SettlementLocked, previous_month, settlement_run
from medaid.core.celery import app

logger = logging.getLogger(__name__)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def settle_month(self, county_id: int, year: int, month: int) -> dict:
    county = County.objects.select_related("pooling_area").get(pk=county_id)
    try:
        run = settlement_run(county=county, year=year, month=month)
    except SettlementLocked as exc:
        # Another worker is settling this county and month: refusing is the right outcome.
        logger.warning("%s", exc.message)
        return {"status": "refused", "code": exc.code, "message": exc.message}
    except FundsError as exc:
        # The run row carries the message for the clerk; retrying cannot make money appear.
        logger.warning("settlement of county %s %s-%s refused: %s", county_id, year, month, exc)
        return {"status": "failed", "code": exc.code, "message": exc.message}
    return {"status": run.status, "run_id": run.pk}


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def settle_all_counties(self) -> list[int]:
    """Beat, on the 1st: settle the previous month for every county with an open fund."""
    year, month = previous_month(timezone.localdate())
    county_ids = list(
        Account.objects.filter(
            county__isnull=False, kind__in=[AccountKind.EXPENDITURE, AccountKind.FISCAL]
        )
        .values_list("county_id", flat=True)
        .distinct()
        .order_by("county_id")
    )
    for county_id in county_ids:
        settle_month.delay_on_commit(county_id, year, month)
    return county_ids


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def reconcile_nightly(self) -> dict:
    """Beat, nightly: reconcile the year of yesterday (so the night of 1 January still sees
    December), the engine recompute sampled; the result is recorded on a `Job` of kind
    "funds.reconcile" for the dashboard. Read-only, so running it twice is harmless."""
    year = (timezone.localdate() - dt.timedelta(days=1)).year
    job = reconcile_job(year=year)
    return {"job_id": job.pk, "differences": (job.result or {}).get("differences")}
