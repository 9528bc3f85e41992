"""The set-based merge of a staged roster into the registry, and the SQL helpers it shares
with validation.

Applying a list is a handful of set-based statements over the staging table (no query per
row), the same SQL on PostgreSQL and SQLite. History is never overwritten: an exit or a change
closes a period, a new identity opens another. The services (`services/rosters.py`) call
`merge_batch` inside their transaction, for the preview (rolled back) and for the apply.
"""

import json
import logging
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from beneficiaries.imports import ROW_REASONS
from beneficiaries.models import (
    DEPARTMENT_IDENTITIES,
    Department,
    Household,
    Identity,
    Person,
    RosterImport,
    RosterImportEnd,
    RosterImportRow,
    RowOutcome,
    Township,
)
from medaid.core import topics
from medaid.core.outbox import event_emit

logger = logging.getLogger(__name__)

BULK_ANALYZE_ROWS = 20_000
LARGE_BATCH_ROWS = 50_000

T = {
    "stg": RosterImportRow._meta.db_table,
    "person": Person._meta.db_table,
    "identity": Identity._meta.db_table,
    "household": Household._meta.db_table,
    "township": Township._meta.db_table,
    "ends": RosterImportEnd._meta.db_table,
}


def analyze(cursor, *tables: str) -> None:
    """Fresh planner statistics after a bulk load: without them PostgreSQL plans a join of a
    million staged rows as if the table were empty (a nested loop that runs for hours)."""
    if connection.vendor == "postgresql":
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def bulk_settings(cursor, rows: int) -> None:
    """Planner settings for statements that each join a whole batch (this transaction only)."""
    if connection.vendor != "postgresql":
        return
    # Hash joins and aggregates over the whole batch stay in memory instead of spilling.
    cursor.execute("SET LOCAL work_mem = '256MB'")
    if rows > LARGE_BATCH_ROWS:
        # Hash joins are right, and a misestimated nested loop over a million rows would run
        # for hours.
        cursor.execute("SET LOCAL enable_nestloop = off")


class TimedCursor:
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


class BulkAudit:
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


class TrustedKeys:
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
    run in the window (their audit events are written set-based by `BulkAudit`); updates
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


# Merge errors: the fixed reason each code carries into the staged row's 错误原因.
MERGE_ERRORS = (
    "psn_no_conflict",
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


def _share(name: str, default: str) -> Decimal:
    return Decimal(str(getattr(settings, name, default)))


def _percent(share: Decimal) -> str:
    return f"{share * 100:.0f}%"


def bounds(
    batch: RosterImport,
    *,
    department_open: int,
    scope_open: int,
    valid: int,
    refused: int,
    opened: int,
    changed: int,
    ended: int,
    end_absent_refused: str,
) -> dict:
    """What applying will open, change and end, and whether that many endings wait for a
    second person: more than `MEDAID_ROSTER_REVIEW_SHARE` (10 %) of the open identities the
    department answers for in its county (those it registered and those of the kinds it
    certifies: a feed's exits reach both) and more than `MEDAID_ROSTER_REVIEW_MIN` (10).
    Computed by the merge itself, so the preview and the apply cannot disagree."""
    review_share = _share("MEDAID_ROSTER_REVIEW_SHARE", "0.10")
    review_min = int(getattr(settings, "MEDAID_ROSTER_REVIEW_MIN", 10))
    required = ended > review_min and ended > review_share * scope_open
    message = ""
    if required:
        part = f"{Decimal(ended) / scope_open * 100:.1f}%" if scope_open else "全部"
        message = (
            f"本次将终止 {ended} 个身份，占{batch.department}负责的在册 {scope_open} 个身份的"
            f" {part}，超过 {_percent(review_share)}：须由上传人以外、具有“复核名册入库”权限的"
            f"另一位人员复核同意后才能入库"
        )
    return {
        "department_open": department_open,
        "scope_open": scope_open,
        "valid_lines": valid,
        "refused_lines": refused,
        "opened": opened,
        "changed": changed,
        "ended": ended,
        "end_absent_refused": end_absent_refused,
        "review_share": str(review_share),
        "review_min": review_min,
        "review_required": required,
        "review_message": message,
    }


def end_absent_refusal(
    batch: RosterImport, *, department_open: int, valid: int, refused: int
) -> str:
    """Why the end-absent step ends no one ('' when it may run): a list with refused lines
    ends identities only when its valid lines are at least `MEDAID_ROSTER_MIN_VALID_SHARE`
    (95 %) of the department's open identities — a file whose ID numbers Excel mangled must
    not read as "everyone left"."""
    if not refused:
        return ""
    share = _share("MEDAID_ROSTER_MIN_VALID_SHARE", "0.95")
    if valid >= share * department_open:
        return ""
    return (
        f"名册有 {refused} 行被退回，有效行 {valid} 行不足{batch.department}在册"
        f" {department_open} 个身份的 {_percent(share)}：本次不终止未列出的在册身份"
        f"（请改正错误行后重新报送）"
    )


def _scope_open(cursor, batch: RosterImport) -> int:
    """Open identities of the batch's county that the department registered or certifies."""
    if batch.kind == RosterImport.Kind.PLATFORM:
        # The platform speaks for every identity of the county.
        cursor.execute(
            f"""SELECT COUNT(*) FROM {T["identity"]} i JOIN {T["person"]} p ON p.id = i.person_id
                WHERE i."end" IS NULL AND p.county_id = %s""",
            [batch.county_id],
        )
        return cursor.fetchone()[0]
    codes = sorted(DEPARTMENT_IDENTITIES.get(batch.department.kind, ()))
    marks = ", ".join(["%s"] * len(codes)) or "''"
    cursor.execute(
        f"""SELECT COUNT(*) FROM {T["identity"]} i JOIN {T["person"]} p ON p.id = i.person_id
            WHERE i."end" IS NULL AND p.county_id = %s
              AND (i.department_id = %s OR i.code IN ({marks}))""",
        [batch.county_id, batch.department_id, *codes],
    )
    return cursor.fetchone()[0]


def _fail(cursor, code: str, where: str) -> None:
    """Mark still-valid work rows matching `where` with the named merge error."""
    cursor.execute(
        f"UPDATE {WORK} SET error_code = %s, outcome = 'error' WHERE error_code = '' AND ({where})",
        [code],
    )


def merge_batch(batch: RosterImport) -> dict:
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
        cursor = TimedCursor(raw_cursor)
        result["timings"] = cursor.timings
        bulk_settings(cursor, batch.rows_total)
        cursor.execute(
            f'SELECT COUNT(*) FROM {identity} WHERE department_id = %s AND "end" IS NULL',
            [batch.department_id],
        )
        (department_open,) = cursor.fetchone()
        cursor.execute(f"DROP TABLE IF EXISTS {w}")
        # Names and counties against the registry are checked here again: the registry may
        # have changed since the batch was validated.
        cursor.execute(
            f"""
            CREATE TEMP TABLE {w} AS
            SELECT s.line_no, s.action, s.id_number, s.name, s.sex, s.birth_date, s.code,
                s.old_code, s.start, s."end", s.prev_end, s.certified_on, s.household_code,
                s.township_id, s.insurance_scheme, s.insured_place, s.psn_no,
                p.id AS person_id,
                CASE WHEN p.id IS NULL THEN ''
                    WHEN p.name <> s.name THEN 'name_mismatch'
                    WHEN p.county_id <> %s THEN 'other_county'
                    WHEN s.psn_no <> '' AND p.psn_no <> s.psn_no THEN 'psn_no_conflict'
                    ELSE '' END AS error_code,
                CAST('' AS VARCHAR(16)) AS outcome, 0 AS fresh
            FROM {stg} s LEFT JOIN {person} p ON p.id_number = s.id_number
            WHERE s.batch_id = %s AND s.error_code = ''
            """,
            [county, b],
        )
        cursor.execute(f"UPDATE {w} SET person_id = NULL, outcome = 'error' WHERE error_code <> ''")
        if connection.vendor == "sqlite":
            # SQLite joins by nested loops: without an index every join on the line (the
            # write-back to the staged rows, the people's last lines) scans the whole work
            # table once per line — 40,000 lines took minutes. PostgreSQL hashes instead.
            cursor.execute(f"CREATE UNIQUE INDEX {w}_line ON {w} (line_no)")
        analyze(cursor, w)
        # A township resolved at validation may have been removed since.
        _fail(
            cursor,
            "township_unknown",
            f"township_id IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {T['township']} t WHERE t.id = {w}.township_id)",
        )
        keys = TrustedKeys(cursor)
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
            analyze(cursor, household)
        audit = BulkAudit(cursor, batch, now)
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
                household_id, insurance_scheme, insured_place, psn_no, created_at, updated_at)
            SELECT s.id_number, s.name, s.sex, s.birth_date, %s, s.township_id, h.id,
                CASE WHEN s.insurance_scheme = '' THEN 'resident' ELSE s.insurance_scheme END,
                s.insured_place, NULLIF(s.psn_no, ''), %s, %s
            FROM ({first_lines}) s
            LEFT JOIN {household} h ON h.county_id = %s AND h.code = s.household_code
            ORDER BY s.id_number
            """,
            [county, now, now, county],
        )
        keys.end()
        if result["people_created"] > BULK_ANALYZE_ROWS:
            analyze(cursor, person)
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
                analyze(cursor, w)
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
        # Only a list that can end someone needs the wider count (a join with the people).
        scope_open = department_open
        if batch.end_absent or actions & {"end", "change"}:
            scope_open = _scope_open(cursor, batch)
        lines_with_person = sum(by_action.get(a, (0, 0))[0] for a in ("add", "change"))
        lines_of_new_people = sum(by_action.get(a, (0, 0))[1] for a in ("add", "change"))
        # What the list says about people already registered: household, township, insurance.
        result["people_updated"] = 0
        if lines_with_person > result["people_created"]:
            result["people_updated"] = _update_people(cursor, county, now)
        if batch.kind == RosterImport.Kind.PLATFORM:
            result["psn_no_recorded"] = _record_psn_no(cursor, now)
            _platform_periods(cursor)
            cursor.execute(f"SELECT DISTINCT action FROM {w} WHERE error_code = ''")
            actions = {action for (action,) in cursor.fetchall()}
            if "end" in actions:
                scope_open = _scope_open(cursor, batch)
        if actions & {"end", "change"}:
            _fail(cursor, "person_unknown", "action IN ('end', 'change') AND person_id IS NULL")
        if "end" in actions:
            _merge_exits(cursor, batch)
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
        result["identities_opened"] += insert_identities(
            audit, batch, now, f"{w}.outcome = 'added'"
        )
        keys.end()
        if result["identities_opened"] > BULK_ANALYZE_ROWS:
            analyze(cursor, identity)

        cursor.execute(f"SELECT COUNT(*) FROM {w} WHERE error_code = ''")
        (valid,) = cursor.fetchone()
        refused = max(batch.rows_total - valid, 0)
        ended_absent = 0
        end_absent_refused = ""
        changed: set[tuple[int, date]] = set()
        if batch.kind == RosterImport.Kind.ROSTER and batch.end_absent:
            end_absent_refused = end_absent_refusal(
                batch, department_open=department_open, valid=valid, refused=refused
            )
        if batch.kind == RosterImport.Kind.ROSTER and batch.end_absent and not end_absent_refused:
            ended_people = _end_absent(cursor, batch)
            ended_absent = len(ended_people)
            changed.update(ended_people)
        result["ended_absent"] = ended_absent
        result["people_changed"] = _identities_changed(cursor, batch, changed)

        # Back to the staged rows, once each: refused at validation, then what the merge did.
        cursor.execute(
            f"UPDATE {stg} SET outcome = 'error' WHERE batch_id = %s AND error_code <> ''", [b]
        )
        refused_rows = max(cursor.rowcount, 0)
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
        if refused_rows:
            counts[RowOutcome.ERROR] = counts.get(RowOutcome.ERROR, 0) + refused_rows
        result["counts"] = counts
        result["bounds"] = bounds(
            batch,
            department_open=department_open,
            scope_open=scope_open,
            valid=valid,
            refused=refused,
            opened=counts.get(RowOutcome.ADDED, 0),
            changed=counts.get(RowOutcome.CHANGED, 0),
            ended=counts.get(RowOutcome.ENDED, 0) + ended_absent,
            end_absent_refused=end_absent_refused,
        )
        cursor.execute(f"DROP TABLE {w}")
    return result


def _close(cursor, batch: RosterImport, reason: str, select: str, params=()) -> None:
    """Close identity periods: `select` names (identity id, person id, last day); they are
    recorded for a reversal (`RosterImportEnd`), then closed by id."""
    ends, identity = T["ends"], T["identity"]
    cursor.execute(
        f"INSERT INTO {ends} (batch_id, identity_id, person_id, ended_on, reason)"
        f" SELECT %s, c.identity_id, c.person_id, c.ended_on, %s FROM ({select}) c",
        [batch.pk, reason, *params],
    )
    if cursor.rowcount:
        cursor.execute(
            f"""UPDATE {identity} SET "end" = e.ended_on FROM {ends} e
                WHERE e.batch_id = %s AND e.reason = %s AND {identity}.id = e.identity_id""",
            [batch.pk, reason],
        )


def _end_absent(cursor, batch: RosterImport) -> list[tuple[int, date]]:
    """A full roster's 未列出的在册身份终止: the department's open identities that no VALID
    line of the list names end the day before the list's date (a refused line protects no
    one and ends no one: the caller has checked the list's valid share)."""
    identity, w = T["identity"], WORK
    last_day = batch.stated_date - timedelta(days=1)
    if connection.vendor == "sqlite":
        cursor.execute(f"CREATE INDEX {w}_person ON {w} (person_id, code)")
    _close(
        cursor,
        batch,
        RosterImportEnd.Reason.ABSENT,
        f"""SELECT i.id AS identity_id, i.person_id, %s AS ended_on FROM {identity} i
            WHERE i.department_id = %s AND i."end" IS NULL AND i.start <= %s
              AND NOT EXISTS (SELECT 1 FROM {w} s WHERE s.person_id = i.person_id
                AND s.code = i.code AND s.error_code = '')""",
        [last_day, batch.department_id, last_day],
    )
    cursor.execute(
        f"SELECT person_id FROM {T['ends']} WHERE batch_id = %s AND reason = %s",
        [batch.pk, RosterImportEnd.Reason.ABSENT],
    )
    return [(person_id, last_day) for (person_id,) in cursor.fetchall()]


def _record_psn_no(cursor, now) -> int:
    """Registered people without a platform number take the one their lines give (a person
    created by this list got it when created). A number another person holds is left alone
    (validation refused such lines; this guards against a change since)."""
    person, w = T["person"], WORK
    cursor.execute(
        f"""UPDATE {person} SET psn_no = u.psn_no, updated_at = %s
            FROM (SELECT person_id, MIN(psn_no) AS psn_no FROM {w}
                  WHERE error_code = '' AND person_id IS NOT NULL AND psn_no <> ''
                  GROUP BY person_id) u
            WHERE {person}.id = u.person_id AND {person}.psn_no IS NULL
              AND NOT EXISTS (SELECT 1 FROM {person} o WHERE o.psn_no = u.psn_no)""",
        [now],
    )
    return max(cursor.rowcount, 0)


def _platform_periods(cursor) -> None:
    """What a platform period says about a registered person's periods of that identity.

    - It has an end, and the person holds that identity open from a day on or before it: the
      open period ends there (the line becomes an exit: `_merge_exits`, reversible, counted
      by the review bound). Its first day is then not compared with ours.
    - No period of that identity covers its first day but a later one overlaps it: the
      identity is backdated — a period is opened from its first day to the day before the
      registered one starts (history is not rewritten: the registered period stays).
    Anything else is an addition as a department's line is (`unchanged` when covered)."""
    identity, w = T["identity"], WORK
    cursor.execute(
        f"""UPDATE {w} SET action = 'end', start = NULL
            WHERE error_code = '' AND action = 'add' AND fresh = 0 AND "end" IS NOT NULL
              AND EXISTS (SELECT 1 FROM {identity} i WHERE i.person_id = {w}.person_id
                AND i.code = {w}.code AND i."end" IS NULL AND i.start <= {w}."end")"""
    )
    day_before = (
        "MIN(i.start) - 1"
        if connection.vendor == "postgresql"
        else ("date(MIN(i.start), '-1 day')")
    )
    covered = (
        f"SELECT 1 FROM {identity} i WHERE i.person_id = {w}.person_id AND i.code = {w}.code"
        f' AND i.start <= {w}.start AND (i."end" IS NULL OR i."end" >= {w}.start)'
    )
    later = (
        f"FROM {identity} i WHERE i.person_id = {w}.person_id AND i.code = {w}.code"
        f" AND i.start > {w}.start AND i.start <= COALESCE({w}.\"end\", '9999-12-31')"
    )
    cursor.execute(
        f"""UPDATE {w} SET "end" = (SELECT {day_before} {later})
            WHERE error_code = '' AND action = 'add' AND fresh = 0
              AND NOT EXISTS ({covered}) AND EXISTS (SELECT 1 {later})"""
    )


def _merge_exits(cursor, batch: RosterImport) -> None:
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
    _close(
        cursor,
        batch,
        RosterImportEnd.Reason.EXIT,
        f"""SELECT i.id AS identity_id, MIN(i.person_id) AS person_id, MIN(s."end") AS ended_on
            FROM {identity} i JOIN {w} s ON i.person_id = s.person_id AND i.code = s.code
            WHERE s.outcome = 'ended' AND i."end" IS NULL AND i.start <= s."end"
            GROUP BY i.id""",
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
    _close(
        cursor,
        batch,
        RosterImportEnd.Reason.CHANGE,
        f"""SELECT i.id AS identity_id, MIN(i.person_id) AS person_id,
                MIN(s.prev_end) AS ended_on
            FROM {identity} i JOIN {w} s ON i.person_id = s.person_id AND i.code = s.old_code
            WHERE s.outcome = 'changed' AND i."end" IS NULL AND i.start <= s.prev_end
            GROUP BY i.id""",
    )
    keys.lock(
        person,
        f"id IN (SELECT person_id FROM {w} WHERE outcome = 'changed' AND fresh = 0)",
    )
    keys.begin()
    opened = insert_identities(
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


def insert_identities(audit: BulkAudit, batch: RosterImport, now, where: str) -> int:
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


def _identities_changed(cursor, batch: RosterImport, changed: set[tuple[int, date]]) -> int:
    """Tell the claims app (outbox, in the merge's transaction) which registered people's
    identities this list opened, ended or changed, each from the earliest day it touched:
    their claims are recomputed from there. People created by this list have no claims yet."""
    cursor.execute(
        f"""SELECT person_id, MIN(COALESCE(start, "end", prev_end)) FROM {WORK}
            WHERE outcome IN ('added', 'ended', 'changed') AND fresh = 0
              AND person_id IS NOT NULL
            GROUP BY person_id"""
    )
    earliest: dict[int, date] = {}
    for person_id, day in [*cursor.fetchall(), *changed]:
        if isinstance(day, str):  # SQLite returns dates of an aggregate as text
            day = date.fromisoformat(day)
        if day is not None and (person_id not in earliest or day < earliest[person_id]):
            earliest[person_id] = day
    if earliest:
        event_emit(
            topics.IDENTITY_CHANGED,
            {
                "people": [[pid, day.isoformat()] for pid, day in sorted(earliest.items())],
                "source": (
                    f"医保平台人员身份 #{batch.pk}"
                    if batch.kind == RosterImport.Kind.PLATFORM
                    else f"名册导入 #{batch.pk}"
                ),
            },
            key=f"county:{batch.county_id}",
        )
    return len(earliest)
