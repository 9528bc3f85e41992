"""Every write to the registry: receiving, validating and applying a department's list, the
monthly feed check, people and identities at the counter.

Applying a list is a handful of set-based statements over the staging table (no query per
row), the same SQL on PostgreSQL and SQLite; only filling the staging table differs (COPY on
PostgreSQL). History is never overwritten: an exit or a change closes a period, a new identity
opens another; Person and Identity changes are audited by triggers, which see bulk SQL too.
"""

import hashlib
import json
import logging
import time
import uuid
from contextlib import nullcontext
from datetime import date, datetime, timedelta

import pghistory
from django.apps import apps
from django.conf import settings
from django.core.files.base import File
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from beneficiaries import imports
from beneficiaries.imports import ROW_REASONS, FileRefused
from beneficiaries.models import (
    County,
    Department,
    FeedCheck,
    Household,
    Identity,
    Person,
    RosterImport,
    RosterImportRow,
    RowOutcome,
    Township,
)

logger = logging.getLogger(__name__)

COPY_CHUNK = 20_000
SQLITE_CHUNK = 2_000
BULK_ANALYZE_ROWS = 20_000
LARGE_BATCH_ROWS = 50_000
MAX_UPLOAD_BYTES_DEFAULT = 300 * 1024 * 1024
MAX_ROWS_DEFAULT = 2_000_000

T = {
    "stg": RosterImportRow._meta.db_table,
    "person": Person._meta.db_table,
    "identity": Identity._meta.db_table,
    "household": Household._meta.db_table,
    "township": Township._meta.db_table,
}


def history_context(**metadata):
    """Audit context for the triggers; they exist only on PostgreSQL."""
    if connection.vendor != "postgresql":
        return nullcontext()
    return pghistory.context(**metadata)


class ImportStateError(Exception):
    """The batch is not in a state that allows the requested step."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
    Raises `FileRefused` for an empty, oversized or foreign file (nothing is kept).
    """
    size = imports.sniff_size(upload)
    if size == 0:
        raise FileRefused("empty_file", "文件为空")
    limit = _max_upload_bytes()
    if size > limit:
        raise FileRefused(
            "file_too_large",
            f"文件过大（{size / 1048576:.1f} MB，上限 {limit / 1048576:.0f} MB），请拆分后分批上传",
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
    fmt = imports.detect_format(head, file_name)
    if kind not in RosterImport.Kind.values:
        raise FileRefused("kind_unknown", "名单类型无效")
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
    if batch.status == RosterImport.Status.APPLIED:
        raise ImportStateError("该批次已入库，不能重新校验")
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
        cursor = _TimedCursor(raw_cursor)
        _bulk_settings(cursor, total)
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
    sheet = imports.open_rows(path, batch.file_format)
    checker = imports.RowChecker(
        kind=batch.kind,
        department_kind=batch.department.kind,
        stated_date=batch.stated_date,
        headers=sheet.headers,
        formulas=sheet.formulas,
        townships=_township_keys(batch.county_id),
    )
    max_rows = _max_rows()
    total = errors = 0
    with transaction.atomic(), _staging_writer(batch.pk) as write:
        chunk: list[tuple] = []
        check = checker.check
        blank = checker.is_blank
        for line, cells in sheet.rows:
            if blank(cells):
                continue
            row = check(line, cells)
            if row[-2]:
                errors += 1
            chunk.append(row)
            total += 1
            if len(chunk) >= COPY_CHUNK:
                if total > max_rows:
                    raise FileRefused(
                        "too_many_rows", f"数据行超过 {max_rows} 行，请按乡镇拆分后分批上传"
                    )
                write(chunk)
                chunk = []
                if progress is not None:
                    progress.advance(COPY_CHUNK)
        if total > max_rows:
            raise FileRefused("too_many_rows", f"数据行超过 {max_rows} 行，请按乡镇拆分后分批上传")
        if chunk:
            write(chunk)
    if total == 0 and batch.kind == RosterImport.Kind.ROSTER:
        raise FileRefused("no_rows", "文件中没有数据行（只有表头）")
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


class _staging_writer:
    """COPY on PostgreSQL, executemany elsewhere; same columns, same values."""

    def __init__(self, batch_id: int):
        self.batch_id = batch_id
        self.copy_cm = None
        self.copy = None

    def __enter__(self):
        columns = ", ".join(imports.STAGING_COLUMNS)
        if connection.vendor == "postgresql":
            self.cursor_cm = connection.cursor()
            cursor = self.cursor_cm.__enter__()
            self.copy_cm = cursor.cursor.copy(f"COPY {T['stg']} ({columns}) FROM STDIN")
            self.copy = self.copy_cm.__enter__()
            return self._write_copy
        self.cursor_cm = connection.cursor()
        self.cursor = self.cursor_cm.__enter__()
        marks = ", ".join(["%s"] * len(imports.STAGING_COLUMNS))
        self.insert = f"INSERT INTO {T['stg']} ({columns}) VALUES ({marks})"
        return self._write_many

    def _write_copy(self, rows: list[tuple]) -> None:
        write_row = self.copy.write_row
        head = (self.batch_id,)
        for row in rows:
            write_row((*head, *row, ""))

    def _write_many(self, rows: list[tuple]) -> None:
        head = (self.batch_id,)
        for start in range(0, len(rows), SQLITE_CHUNK):
            self.cursor.executemany(
                self.insert, [(*head, *row, "") for row in rows[start : start + SQLITE_CHUNK]]
            )

    def __exit__(self, *exc):
        if self.copy_cm is not None:
            self.copy_cm.__exit__(*exc)
        self.cursor_cm.__exit__(*exc)
        return False


def _analyze(cursor, *tables: str) -> None:
    """Fresh planner statistics after a bulk load: without them PostgreSQL plans a join of a
    million staged rows as if the table were empty (a nested loop that runs for hours)."""
    if connection.vendor == "postgresql":
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def _bulk_settings(cursor, rows: int) -> None:
    """Planner settings for statements that each join a whole batch (this transaction only)."""
    if connection.vendor != "postgresql":
        return
    # Hash joins and aggregates over the whole batch stay in memory instead of spilling.
    cursor.execute("SET LOCAL work_mem = '256MB'")
    if rows > LARGE_BATCH_ROWS:
        # Hash joins are right, and a misestimated nested loop over a million rows would run
        # for hours.
        cursor.execute("SET LOCAL enable_nestloop = off")


def _check_within_file(cursor, batch: RosterImport) -> None:
    stg = T["stg"]
    _analyze(cursor, stg)
    # The same person, action and identity twice: the first line stands, later ones are marked.
    cursor.execute(
        f"""
        UPDATE {stg} SET error_code = 'duplicate',
            error_message = %s || CAST(d.first_line AS VARCHAR(12)) || %s
        FROM (
            SELECT id_number, action, code, MIN(line_no) AS first_line
            FROM {stg} WHERE batch_id = %s AND error_code = ''
            GROUP BY id_number, action, code HAVING COUNT(*) > 1
        ) d
        WHERE {stg}.batch_id = %s AND {stg}.error_code = ''
          AND {stg}.id_number = d.id_number AND {stg}.action = d.action
          AND {stg}.code = d.code AND {stg}.line_no > d.first_line
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


class _TimedCursor:
    """Records how long each merge statement took (shown in the result and the benchmark)."""

    def __init__(self, cursor):
        self.cursor = cursor
        self.timings: list[list] = []

    def execute(self, sql, params=None):
        started = time.perf_counter()
        self.cursor.execute(sql, params)
        elapsed = time.perf_counter() - started
        label = " ".join(sql.split())[:60]
        self.timings.append([label, round(elapsed, 3), self.cursor.rowcount])
        if elapsed > 0.5:
            logger.info("merge step %.1fs rows=%s: %s", elapsed, self.cursor.rowcount, label)

    @property
    def rowcount(self):
        return self.cursor.rowcount

    def fetchall(self):
        return self.cursor.fetchall()

    def fetchone(self):
        return self.cursor.fetchone()


class _BulkAudit:
    """The audit trail of a bulk insert written as one statement, not a trigger per row.

    `insert()` runs an `INSERT … SELECT` while the Person/Identity insert triggers stand aside
    (a transaction-local setting their WHEN clause reads), then writes an "insert" event for
    every row it created, with the columns and label the trigger writes, under one pghistory
    context naming the batch. The new rows are found by key range (ids above the highest
    before the insert) and the merge's timestamp, so a short list costs a short scan however
    large the registry. (The same in one statement, `WITH … RETURNING`, measured 2 s slower
    per million rows.) Updates keep their triggers. SQLite has no triggers: the insert alone.
    """

    def __init__(self, cursor, batch: RosterImport, now):
        self.cursor = cursor
        self.now = now
        self.enabled = connection.vendor == "postgresql"
        self.context_id = None
        if self.enabled:
            self.context_id = str(uuid.uuid4())
            metadata = {"roster_import": batch.pk}
            cursor.execute(
                "INSERT INTO pghistory_context (id, metadata, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s)",
                [self.context_id, json.dumps(metadata), now, now],
            )

    def insert(self, model, sql: str, params: list) -> int:
        """Run `sql`, an INSERT into `model`'s table; returns the number of rows inserted."""
        cursor = self.cursor
        if not self.enabled:
            cursor.execute(sql, params)
            return max(cursor.rowcount, 0)
        table = model._meta.db_table
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        (before,) = cursor.fetchone()
        cursor.execute("SELECT set_config('medaid.bulk_audit', 'on', true)")
        cursor.execute(sql, params)
        inserted = max(cursor.rowcount, 0)
        cursor.execute("SELECT set_config('medaid.bulk_audit', 'off', true)")
        if inserted:
            event_model = apps.get_model("beneficiaries", f"{model.__name__}Event")
            tracked = [
                f.column
                for f in event_model._meta.concrete_fields
                if not f.column.startswith("pgh_")
            ]
            columns = ", ".join(f'"{c}"' for c in tracked)
            source = ", ".join(f't."{c}"' for c in tracked)
            cursor.execute(
                f"""
                INSERT INTO {event_model._meta.db_table}
                    (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id, {columns})
                SELECT %s, 'insert', t.id, %s, {source} FROM {table} t
                WHERE t.id > %s AND t.created_at = %s
                """,
                [self.now, self.context_id, before, self.now],
            )
        return inserted


class _TrustedKeys:
    """Bulk inserts whose foreign keys hold by construction, without a check per row.

    PostgreSQL checks a foreign key of an inserted row with one trigger call per row and key
    (Django's keys are deferred, so all of them run at COMMIT): about five per staged row,
    ~20 s per million rows, and `SET CONSTRAINTS … IMMEDIATE` only moves that cost into the
    statements (measured). Every key the merge writes comes from a join with the referenced
    table in the same transaction, so when the database role may set
    `session_replication_role` the merge turns the row triggers off around its inserts and
    takes, in one statement each, the `FOR KEY SHARE` locks those triggers would have taken
    on rows that existed before the merge. Without that privilege nothing changes: the
    triggers check every row as before. Only inserts into households, people and identities
    run in the window (their audit events are written set-based by `_BulkAudit`); updates
    keep their audit triggers. A trigger added to those three tables later would be skipped
    by these inserts too.
    """

    def __init__(self, cursor):
        self.cursor = cursor
        self.enabled = False
        if connection.vendor != "postgresql":
            return
        try:
            with transaction.atomic():
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute("SET LOCAL session_replication_role = origin")
        except DatabaseError:
            return
        self.enabled = True

    def lock(self, table: str, where: str, params=None) -> None:
        if self.enabled:
            self.cursor.execute(f"SELECT 1 FROM {table} WHERE {where} FOR KEY SHARE", params)

    def begin(self) -> None:
        if self.enabled:
            self.cursor.execute("SET LOCAL session_replication_role = replica")

    def end(self) -> None:
        if self.enabled:
            self.cursor.execute("SET LOCAL session_replication_role = origin")


class _Rollback(Exception):
    pass


def roster_import_preview(*, batch: RosterImport) -> dict:
    """What applying would do, counted by running the merge and rolling it back."""
    summary: dict = {}
    try:
        with transaction.atomic():
            summary = _merge(batch)
            summary["samples"] = _samples(batch)
            raise _Rollback
    except _Rollback:
        pass
    summary["previewed_at"] = timezone.now().isoformat()
    batch.preview = summary
    batch.save(update_fields=["preview"])
    return summary


def roster_import_apply(*, batch: RosterImport, applied_by=None) -> dict:
    """Apply a staged batch to the registry in one transaction; rows with errors are skipped
    and kept for the error file. Any failure rolls the whole batch back and marks it failed;
    the staged rows stay, so the batch can be applied again.

    Takes the county row lock (`SELECT … FOR UPDATE` on the batch's county) so that two lists
    of one county never merge at once; callers need hold no lock.
    """
    try:
        with transaction.atomic():
            locked = RosterImport.objects.select_for_update().get(pk=batch.pk)
            if locked.status == RosterImport.Status.APPLIED:
                return locked.result
            if locked.status != RosterImport.Status.STAGED:
                raise ImportStateError(f"该批次状态为“{locked.get_status_display()}”，不能入库")
            County.objects.select_for_update().filter(pk=locked.county_id).first()
            context = {"roster_import": locked.pk}
            if applied_by is not None:
                context["user"] = applied_by.pk
            with history_context(**context):
                summary = _merge(locked)
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
        RosterImport.objects.filter(pk=batch.pk).update(
            status=RosterImport.Status.FAILED, error=f"入库失败，已整体回滚：{exc}"[:4000]
        )
        raise
    batch.refresh_from_db()
    return summary


def roster_import_retry(*, batch: RosterImport) -> None:
    """A failed batch goes back to staged (its rows were never merged)."""
    if batch.status != RosterImport.Status.FAILED:
        raise ImportStateError("只有入库失败的批次可以重试")
    RosterImport.objects.filter(pk=batch.pk).update(status=RosterImport.Status.STAGED)
    batch.refresh_from_db()


# Merge errors: the fixed reason each code carries into the staged row's 错误原因.
MERGE_ERRORS = (
    "township_unknown",
    "name_mismatch",
    "other_county",
    "person_unknown",
    "end_before_registered_start",
    "not_registered",
    "change_not_registered",
)
WORK = "medaid_merge_rows"
# A registered period of the line's identity that overlaps the line's period.
_OVERLAPPING = (
    f"SELECT 1 FROM {T['identity']} i WHERE i.person_id = {WORK}.person_id"
    f" AND i.code = {WORK}.code"
    f" AND i.start <= COALESCE({WORK}.\"end\", '9999-12-31')"
    f' AND (i."end" IS NULL OR i."end" >= {WORK}.start)'
)


def _fail(cursor, code: str, where: str) -> None:
    """Mark still-valid work rows matching `where` with the named merge error."""
    cursor.execute(
        f"UPDATE {WORK} SET error_code = %s, outcome = 'error' WHERE error_code = '' AND ({where})",
        [code],
    )


def _merge(batch: RosterImport) -> dict:
    """The set-based merge of one batch. Must run inside a transaction.

    The batch's valid rows are first copied, with their registered person, into a temporary
    work table; every step reads and marks that table (no WAL, no indexes to keep), and the
    outcomes go back to the staged rows in one final statement — each staged row is
    rewritten once, not once per step.
    """
    stg, person, identity, household = T["stg"], T["person"], T["identity"], T["household"]
    w = WORK
    b, county = batch.pk, batch.county_id
    now = timezone.now()
    result: dict = {}
    with connection.cursor() as raw_cursor:
        cursor = _TimedCursor(raw_cursor)
        result["timings"] = cursor.timings
        _bulk_settings(cursor, batch.rows_total)
        cursor.execute(f"DROP TABLE IF EXISTS {w}")
        # Names and counties against the registry are checked here again: the registry may
        # have changed since the batch was validated.
        cursor.execute(
            f"""
            CREATE TEMP TABLE {w} AS
            SELECT s.line_no, s.action, s.id_number, s.name, s.sex, s.birth_date, s.code,
                s.old_code, s.start, s."end", s.prev_end, s.certified_on, s.household_code,
                s.township_id, s.insurance_scheme, s.insured_place, p.id AS person_id,
                CASE WHEN p.id IS NULL THEN ''
                    WHEN p.name <> s.name THEN 'name_mismatch'
                    WHEN p.county_id <> %s THEN 'other_county'
                    ELSE '' END AS error_code,
                CAST('' AS VARCHAR(16)) AS outcome, 0 AS fresh
            FROM {stg} s LEFT JOIN {person} p ON p.id_number = s.id_number
            WHERE s.batch_id = %s AND s.error_code = ''
            """,
            [county, b],
        )
        cursor.execute(f"UPDATE {w} SET person_id = NULL, outcome = 'error' WHERE error_code <> ''")
        _analyze(cursor, w)
        # A township resolved at validation may have been removed since.
        _fail(
            cursor,
            "township_unknown",
            f"township_id IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {T['township']} t WHERE t.id = {w}.township_id)",
        )
        keys = _TrustedKeys(cursor)
        keys.lock(Department._meta.db_table, "id = %s", [batch.department_id])
        keys.lock(
            T["township"],
            f"id IN (SELECT township_id FROM {w} WHERE error_code = '' "
            f"AND township_id IS NOT NULL)",
        )
        keys.lock(
            household,
            f"county_id = %s AND code IN (SELECT household_code FROM {w} WHERE error_code = '' "
            f"AND person_id IS NULL AND action IN ('add', 'change'))",
            [county],
        )

        # Households and people first seen in this list.
        keys.begin()
        cursor.execute(
            f"""
            INSERT INTO {household} (county_id, code, township_id, address)
            SELECT %s, s.household_code, MIN(s.township_id), ''
            FROM {w} s
            WHERE s.error_code = '' AND s.household_code <> '' AND s.action IN ('add', 'change')
              AND NOT EXISTS (
                SELECT 1 FROM {household} h WHERE h.county_id = %s AND h.code = s.household_code
              )
            GROUP BY s.household_code
            """,
            [county, county],
        )
        result["households_created"] = max(cursor.rowcount, 0)
        if result["households_created"] > BULK_ANALYZE_ROWS:
            _analyze(cursor, household)
        audit = _BulkAudit(cursor, batch, now)
        # A new person is created from their first line, in id-number order: the unique index
        # is filled left to right instead of at random. On PostgreSQL one sort (DISTINCT ON)
        # finds the first lines and gives the order (2 s instead of 4 s per million lines).
        new_people = "error_code = '' AND action IN ('add', 'change') AND person_id IS NULL"
        if connection.vendor == "postgresql":
            first_lines = (
                f"SELECT DISTINCT ON (id_number) * FROM {w} WHERE {new_people}"
                f" ORDER BY id_number, line_no"
            )
        else:
            first_lines = (
                f"SELECT * FROM {w} WHERE line_no IN"
                f" (SELECT MIN(line_no) FROM {w} WHERE {new_people} GROUP BY id_number)"
            )
        result["people_created"] = audit.insert(
            Person,
            f"""
            INSERT INTO {person} (id_number, name, sex, birth_date, county_id, township_id,
                household_id, insurance_scheme, insured_place, created_at, updated_at)
            SELECT s.id_number, s.name, s.sex, s.birth_date, %s, s.township_id, h.id,
                CASE WHEN s.insurance_scheme = '' THEN 'resident' ELSE s.insurance_scheme END,
                s.insured_place, %s, %s
            FROM ({first_lines}) s
            LEFT JOIN {household} h ON h.county_id = %s AND h.code = s.household_code
            ORDER BY s.id_number
            """,
            [county, now, now, county],
        )
        keys.end()
        if result["people_created"] > BULK_ANALYZE_ROWS:
            _analyze(cursor, person)
        if result["people_created"]:
            cursor.execute(
                f"""
                UPDATE {w} SET person_id = p.id, fresh = 1,
                    outcome = CASE WHEN {w}.action = 'add' THEN 'added' ELSE '' END
                FROM {person} p
                WHERE {w}.person_id IS NULL AND {w}.error_code = ''
                  AND p.id_number = {w}.id_number
                """
            )
            if cursor.rowcount > BULK_ANALYZE_ROWS:
                _analyze(cursor, w)
        # One pass over the lines says which steps below have anything to do. A full roster
        # is additions only (the exit and change steps, each a pass over every line, are
        # skipped), and a list of new people, each created from their only line, has nothing
        # more to say about anyone's household or insurance.
        cursor.execute(
            f"""SELECT action, COUNT(person_id), COALESCE(SUM(fresh), 0) FROM {w}
                WHERE error_code = '' GROUP BY action"""
        )
        by_action = {
            action: (with_person, fresh) for action, with_person, fresh in cursor.fetchall()
        }
        actions = set(by_action)
        lines_with_person = sum(by_action.get(a, (0, 0))[0] for a in ("add", "change"))
        lines_of_new_people = sum(by_action.get(a, (0, 0))[1] for a in ("add", "change"))
        # What the list says about people already registered: household, township, insurance.
        result["people_updated"] = 0
        if lines_with_person > result["people_created"]:
            result["people_updated"] = _update_people(cursor, county, now)
        if actions & {"end", "change"}:
            _fail(cursor, "person_unknown", "action IN ('end', 'change') AND person_id IS NULL")
        if "end" in actions:
            _merge_exits(cursor)
        result["identities_opened"] = 0
        if "change" in actions:
            result["identities_opened"] = _merge_changes(cursor, batch, now, keys, audit)

        # Additions: a period is opened unless one of the same identity already covers it,
        # which makes applying the same line twice a no-op. A person created by this batch
        # holds no identity yet: their additions were marked when the person was created.
        if lines_with_person > lines_of_new_people:
            cursor.execute(
                f"""UPDATE {w} SET outcome = CASE WHEN EXISTS ({_OVERLAPPING})
                        THEN 'unchanged' ELSE 'added' END
                    WHERE error_code = '' AND action = 'add' AND fresh = 0"""
            )
            keys.lock(
                person, f"id IN (SELECT person_id FROM {w} WHERE outcome = 'added' AND fresh = 0)"
            )
        keys.begin()
        result["identities_opened"] += _insert_identities(
            audit, batch, now, f"{w}.outcome = 'added'"
        )
        keys.end()
        if result["identities_opened"] > BULK_ANALYZE_ROWS:
            _analyze(cursor, identity)

        ended_absent = 0
        if batch.kind == RosterImport.Kind.ROSTER and batch.end_absent:
            last_day = batch.stated_date - timedelta(days=1)
            cursor.execute(
                f"""
                UPDATE {identity} SET "end" = %s
                WHERE department_id = %s AND "end" IS NULL AND start <= %s
                  AND NOT EXISTS (
                    SELECT 1 FROM {stg} s JOIN {person} p ON p.id_number = s.id_number
                    WHERE s.batch_id = %s AND p.id = {identity}.person_id
                      AND s.code = {identity}.code)
                """,
                [last_day, batch.department_id, last_day, b],
            )
            ended_absent = max(cursor.rowcount, 0)
        result["ended_absent"] = ended_absent

        # Back to the staged rows, once each: refused at validation, then what the merge did.
        cursor.execute(
            f"UPDATE {stg} SET outcome = 'error' WHERE batch_id = %s AND error_code <> ''", [b]
        )
        refused = max(cursor.rowcount, 0)
        messages = " ".join(f"WHEN '{code}' THEN %s" for code in MERGE_ERRORS)
        cursor.execute(
            f"""
            UPDATE {stg} SET outcome = w.outcome, person_id = w.person_id,
                error_code = w.error_code,
                error_message = CASE w.error_code {messages} ELSE '' END
            FROM {w} w
            WHERE {stg}.batch_id = %s AND {stg}.line_no = w.line_no
            """,
            [*(ROW_REASONS[code] for code in MERGE_ERRORS), b],
        )
        cursor.execute(f"SELECT outcome, COUNT(*) FROM {w} GROUP BY outcome")
        counts = dict(cursor.fetchall())
        if refused:
            counts[RowOutcome.ERROR] = counts.get(RowOutcome.ERROR, 0) + refused
        result["counts"] = counts
        cursor.execute(f"DROP TABLE {w}")
    return result


def _merge_exits(cursor) -> None:
    """Exits: close the open period of that identity on the stated last day."""
    identity, w = T["identity"], WORK
    open_same = (
        f"SELECT 1 FROM {identity} i WHERE i.person_id = {w}.person_id"
        f' AND i.code = {w}.code AND i."end" IS NULL'
    )
    cursor.execute(
        f"""UPDATE {w} SET outcome = 'ended' WHERE error_code = '' AND action = 'end'
            AND EXISTS ({open_same} AND i.start <= {w}."end")"""
    )
    cursor.execute(
        f"""
        UPDATE {identity} SET "end" = s."end" FROM {w} s
        WHERE s.outcome = 'ended' AND {identity}.person_id = s.person_id
          AND {identity}.code = s.code AND {identity}."end" IS NULL
          AND {identity}.start <= s."end"
        """
    )
    cursor.execute(
        f"""UPDATE {w} SET outcome = 'unchanged' WHERE error_code = ''
            AND action = 'end' AND outcome = '' AND EXISTS (
                SELECT 1 FROM {identity} i WHERE i.person_id = {w}.person_id
                AND i.code = {w}.code AND i."end" = {w}."end")"""
    )
    _fail(
        cursor,
        "end_before_registered_start",
        f"action = 'end' AND outcome = '' AND EXISTS ({open_same})",
    )
    _fail(cursor, "not_registered", "action = 'end' AND outcome = ''")


def _merge_changes(cursor, batch: RosterImport, now, keys, audit) -> int:
    """Changes: close the old identity the day before, open the new one. Returns how many
    periods were opened."""
    identity, person, w = T["identity"], T["person"], WORK
    cursor.execute(
        f"""UPDATE {w} SET outcome = 'changed' WHERE error_code = ''
            AND action = 'change' AND EXISTS (
                SELECT 1 FROM {identity} i WHERE i.person_id = {w}.person_id
                AND i.code = {w}.old_code AND i."end" IS NULL
                AND i.start <= {w}.prev_end)"""
    )
    cursor.execute(
        f"""
        UPDATE {identity} SET "end" = s.prev_end FROM {w} s
        WHERE s.outcome = 'changed'
          AND {identity}.person_id = s.person_id AND {identity}.code = s.old_code
          AND {identity}."end" IS NULL AND {identity}.start <= s.prev_end
        """
    )
    keys.lock(
        person,
        f"id IN (SELECT person_id FROM {w} WHERE outcome = 'changed' AND fresh = 0)",
    )
    keys.begin()
    opened = _insert_identities(
        audit, batch, now, f"{w}.outcome = 'changed' AND NOT EXISTS ({_OVERLAPPING})"
    )
    keys.end()
    cursor.execute(
        f"""UPDATE {w} SET outcome = 'unchanged' WHERE error_code = ''
            AND action = 'change' AND outcome = '' AND EXISTS ({_OVERLAPPING})
            AND EXISTS (SELECT 1 FROM {identity} i WHERE i.person_id = {w}.person_id
                AND i.code = {w}.old_code AND i."end" = {w}.prev_end)"""
    )
    _fail(cursor, "change_not_registered", "action = 'change' AND outcome = ''")
    return opened


def _update_people(cursor, county: int, now) -> int:
    """Household, township and insurance of registered people as their last line says."""
    person, household, w = T["person"], T["household"], WORK
    cursor.execute(
        f"""
        UPDATE {person} SET
            household_id = CASE WHEN u.household_id IS NULL
                THEN {person}.household_id ELSE u.household_id END,
            township_id = CASE WHEN u.township_id IS NULL
                THEN {person}.township_id ELSE u.township_id END,
            insurance_scheme = CASE WHEN u.scheme = ''
                THEN {person}.insurance_scheme ELSE u.scheme END,
            insured_place = CASE WHEN u.place = ''
                THEN {person}.insured_place ELSE u.place END,
            updated_at = %s
        FROM (
            SELECT s.person_id, h.id AS household_id, s.township_id,
                s.insurance_scheme AS scheme, s.insured_place AS place
            FROM {w} s
            JOIN (
                SELECT person_id, MAX(line_no) AS line_no FROM {w}
                WHERE error_code = '' AND action IN ('add', 'change')
                  AND person_id IS NOT NULL
                GROUP BY person_id
                -- a person created from their only line already holds what it says
                HAVING MAX(fresh) = 0 OR COUNT(*) > 1
            ) l ON l.line_no = s.line_no
            LEFT JOIN {household} h ON h.county_id = %s AND s.household_code <> ''
                AND h.code = s.household_code
        ) u
        WHERE {person}.id = u.person_id AND (
            (u.household_id IS NOT NULL AND ({person}.household_id IS NULL
                OR {person}.household_id <> u.household_id))
            OR (u.township_id IS NOT NULL AND ({person}.township_id IS NULL
                OR {person}.township_id <> u.township_id))
            OR (u.scheme <> '' AND {person}.insurance_scheme <> u.scheme)
            OR (u.place <> '' AND {person}.insured_place <> u.place))
        """,
        [now, county],
    )
    return max(cursor.rowcount, 0)


def _insert_identities(audit: _BulkAudit, batch: RosterImport, now, where: str) -> int:
    identity, w = T["identity"], WORK
    return audit.insert(
        Identity,
        f"""
        INSERT INTO {identity} (person_id, code, start, "end", department_id, certified_on,
            source_line, created_at)
        SELECT {w}.person_id, {w}.code, {w}.start, {w}."end", %s, {w}.certified_on,
            CAST(%s AS VARCHAR(24)) || CAST({w}.line_no AS VARCHAR(12)), %s
        FROM {w} WHERE {w}.error_code = '' AND ({where})
        ORDER BY {w}.person_id
        """,
        [batch.department_id, f"R{batch.pk}:", now],
    )


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
        except FileRefused:
            batch.refresh_from_db()
            return batch
    if apply and batch.status == RosterImport.Status.STAGED:
        roster_import_apply(batch=batch, applied_by=applied_by)
    batch.refresh_from_db()
    return batch


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
    from beneficiaries.models import FEED_DEPARTMENTS

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


# ---------------------------------------------------------------------------------------------
# The counter: one person, one identity at a time


def identity_open(
    *,
    person: Person,
    code: str,
    start: date,
    department: Department | None = None,
    certified_on: date | None = None,
    end: date | None = None,
    source_line: str = "",
) -> Identity:
    """Open a period unless one of the same identity already covers `start`. Caller holds no
    lock; the person row is locked here so two clerks cannot open overlapping periods."""
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        overlapping = Identity.objects.filter(person=person, code=code, start__lte=end or date.max)
        overlapping = overlapping.exclude(end__lt=start)
        existing = overlapping.first()
        if existing is not None:
            return existing
        return Identity.objects.create(
            person=person,
            code=code,
            start=start,
            end=end,
            department=department,
            certified_on=certified_on,
            source_line=source_line,
        )


def identity_close(*, identity: Identity, end: date) -> Identity:
    """Close an open period on `end` (inclusive); history is kept, never rewritten."""
    with transaction.atomic():
        locked = Identity.objects.select_for_update().get(pk=identity.pk)
        if locked.end is not None:
            raise ValueError("该身份记录已终止")
        if end < locked.start:
            raise ValueError("终止日期早于起始日期")
        locked.end = end
        locked.save(update_fields=["end"])
    return locked


# ---------------------------------------------------------------------------------------------
# Premium subsidies (资助参保)


def _premium_decide(
    *, policy: str, facts, year: int, contribution, on, already_paid, scheme, parameters
):
    from medaid import policy as engine

    request = engine.PremiumRequest(
        year=year,
        individual_contribution=contribution,
        on=on,
        already_paid=already_paid,
        scheme=scheme if scheme in ("resident", "employee") else "resident",
    )
    return engine.decide_premium(policy, facts, request, parameters=parameters)


def _contribution_year(county: County, year: int):
    from beneficiaries.models import ContributionYear

    try:
        return ContributionYear.objects.get(pooling_area_id=county.pooling_area_id, year=year)
    except ContributionYear.DoesNotExist:
        raise ImportStateError(f"未设置{year}年度个人缴费标准（参保缴费年度）") from None


def subsidy_roster_build(*, county: County, year: int, decision_date: date, created_by=None):
    """The county's yearly subsidy roster from the identities held on `decision_date`, each
    person decided by the pack's premium rule. Rebuilding a draft replaces its yearly lines;
    a confirmed roster is never rebuilt. Locks the roster row."""
    from beneficiaries import selectors
    from beneficiaries.models import SubsidyLine, SubsidyRoster

    contribution_year = _contribution_year(county, year)
    policy = county.pooling_area.policy_code
    with transaction.atomic():
        roster, _ = SubsidyRoster.objects.select_for_update().get_or_create(
            county=county,
            year=year,
            defaults={
                "decision_date": decision_date,
                "individual_contribution": contribution_year.individual_contribution,
                "policy_code": policy,
                "created_by": created_by,
            },
        )
        if roster.status == SubsidyRoster.Status.CONFIRMED:
            raise ImportStateError("资助名册已确认，不能重新生成")
        roster.decision_date = decision_date
        roster.individual_contribution = contribution_year.individual_contribution
        roster.policy_code = policy
        roster.lines.filter(kind=SubsidyLine.Kind.INITIAL, transfer__isnull=True).delete()
        lines = []
        version = ""
        for person_id, scheme, facts in selectors.premium_facts(county=county, on=decision_date):
            decision = _premium_decide(
                policy=policy,
                facts=facts,
                year=year,
                contribution=contribution_year.individual_contribution,
                on=decision_date,
                already_paid=False,
                scheme=scheme,
                parameters=contribution_year.parameters,
            )
            version = decision.policy_version
            if decision.subsidy <= 0:
                continue
            lines.append(
                SubsidyLine(
                    roster=roster,
                    person_id=person_id,
                    kind=SubsidyLine.Kind.INITIAL,
                    identity=decision.identity,
                    amount=decision.subsidy,
                    decided_on=decision_date,
                    reason="",
                    trace=decision.trace,
                )
            )
        SubsidyLine.objects.bulk_create(lines, batch_size=5000, ignore_conflicts=True)
        roster.policy_version = version
        _roster_totals(roster)
    return roster


def _roster_totals(roster) -> None:
    from django.db.models import Count, Q, Sum

    from beneficiaries.models import SubsidyLine

    figures = roster.lines.aggregate(
        total=Sum("amount"),
        headcount=Count("person", distinct=True, filter=~Q(kind=SubsidyLine.Kind.REFUND)),
    )
    roster.total = figures["total"] or 0
    roster.headcount = figures["headcount"] or 0
    roster.save()


def subsidy_additions_run(*, roster, on: date, paid_person_ids=frozenset()) -> int:
    """Monthly additions: people holding an identity on `on` who are not yet on the roster
    (新增一人、标识一人、参保一人). For those who already paid their contribution, the pack's
    refund rule decides whether it is refunded (a refund line). Locks the roster row."""
    from beneficiaries import selectors
    from beneficiaries.models import SubsidyLine, SubsidyRoster

    contribution_year = _contribution_year(roster.county, roster.year)
    added = 0
    with transaction.atomic():
        roster = SubsidyRoster.objects.select_for_update().get(pk=roster.pk)
        listed = set(roster.lines.values_list("person_id", flat=True))
        lines = []
        for person_id, scheme, facts in selectors.premium_facts(county=roster.county, on=on):
            if person_id in listed:
                continue
            decision = _premium_decide(
                policy=roster.policy_code,
                facts=facts,
                year=roster.year,
                contribution=roster.individual_contribution,
                on=on,
                already_paid=person_id in paid_person_ids,
                scheme=scheme,
                parameters=contribution_year.parameters,
            )
            if decision.subsidy <= 0:
                continue
            already_paid = person_id in paid_person_ids
            if already_paid and decision.refund <= 0:
                # 不退不补: a contribution already paid stays paid; nothing to add.
                continue
            kind = SubsidyLine.Kind.REFUND if already_paid else SubsidyLine.Kind.ADDITION
            amount = decision.refund if already_paid else decision.subsidy
            lines.append(
                SubsidyLine(
                    roster=roster,
                    person_id=person_id,
                    kind=kind,
                    identity=decision.identity,
                    amount=amount,
                    decided_on=on,
                    trace=decision.trace,
                )
            )
        SubsidyLine.objects.bulk_create(lines, batch_size=5000, ignore_conflicts=True)
        added = len(lines)
        _roster_totals(roster)
    return added


def subsidy_roster_confirm(*, roster):
    from beneficiaries.models import SubsidyRoster

    SubsidyRoster.objects.filter(pk=roster.pk).update(status=SubsidyRoster.Status.CONFIRMED)
    roster.refresh_from_db()
    return roster


def premium_transfer_request_create(*, roster, note: str = ""):
    """The not-yet-requested lines of a roster as one transfer request to the resident insurance
    fund (Baoshan Art.8(四)); the funds app posts it. Locks the roster row; a second call with
    nothing new returns None."""
    from django.db.models import Count, Sum

    from beneficiaries.models import PremiumTransferRequest, SubsidyRoster

    with transaction.atomic():
        roster = SubsidyRoster.objects.select_for_update().get(pk=roster.pk)
        pending = roster.lines.filter(transfer__isnull=True)
        figures = pending.aggregate(amount=Sum("amount"), headcount=Count("person", distinct=True))
        if not figures["amount"]:
            return None
        transfer = PremiumTransferRequest.objects.create(
            county=roster.county,
            year=roster.year,
            roster=roster,
            amount=figures["amount"],
            headcount=figures["headcount"],
            note=note or f"{roster.county.name}{roster.year}年度资助参保资金划转",
        )
        pending.update(transfer=transfer)
    return transfer


# ---------------------------------------------------------------------------------------------
# 因病致贫 certification at the counter


class ApprovalError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def illness_application_create(
    *,
    person: Person,
    applied_on: date,
    household_size: int,
    household_income,
    financial_assets,
    cost_90_days,
    urban_dibao_standard,
    insured_in_province: bool,
    created_by,
):
    """Enter an application and check it with the pack's certification rule at once, so the
    supervisor sees each test with its figures."""
    from decimal import ROUND_HALF_UP, Decimal

    from beneficiaries.models import IllnessPovertyApplication
    from medaid import policy as engine

    if household_size < 1:
        raise ApprovalError("家庭人口数至少为1")
    cent = Decimal("0.01")
    facts = engine.CertificationFacts(
        application_date=applied_on,
        insured_in_province=insured_in_province,
        personal_in_catalog_cost_90d=Decimal(cost_90_days),
        household_income_per_capita=(Decimal(household_income) / household_size).quantize(
            cent, ROUND_HALF_UP
        ),
        local_urban_dibao_standard=Decimal(urban_dibao_standard),
        financial_assets_per_capita=(Decimal(financial_assets) / household_size).quantize(
            cent, ROUND_HALF_UP
        ),
    )
    try:
        result = engine.certify_illness_poverty(person.county.pooling_area.policy_code, facts)
        eligible, trace = result.certified, result.trace
    except engine.RuleNotInPack:
        eligible, trace = None, ["本地政策包未规定因病致贫认定条件，由审批人依本地规定认定"]
    return IllnessPovertyApplication.objects.create(
        person=person,
        county=person.county,
        applied_on=applied_on,
        household_size=household_size,
        household_income=household_income,
        financial_assets=financial_assets,
        cost_90_days=cost_90_days,
        urban_dibao_standard=urban_dibao_standard,
        insured_in_province=insured_in_province,
        eligible=eligible,
        check_trace=trace,
        created_by=created_by,
    )


def illness_application_decide(*, application, approver, approve: bool, note: str = ""):
    """A supervisor's decision. The approver must hold the approval permission and must not be
    the clerk who entered the application (four eyes). Approval opens an `illness_poverty`
    identity from the approval date, certified by the county's 民政. Locks the application."""
    from beneficiaries.models import DepartmentKind, IdentityCode, IllnessPovertyApplication

    if not approver.has_perm("beneficiaries.approve_illnesspovertyapplication"):
        raise ApprovalError("无审批因病致贫认定申请的权限")
    with transaction.atomic():
        locked = IllnessPovertyApplication.objects.select_for_update().get(pk=application.pk)
        if locked.status != IllnessPovertyApplication.Status.SUBMITTED:
            raise ApprovalError("该申请已审批")
        if locked.created_by_id == approver.pk:
            raise ApprovalError("审批人不能是录入该申请的经办人")
        if approve and locked.eligible is False:
            raise ApprovalError("不符合认定条件（见核查过程），不能认定")
        today = timezone.localdate()
        if approve:
            department = Department.objects.filter(
                county_id=locked.county_id, kind=DepartmentKind.CIVIL_AFFAIRS
            ).first()
            locked.identity = identity_open(
                person=locked.person,
                code=IdentityCode.ILLNESS_POVERTY,
                start=today,
                department=department,
                certified_on=today,
                source_line=f"因病致贫申请{locked.pk}",
            )
        locked.status = (
            IllnessPovertyApplication.Status.APPROVED
            if approve
            else IllnessPovertyApplication.Status.REJECTED
        )
        locked.approved_by = approver
        locked.decided_at = timezone.now()
        locked.decision_note = note[:200]
        locked.save()
    return locked
