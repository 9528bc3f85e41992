"""Running a registered report the way the report centre does, and reading the file back."""

from decimal import Decimal

from django.core.files.storage import default_storage
from python_calamine import CalamineWorkbook

from medaid.core.models import Job
from medaid.core.reports import report_job_start

CENT = Decimal("0.01")


def run_report(capture, *, kind, user, county=None, **parameters):
    """Start the job as the report centre does (its task is sent on commit) and return the job
    and the workbook as {sheet name: rows}."""
    with capture(execute=True):
        job = report_job_start(kind=kind, user=user, county=county, parameters=parameters)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    with default_storage.open(job.result_file.name, "rb") as f:
        book = CalamineWorkbook.from_filelike(f)
        sheets = {n: book.get_sheet_by_name(n).to_python() for n in book.sheet_names}
    return job, sheets


def column(rows, header):
    """The data cells under `header` (between the header row and the 合计 row)."""
    head_at = next(i for i, r in enumerate(rows) if header in r)
    col = rows[head_at].index(header)
    body = []
    for r in rows[head_at + 1 :]:
        if r and r[0] == "合计":
            break
        body.append(r[col])
    return body


def total(rows, header) -> Decimal:
    head = next(r for r in rows if header in r)
    row = next(r for r in rows if r and r[0] == "合计")
    return Decimal(str(row[head.index(header)])).quantize(CENT)
