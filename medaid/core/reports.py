"""Excel reports as long jobs: the registry every app adds its reports to, and the job that
writes one with progress.

An app registers a builder once::

    @register_report("claims_register", "救助明细台账", needs=("county", "period"))
    def claims_register(*, user, county, parameters) -> ReportBuild:
        claims = scope_to_user(Claim.objects.filter(...), user)
        return ReportBuild(
            filename=report_filename("救助明细台账", county=county and county.name, period=...),
            reports=[Report(title=..., columns=..., rows=rows(claims), row_count=claims.count())],
        )

and anyone starts it with `report_job_start(kind="claims_register", user=..., county=...,
parameters={"period": "2024-03"})`: a `Job` row is created and
`medaid.core.tasks.run_report` is sent on commit; the admin's 后台任务 page shows its progress
and offers the file when done. Builders must scope every queryset to `user`
(`scope_to_user`) — the job runs as the person who asked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from medaid.core.jobs import job_create, job_running, register_job_kind, task_send
from medaid.core.models import Job
from medaid.core.scoping import user_may_see_county
from medaid.core.xlsx import Report, write_workbook

JOB_KIND_PREFIX = "report."


@dataclass
class ReportBuild:
    filename: str
    reports: list[Report]


@dataclass(frozen=True)
class ReportSpec:
    kind: str
    label: str
    builder: Callable[..., ReportBuild]
    # What the report center asks for: any of "county", "period" (YYYY-MM), "year".
    needs: tuple[str, ...] = ()
    # The permission a user needs to start it (None: anyone who may see the data).
    permission: str | None = None
    description: str = ""
    extra: dict = field(default_factory=dict)


REPORTS: dict[str, ReportSpec] = {}


class ReportRequestError(ValueError):
    pass


def register_report(
    kind: str,
    label: str,
    *,
    needs: tuple[str, ...] = (),
    permission: str | None = None,
    description: str = "",
):
    """Decorator registering `builder(*, user, county, parameters) -> ReportBuild`."""

    def decorator(builder):
        REPORTS[kind] = ReportSpec(
            kind=kind,
            label=label,
            builder=builder,
            needs=needs,
            permission=permission,
            description=description,
        )
        register_job_kind(JOB_KIND_PREFIX + kind, label)
        return builder

    return decorator


def period_of(parameters: dict) -> tuple[int, int]:
    """`{"period": "2026-10"}` → (2026, 10); a report that needs a month refuses anything else."""
    raw = str((parameters or {}).get("period") or "")
    try:
        year, month = (int(part) for part in raw.split("-"))
        dt.date(year, month, 1)
    except ValueError:
        raise ReportRequestError(f"结算期间应为“年-月”，如 2026-10，收到：{raw or '空'}") from None
    return year, month


def year_of(parameters: dict) -> int:
    raw = (parameters or {}).get("year")
    try:
        year = int(raw)
    except (TypeError, ValueError):
        raise ReportRequestError(f"年度应为四位数字，收到：{raw or '空'}") from None
    if not 2000 <= year <= 2100:
        raise ReportRequestError(f"年度超出范围：{year}")
    return year


def county_required(county, label: str):
    if county is None:
        raise ReportRequestError(f"“{label}”须选择区县")
    return county


def reports_for(user) -> list[ReportSpec]:
    """The reports `user` may start, in registration order."""
    return [s for s in REPORTS.values() if s.permission is None or user.has_perm(s.permission)]


def report_job_start(*, kind: str, user, county=None, parameters: dict | None = None) -> Job:
    """Create the job and send the task once the surrounding transaction commits."""
    spec = REPORTS.get(kind)
    if spec is None:
        raise ReportRequestError(f"未知的报表：{kind}")
    if spec.permission and not user.has_perm(spec.permission):
        raise ReportRequestError(f"没有导出“{spec.label}”的权限")
    if county is not None and not user_may_see_county(user, county.pk):
        raise ReportRequestError("不能导出其他区县的报表")
    # A malformed month or year is refused here, before a job exists; whether a report may
    # run without one (a whole year's register, a city-wide list) its builder decides.
    if (parameters or {}).get("period"):
        period_of(parameters)
    if (parameters or {}).get("year"):
        year_of(parameters)
    job = job_create(
        kind=JOB_KIND_PREFIX + kind,
        parameters={"report": kind, **(parameters or {})},
        county=county,
        created_by=user,
    )
    task_send("medaid.core.tasks.run_report", job.pk)
    return job


def report_job_run(*, job_id: int) -> Job:
    """Write the job's workbook; the file lands on `job.result_file`, the sums per sheet in
    `job.result["totals"]`. Running it again writes a fresh file (idempotent)."""
    job = Job.objects.select_related("created_by", "county").get(pk=job_id)
    spec = REPORTS[job.parameters["report"]]
    # A refusal (a month not yet settled, a roster not yet built) is the job's answer,
    # recorded on it by job_running — not a crash for the worker to retry.
    with contextlib.suppress(ReportRequestError):
        _run(job, spec)
    job.refresh_from_db()
    return job


def _run(job: Job, spec: ReportSpec) -> None:
    with job_running(job=job) as progress:
        build = spec.builder(user=job.created_by, county=job.county, parameters=job.parameters)
        declared = [r.row_count for r in build.reports]
        if all(n is not None for n in declared):
            progress.set_total(sum(declared))
        name = default_storage.generate_filename(
            timezone.now().strftime("jobs/%Y/%m/")
            + f"{job.pk}-{uuid.uuid4().hex[:8]}-{build.filename}"
        )
        stats = _write_to_storage(name, build, progress.advance)
        result = {
            "filename": build.filename,
            "rows": sum(s.rows for s in stats),
            "sheets": [n for s in stats for n in s.sheets],
            "totals": {
                report.sheet_name: {h: str(v) for h, v in s.totals.items()}
                for report, s in zip(build.reports, stats, strict=True)
            },
        }
        Job.objects.filter(pk=job.pk).update(result_file=name, result=result)
        job.result_file.name = name
        job.result = result


def _write_to_storage(name: str, build: ReportBuild, on_progress):
    """Stream the workbook straight into the storage's file when it is on disk (a report of a
    million rows is not copied through memory), else through a temporary file."""
    try:
        final_path = default_storage.path(name)
    except NotImplementedError:
        final_path = None
    if final_path is not None:
        os.makedirs(os.path.dirname(final_path), exist_ok=True)
        return write_workbook(final_path, build.reports, on_progress=on_progress)
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as tmp:
        stats = write_workbook(tmp.name, build.reports, on_progress=on_progress)
        with open(tmp.name, "rb") as f:
            default_storage.save(name, File(f))
    return stats
