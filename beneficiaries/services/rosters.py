"""Departments' lists: receiving a file, validating every row into the staging table, the
preview and the apply (both run `merge.merge_batch`; the preview rolls it back), retrying a
failed batch, and the 10th-of-month check of the change feeds.

Only filling the staging table differs by database (COPY on PostgreSQL); the checks and the
merge are the same SQL on PostgreSQL and SQLite. Person and Identity changes are audited by
triggers, which see bulk SQL too.
"""

import hashlib
import logging
import time
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.files.base import File
from django.db import connection, transaction
from django.utils import timezone

from beneficiaries import imports, merge
from beneficiaries.audit import history_context
from beneficiaries.imports import ROW_REASONS, FileRefused
from beneficiaries.merge import T, TimedCursor, analyze, bulk_settings
from beneficiaries.models import (
    FEED_DEPARTMENTS,
    County,
    Department,
    DepartmentKind,
    FeedCheck,
    RosterImport,
    RosterImportRow,
    RowOutcome,
    Township,
)
from beneficiaries.selectors import identity_type_mappings
from medaid.core import files, validators
from medaid.core.bulk import insert_rows
from medaid.core.errors import Refusal, Rollback
from medaid.core.jobs import (
    job_error_message,
    job_running,
    job_start,
    reconnect_if_lost,
    register_job_kind,
)
from medaid.core.models import Job, User

logger = logging.getLogger(__name__)

COPY_CHUNK = 20_000
MAX_UPLOAD_BYTES_DEFAULT = 300 * 1024 * 1024
MAX_ROWS_DEFAULT = 2_000_000


class ImportStateError(Refusal):
    """The batch (or roster) is not in a state that allows the requested step."""

    code = "state"


def _max_upload_bytes() -> int:
    return int(getattr(settings, "BENEFICIARIES_MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES_DEFAULT))


def _max_rows() -> int:
    return int(getattr(settings, "BENEFICIARIES_MAX_ROWS", MAX_ROWS_DEFAULT))


# ---------------------------------------------------------------------------------------------
# Receiving


def roster_import_receive(
    *,
    department: Department,
    kind: str,
    upload,
    file_name: str,
    stated_date: date,
    channel: str,
    uploaded_by=None,
    delivered_at: datetime | None = None,
    period: date | None = None,
    end_absent: bool = False,
    date_note: str = "",
) -> tuple[RosterImport, bool]:
    """Keep a delivered file and its dates; refuse what is not a roster file at all.

    Returns `(batch, created)`. The same file from the same department returns the batch it
    produced the first time, unchanged (`created` False): uploading twice changes nothing.
    Raises `FileRefused` for an empty, oversized or foreign file (nothing is kept), and a
    `Refusal` naming its field for a date no list can carry (a stated date after today).
    """
    today = timezone.localdate()
    validators.day(stated_date, field="stated_date", label="名单载明日期", today=today)
    validators.day(period, field="period", label="所属月份", today=today, ahead="planned")
    date_note = validators.text(date_note, field="date_note", label="日期不符说明", max_length=200)
    size = imports.sniff_size(upload)
    if size == 0:
        raise FileRefused("文件为空", code="empty_file")
    limit = _max_upload_bytes()
    if size > limit:
        raise FileRefused(
            f"文件过大（{size / 1048576:.1f} MB，上限 {limit / 1048576:.0f} MB），请拆分后分批上传",
            code="file_too_large",
        )
    digest = hashlib.sha256()
    upload.seek(0)
    head = b""
    for chunk in _chunks(upload):
        if len(head) < 65536:
            head += chunk[: 65536 - len(head)]
        digest.update(chunk)
    content_hash = digest.hexdigest()
    existing = RosterImport.objects.filter(department=department, content_hash=content_hash).first()
    if existing is not None:
        return existing, False
    fmt = files.file_format(head, file_name, json_ok=kind == RosterImport.Kind.PLATFORM)
    if kind not in RosterImport.Kind.values:
        raise FileRefused("名单类型无效", code="kind_unknown")
    if kind == RosterImport.Kind.PLATFORM and department.kind != DepartmentKind.MEDICAL_SECURITY:
        raise Refusal(
            "医保平台人员身份信息由本县医疗保障部门报送，请选择医疗保障部门",
            code="department_kind",
            field="department",
        )
    delivered_at = delivered_at or timezone.now()
    if period is None:
        period = stated_date.replace(day=1)
        if kind == RosterImport.Kind.FEED and stated_date.day <= 15:
            # A feed dated early in a month reports the month before (due by the 10th).
            period = (period - timedelta(days=1)).replace(day=1)
    upload.seek(0)
    batch = RosterImport(
        department=department,
        county_id=department.county_id,
        kind=kind,
        period=period.replace(day=1),
        stated_date=stated_date,
        delivered_at=delivered_at,
        date_note=date_note,
        channel=channel,
        file_name=file_name[:255],
        file_format=fmt,
        content_hash=content_hash,
        end_absent=end_absent and kind == RosterImport.Kind.ROSTER,
        uploaded_by=uploaded_by,
    )
    with transaction.atomic():
        batch.file.save(f"{content_hash[:16]}.{fmt}", File(upload), save=False)
        batch.save()
    return batch, True


def _chunks(upload):
    if hasattr(upload, "chunks"):
        yield from upload.chunks()
        return
    while chunk := upload.read(1 << 20):
        yield chunk


# ---------------------------------------------------------------------------------------------
# Validating: stage every row, then the set-based checks, then (optionally) the preview


def roster_import_validate(*, batch: RosterImport, progress=None, preview: bool = True) -> None:
    """Read the file row by row into the staging table and check every row.

    Idempotent: a batch validated again is re-staged from its file. A whole-file problem
    marks the batch rejected with the reason. No lock needed: only this batch's rows change.
    """
    if batch.status in (RosterImport.Status.APPLIED, RosterImport.Status.REVERSED):
        raise ImportStateError(f"该批次{batch.get_status_display()}，不能重新校验")
    RosterImportRow.objects.filter(batch=batch).delete()
    try:
        total, _errors, headers = _stage(batch, progress)
    except FileRefused as exc:
        RosterImportRow.objects.filter(batch=batch).delete()
        batch.status = RosterImport.Status.REJECTED
        batch.error = exc.message
        batch.save(update_fields=["status", "error"])
        raise
    with transaction.atomic(), connection.cursor() as raw_cursor:
        cursor = TimedCursor(raw_cursor)
        bulk_settings(cursor, total)
        if batch.kind == RosterImport.Kind.PLATFORM:
            _check_platform_numbers(cursor, batch)
        _check_within_file(cursor, batch)
        _check_against_registry(cursor, batch)
    batch.headers = headers
    batch.rows_total = total
    batch.rows_error = RosterImportRow.objects.filter(batch=batch).exclude(error_code="").count()
    batch.status = RosterImport.Status.STAGED
    batch.error = ""
    batch.save(update_fields=["headers", "rows_total", "rows_error", "status", "error"])
    if preview:
        roster_import_preview(batch=batch)


def _stage(batch: RosterImport, progress) -> tuple[int, int, list[str]]:
    path = batch.file.path
    sheet = imports.open_rows(path, batch.file_format, batch.kind)
    if batch.kind == RosterImport.Kind.PLATFORM:
        checker = imports.PlatformRowChecker(
            stated_date=batch.stated_date,
            headers=sheet.headers,
            mappings=identity_type_mappings(),
            formulas=sheet.formulas,
        )
    else:
        checker = imports.RowChecker(
            kind=batch.kind,
            department_kind=batch.department.kind,
            stated_date=batch.stated_date,
            headers=sheet.headers,
            formulas=sheet.formulas,
            townships=_township_keys(batch.county_id),
        )
    max_rows = _max_rows()
    counts = {"total": 0, "errors": 0}

    def staged_rows():
        check = checker.check
        blank = checker.is_blank
        head = (batch.pk,)
        for line, cells in sheet.rows:
            if blank(cells):
                continue
            row = check(line, cells)
            if row[-2]:
                counts["errors"] += 1
            counts["total"] += 1
            if counts["total"] % COPY_CHUNK == 0:
                if counts["total"] > max_rows:
                    raise FileRefused(
                        f"数据行超过 {max_rows} 行，请按乡镇拆分后分批上传", code="too_many_rows"
                    )
                if progress is not None:
                    progress.advance(COPY_CHUNK)
            yield (*head, *row, "")
        if counts["total"] > max_rows:
            raise FileRefused(
                f"数据行超过 {max_rows} 行，请按乡镇拆分后分批上传", code="too_many_rows"
            )

    with transaction.atomic():
        insert_rows(T["stg"], imports.STAGING_COLUMNS, staged_rows(), plain=True)
    total, errors = counts["total"], counts["errors"]
    if total == 0 and batch.kind in (RosterImport.Kind.ROSTER, RosterImport.Kind.PLATFORM):
        raise FileRefused("文件中没有数据行（只有表头）", code="no_rows")
    return total, errors, sheet.headers


def _township_keys(county_id: int) -> dict[str, int]:
    """A county's townships by name and by code (the lowest id where a name repeats)."""
    keys: dict[str, int] = {}
    for pk, name, code in (
        Township.objects.filter(county_id=county_id)
        .order_by("pk")
        .values_list("pk", "name", "code")
    ):
        keys.setdefault(name, pk)
        keys.setdefault(code, pk)
    return keys


def _check_platform_numbers(cursor, batch: RosterImport) -> None:
    """A platform record names its person by `psn_no`, and by `certno` when it has one: a
    record without certno takes the ID number of the person holding that psn_no (none: a row
    error); a pair that contradicts the registry's or another line's pair is refused."""
    stg, person = T["stg"], T["person"]
    analyze(cursor, stg)
    b = batch.pk
    cursor.execute(
        f"""UPDATE {stg} SET id_number = p.id_number FROM {person} p
            WHERE {stg}.batch_id = %s AND {stg}.error_code = '' AND {stg}.id_number = ''
              AND {stg}.psn_no <> '' AND p.psn_no = {stg}.psn_no""",
        [b],
    )
    cursor.execute(
        f"""UPDATE {stg} SET error_code = 'psn_no_unknown', error_message = %s
            WHERE batch_id = %s AND error_code = '' AND id_number = ''""",
        [ROW_REASONS["psn_no_unknown"], b],
    )
    # The registry holds another number for this person, or this number for another person.
    cursor.execute(
        f"""UPDATE {stg} SET error_code = 'psn_no_conflict', error_message = %s
            WHERE batch_id = %s AND error_code = '' AND (
                EXISTS (SELECT 1 FROM {person} p WHERE p.id_number = {stg}.id_number
                    AND p.psn_no IS NOT NULL AND p.psn_no <> {stg}.psn_no)
                OR EXISTS (SELECT 1 FROM {person} p WHERE p.psn_no = {stg}.psn_no
                    AND p.id_number <> {stg}.id_number))""",
        [ROW_REASONS["psn_no_conflict"], b],
    )
    # Within the file: one number for two people, or two numbers for one person.
    cursor.execute(
        f"""UPDATE {stg} SET error_code = 'psn_no_conflict', error_message = %s
            WHERE batch_id = %s AND error_code = '' AND (
                psn_no IN (SELECT psn_no FROM {stg} WHERE batch_id = %s AND error_code = ''
                    GROUP BY psn_no HAVING MIN(id_number) <> MAX(id_number))
                OR id_number IN (SELECT id_number FROM {stg} WHERE batch_id = %s
                    AND error_code = '' GROUP BY id_number HAVING MIN(psn_no) <> MAX(psn_no)))""",
        [ROW_REASONS["psn_no_conflict"], b, b, b],
    )


def _check_within_file(cursor, batch: RosterImport) -> None:
    stg = T["stg"]
    analyze(cursor, stg)
    # The same person, action and identity twice: the first line stands, later ones are marked.
    # The platform's records are periods: the same person may hold an identity twice, from
    # two different days.
    same = "id_number, action, code"
    if batch.kind == RosterImport.Kind.PLATFORM:
        same += ", start"
    on = " AND ".join(f"{stg}.{c} = d.{c}" for c in same.split(", "))
    cursor.execute(
        f"""
        UPDATE {stg} SET error_code = 'duplicate',
            error_message = %s || CAST(d.first_line AS VARCHAR(12)) || %s
        FROM (
            SELECT {same}, MIN(line_no) AS first_line
            FROM {stg} WHERE batch_id = %s AND error_code = ''
            GROUP BY {same} HAVING COUNT(*) > 1
        ) d
        WHERE {stg}.batch_id = %s AND {stg}.error_code = ''
          AND {on} AND {stg}.line_no > d.first_line
        """,
        ["文件中重复：与第", "行为同一人、同一身份、同一变动类型", batch.pk, batch.pk],
    )
    cursor.execute(
        f"""
        UPDATE {stg} SET error_code = 'name_conflict_in_file', error_message = %s
        FROM (
            SELECT id_number FROM {stg} WHERE batch_id = %s AND id_number <> ''
            GROUP BY id_number HAVING MIN(name) <> MAX(name)
        ) d
        WHERE {stg}.batch_id = %s AND {stg}.error_code = '' AND {stg}.id_number = d.id_number
        """,
        [ROW_REASONS["name_conflict_in_file"], batch.pk, batch.pk],
    )


def _check_against_registry(cursor, batch: RosterImport) -> None:
    """Names and counties against the registry: one join for both, not a query per row."""
    stg, person = T["stg"], T["person"]
    cursor.execute(
        f"""
        UPDATE {stg} SET
            error_code = CASE WHEN p.name <> {stg}.name THEN 'name_mismatch'
                ELSE 'other_county' END,
            error_message = CASE WHEN p.name <> {stg}.name THEN %s ELSE %s END
        FROM {person} p
        WHERE {stg}.batch_id = %s AND {stg}.error_code = '' AND p.id_number = {stg}.id_number
          AND (p.name <> {stg}.name OR p.county_id <> %s)
        """,
        [ROW_REASONS["name_mismatch"], ROW_REASONS["other_county"], batch.pk, batch.county_id],
    )


# ---------------------------------------------------------------------------------------------
# Preview and apply: one code path. The preview runs the merge and rolls it back.


def roster_import_preview(*, batch: RosterImport) -> dict:
    """What applying would do, counted by running the merge and rolling it back."""
    summary: dict = {}
    try:
        with transaction.atomic():
            summary = merge.merge_batch(batch)
            summary["samples"] = _samples(batch)
            raise Rollback
    except Rollback:
        pass
    summary["previewed_at"] = timezone.now().isoformat()
    batch.preview = summary
    batch.save(update_fields=["preview"])
    return summary


class _AwaitsReview(Exception):
    """The merge ended more identities than one person may: roll it back, wait for review."""


def _awaits_review(batch: RosterImport, summary: dict) -> bool:
    bounds = summary["bounds"]
    if not bounds["review_required"]:
        return False
    approved = batch.reviewed_by_id is not None and batch.approved_ended is not None
    return not (approved and bounds["ended"] <= batch.approved_ended)


def roster_import_apply(*, batch: RosterImport, applied_by=None) -> dict:
    """Apply a staged batch to the registry in one transaction; rows with errors are skipped
    and kept for the error file. Any failure rolls the whole batch back and marks it failed;
    the staged rows stay, so the batch can be applied again.

    A merge that ends more of the department's identities than the review bound allows
    (`merge.bounds`) is rolled back and the batch waits as 待复核 until a second person
    approves that many (`roster_import_review`); the returned summary then says so.

    Takes the county row lock (`SELECT … FOR UPDATE` on the batch's county) so that two lists
    of one county never merge at once; callers need hold no lock.
    """
    try:
        with transaction.atomic():
            locked = RosterImport.objects.select_for_update().get(pk=batch.pk)
            if locked.status == RosterImport.Status.APPLIED:
                return locked.result
            if locked.status == RosterImport.Status.REVIEW:
                raise ImportStateError("该批次待复核：须由另一位人员复核同意后入库")
            if locked.status != RosterImport.Status.STAGED:
                raise ImportStateError(f"该批次状态为“{locked.get_status_display()}”，不能入库")
            County.objects.select_for_update().filter(pk=locked.county_id).first()
            context = {"roster_import": locked.pk}
            if applied_by is not None:
                context["user"] = applied_by.pk
            try:
                with transaction.atomic(), history_context(**context):
                    summary = merge.merge_batch(locked)
                    if _awaits_review(locked, summary):
                        raise _AwaitsReview
            except _AwaitsReview:
                _review_request(locked, summary, applied_by)
                batch.refresh_from_db()
                return summary
            _pause_before_commit()
            locked.status = RosterImport.Status.APPLIED
            locked.applied_by = applied_by
            locked.applied_at = timezone.now()
            locked.result = summary
            locked.rows_error = summary["counts"].get(RowOutcome.ERROR, 0)
            locked.error = ""
            locked.save(
                update_fields=[
                    "status",
                    "applied_by",
                    "applied_at",
                    "result",
                    "rows_error",
                    "error",
                ]
            )
    except ImportStateError:
        raise
    except Exception as exc:
        logger.exception("roster import %s failed", batch.pk)
        reconnect_if_lost()  # the connection died with the merge: record it on a new one
        RosterImport.objects.filter(pk=batch.pk).update(
            status=RosterImport.Status.FAILED,
            error=f"入库失败，已整体回滚：{job_error_message(exc)}"[:4000],
        )
        raise
    batch.refresh_from_db()
    return summary


def _review_request(batch: RosterImport, summary: dict, by) -> None:
    """The batch waits as 待复核 with the counts the rolled-back merge found."""
    samples = (batch.preview or {}).get("samples", {})
    batch.preview = {**summary, "samples": samples, "previewed_at": timezone.now().isoformat()}
    batch.status = RosterImport.Status.REVIEW
    batch.review_requested_by = by
    batch.review_requested_at = timezone.now()
    batch.reviewed_by = None
    batch.reviewed_at = None
    batch.approved_ended = None
    batch.save(
        update_fields=[
            "preview",
            "status",
            "review_requested_by",
            "review_requested_at",
            "reviewed_by",
            "reviewed_at",
            "approved_ended",
        ]
    )
    logger.info("roster import %s waits for review: %s", batch.pk, summary["bounds"])


def _pause_before_commit() -> None:
    """The fault tests' window (BENEFICIARIES_APPLY_PAUSE_SECONDS, 0 in production): the merge
    is written and not committed. The marker query lets a test find the worker's backend."""
    pause = float(getattr(settings, "BENEFICIARIES_APPLY_PAUSE_SECONDS", 0) or 0)
    if pause:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'roster-apply-pause'")
        time.sleep(pause)


def roster_import_retry(*, batch: RosterImport) -> None:
    """A failed batch goes back to staged (its rows were never merged)."""
    if batch.status != RosterImport.Status.FAILED:
        raise ImportStateError("只有入库失败的批次可以重试")
    RosterImport.objects.filter(pk=batch.pk).update(status=RosterImport.Status.STAGED)
    batch.refresh_from_db()


def _samples(batch: RosterImport, per_outcome: int = 20) -> dict:
    samples: dict[str, list] = {}
    for outcome in RowOutcome.values:
        if not outcome:
            continue
        rows = (
            RosterImportRow.objects.filter(batch=batch, outcome=outcome)
            .order_by("line_no")
            .values_list(
                "line_no", "action", "id_number", "name", "code", "start", "end", "error_message"
            )[:per_outcome]
        )
        samples[outcome] = [
            {
                "line": r[0],
                "action": r[1],
                "id_number": r[2],
                "name": r[3],
                "code": r[4],
                "start": r[5].isoformat() if r[5] else None,
                "end": r[6].isoformat() if r[6] else None,
                "error": r[7],
            }
            for r in rows
        ]
    return samples


def roster_import_process(
    *, batch: RosterImport, apply: bool = False, applied_by=None, progress=None
) -> RosterImport:
    """Validate (and preview, or apply directly) a received batch: what a task or the API runs."""
    if batch.status in (RosterImport.Status.RECEIVED, RosterImport.Status.STAGED):
        try:
            roster_import_validate(batch=batch, progress=progress, preview=not apply)
        except FileRefused as exc:
            batch.refresh_from_db()
            batch.refusal = exc  # the API answers with its code, not only the batch's text
            return batch
    if apply and batch.status == RosterImport.Status.STAGED:
        roster_import_apply(batch=batch, applied_by=applied_by)
    batch.refresh_from_db()
    return batch


ROSTER_JOB_KIND = "beneficiaries.roster_import"
ROSTER_JOB_TASK = "beneficiaries.tasks.process_roster_import"
register_job_kind(ROSTER_JOB_KIND, "名册校验与入库")


def roster_import_job_start(*, batch: RosterImport, apply: bool, by) -> Job:
    """Validate (and, with `apply`, merge) a received batch as a background job: a
    million-row list takes the better part of a minute, which no web request should hold.
    A batch already being worked on by a job is not started twice."""
    running = roster_import_job(batch=batch)
    if running is not None and running.status in (Job.Status.PENDING, Job.Status.RUNNING):
        return running
    return job_start(
        kind=ROSTER_JOB_KIND,
        task=ROSTER_JOB_TASK,
        args=[batch.pk, apply, by.pk if by is not None else None],
        parameters={"batch": batch.pk, "apply": apply, "file": batch.file_name},
        county=batch.county,
        created_by=by,
    )


def roster_import_job(*, batch: RosterImport) -> Job | None:
    """The latest job that worked on `batch` (its page shows the progress)."""
    return (
        Job.objects.filter(kind=ROSTER_JOB_KIND, parameters__batch=batch.pk).order_by("-id").first()
    )


def roster_import_job_run(*, job: Job, batch_id: int, apply: bool, user_id: int | None) -> None:
    """The job's body (the task calls it): stages, checks and, when asked, merges."""
    batch = RosterImport.objects.get(pk=batch_id)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    with job_running(job=job) as progress:
        progress.stage("校验" if not apply else "校验并入库")
        if batch.status == RosterImport.Status.FAILED and apply:
            roster_import_retry(batch=batch)
            batch.refresh_from_db()
        batch = roster_import_process(batch=batch, apply=apply, applied_by=user, progress=progress)
        Job.objects.filter(pk=job.pk).update(
            result={
                "batch": batch.pk,
                "status": batch.status,
                "rows_total": batch.rows_total,
                "rows_error": batch.rows_error,
                "error": batch.error,
            }
        )


# ---------------------------------------------------------------------------------------------
# The 10th-of-month check


def feed_due_date(period: date) -> date:
    """A month's change feed is due by the 10th of the following month (Baoshan Art.28)."""
    due_day = int(getattr(settings, "BENEFICIARIES_FEED_DUE_DAY", 10))
    next_month = (period.replace(day=28) + timedelta(days=4)).replace(day=1)
    return next_month.replace(day=due_day)


def feed_checks_run(*, period: date, applied_by=None) -> dict:
    """For each county and feed department: was `period`'s change feed delivered by the due
    day? Records a FeedCheck per department (idempotent: run again, same rows) and applies the
    feeds that are still waiting in staging. No lock needed: each apply takes its own."""
    period = period.replace(day=1)
    due = feed_due_date(period)
    summary = {"period": period.isoformat(), "on_time": 0, "late": 0, "missing": 0, "applied": 0}
    departments = Department.objects.filter(kind__in=FEED_DEPARTMENTS).select_related("county")
    for department in departments:
        feeds = RosterImport.objects.filter(
            department=department, kind=RosterImport.Kind.FEED, period=period
        ).exclude(status=RosterImport.Status.REJECTED)
        first = feeds.order_by("delivered_at").first()
        if first is None:
            status, delivered = FeedCheck.Status.MISSING, None
        else:
            delivered = first.delivered_at
            on_time = timezone.localdate(delivered) <= due
            status = FeedCheck.Status.ON_TIME if on_time else FeedCheck.Status.LATE
        FeedCheck.objects.update_or_create(
            department=department,
            period=period,
            defaults={
                "county_id": department.county_id,
                "due": due,
                "status": status,
                "batch": first,
                "delivered_at": delivered,
            },
        )
        summary[status] += 1
        for pending in feeds.filter(status=RosterImport.Status.STAGED).order_by("delivered_at"):
            try:
                roster_import_apply(batch=pending, applied_by=applied_by)
                summary["applied"] += 1
            except Exception:
                logger.exception("pending feed %s could not be applied", pending.pk)
    return summary
