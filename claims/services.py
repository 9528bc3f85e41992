"""Every write of the claims app: decision runs, corrections and their adjustments, hospital
declarations, counter applications, reviews and early warnings.

Decisions come from `medaid.policy.decide` only. A run splits its people into partitions,
ranges of person ids; a partition decides each of its people's whole natural year in date order
and commits at once, so a person's cumulative state (deductible, caps, tilt) never crosses
tasks, and a partition is either done or not (its row in PostgreSQL says which).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import logging
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Sum
from django.utils import timezone

from beneficiaries.models import Person
from claims import selectors
from claims.bulk import chunks, insert_rows, is_postgres, update_by_ids
from claims.models import (
    Adjustment,
    Application,
    ApplicationApproval,
    ApplicationTransition,
    Claim,
    ClaimKind,
    Decision,
    DecisionRun,
    Declaration,
    DeclarationLine,
    Hospital,
    ReviewReason,
    RunPartition,
    RunPerson,
    Warning,
    WarningDispatch,
)
from medaid import policy
from medaid.core.jobs import task_send
from medaid.core.models import Job
from medaid.core.workdays import month_range
from medaid.policy import load_pack

logger = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 48
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class ClaimsError(Exception):
    """A refused action, with a named code and the Chinese message a clerk reads."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


# --- decision runs --------------------------------------------------------------------------


def run_create(
    *,
    kind: str,
    year: int,
    people: QuerySet,
    reason: str = "",
    partitions: int = DEFAULT_PARTITIONS,
    declaration: Declaration | None = None,
    job=None,
) -> DecisionRun:
    """Stage `people` (a queryset of person ids, one column) for a run over `year`. Set-based:
    one INSERT … SELECT, whatever the number of people."""
    with transaction.atomic():
        run = DecisionRun.objects.create(
            kind=kind,
            year=year,
            partitions=partitions,
            reason=reason[:200],
            declaration=declaration,
            job=job,
        )
        # Through Person so that the staged column is known to be "id", whatever `people` is.
        # Partitions are ranges of person ids, not a hash: a partition's claims and decisions
        # then lie on neighbouring pages, so its superseding updates and foreign-key row locks
        # dirty (and WAL-log as full pages after each checkpoint) a few pages many times
        # instead of every page of the table once per partition.
        ids = Person.objects.filter(id__in=people).order_by().values("id")
        sql, params = ids.query.sql_with_params()
        table = RunPerson._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (run_id, partition, person_id) "
                f"SELECT %s, ntile(%s) OVER (ORDER BY p.id) - 1, p.id FROM ({sql}) p",
                (run.pk, partitions, *params),
            )
        counts = dict(
            RunPerson.objects.filter(run=run)
            .values_list("partition")
            .annotate(n=Count("id"))
            .values_list("partition", "n")
        )
        RunPartition.objects.bulk_create(
            RunPartition(run=run, number=number, people=counts.get(number, 0))
            for number in range(partitions)
        )
        run.people = sum(counts.values())
        run.save(update_fields=["people"])
        if job is not None:
            Job.objects.filter(pk=job.pk).update(
                progress_total=partitions,
                progress_done=0,
                status=Job.Status.RUNNING,
                started_at=timezone.now(),
            )
    return run


@dataclass
class _PartitionWrites:
    decisions: list[tuple] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    settled_changes: dict[int, tuple[int, Decimal]] = field(default_factory=dict)
    status: dict[tuple[str, str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    claims: int = 0


def _same(current: selectors.CurrentDecision, new) -> bool:
    return (
        current.eligible == new.eligible
        and current.reason == (new.reason.value if new.reason else "")
        and current.identity == (new.identity or "")
        and current.policy_version == new.policy_version
        and current.parameters_hash == new.parameters_hash
        and current.policy_self_pay == new.policy_self_pay
        and current.deductible_applied == new.deductible_applied
        and current.ratio == new.ratio
        and current.assistance == new.assistance
        and current.tilted_assistance == new.tilted_assistance
    )


def _status_after_decision(row: selectors.ClaimRow, new) -> tuple[str, str, str] | None:
    """What a claim waiting for its first decision becomes once decided; None keeps it."""
    if row.status != Claim.Status.PENDING:
        return None
    if row.source == Claim.Source.DECLARATION:
        if row.review_reason:
            return (Claim.Status.REVIEW, row.review_reason, "")
        declared = row.declared_assistance or ZERO
        if declared == new.total:
            return (Claim.Status.ACCEPTED, "", "")
        if not new.eligible and declared > 0:
            return (Claim.Status.REVIEW, ReviewReason.NOT_ELIGIBLE, "")
        return (Claim.Status.REVIEW, ReviewReason.AMOUNT_MISMATCH, "")
    if row.source == Claim.Source.MANUAL:
        return (Claim.Status.ACCEPTED, "", "")
    # Application claims wait for the supervisor.
    return None


def _decide_person(
    rows: list[selectors.ClaimRow],
    person: policy.PersonFacts | None,
    current: dict[int, selectors.CurrentDecision],
    run_id: int | None,
    now: dt.datetime,
    out: _PartitionWrites,
) -> None:
    for policy_code, group in groupby(rows, key=lambda r: r.policy_code):
        group = list(group)
        out.claims += len(group)
        try:
            if person is None:
                raise LookupError("救助对象不存在")
            case = selectors.build_case(policy_code=policy_code, person=person, claims=group)
            result = policy.decide(case)
        except Exception as exc:
            logger.warning("engine refused person %s: %s", group[0].person_id, exc)
            note = f"{type(exc).__name__}: {exc}"[:500]
            for row in group:
                if row.status == Claim.Status.PENDING:
                    out.status[(Claim.Status.REVIEW, ReviewReason.ENGINE_REFUSED, note)].append(
                        row.id
                    )
            continue
        by_ref = {d.ref: d for d in result.claims}
        for row in group:
            new = by_ref[row.facts.ref]
            old = current.get(row.id)
            if old is None or not _same(old, new):
                if old is not None:
                    out.superseded.append(old.id)
                    if row.status == Claim.Status.SETTLED and old.total != new.total:
                        out.settled_changes[row.id] = (old.id, new.total - old.total)
                out.decisions.append(
                    (
                        row.id,
                        True,
                        new.eligible,
                        new.reason.value if new.reason else "",
                        new.identity or "",
                        new.policy,
                        new.policy_version,
                        new.parameters_hash,
                        new.policy_self_pay,
                        new.deductible_applied,
                        new.ratio,
                        new.assistance,
                        new.tilted_assistance,
                        new.total,
                        trace_json(new.trace),
                        run_id,
                        now,
                    )
                )
            status = _status_after_decision(row, new)
            if status is not None:
                out.status[status].append(row.id)


def trace_json(lines: list[str]) -> str:
    """A trace as JSON text for the COPY. Trace lines are printable Chinese text without ASCII
    quotes or backslashes, which need no escaping: joining them is a fraction of json.dumps's
    cost on 2 KB of non-ASCII text; anything else goes through json.dumps."""
    if not lines:
        return "[]"
    joined = '","'.join(lines)
    # Every quote in `joined` is a separator's (two each), so no line holds one.
    if joined.count('"') == 2 * (len(lines) - 1) and "\\" not in joined and joined.isprintable():
        return f'["{joined}"]'
    return json.dumps(lines, ensure_ascii=False)


_DECISION_COLUMNS = (
    "claim_id",
    "is_current",
    "eligible",
    "reason",
    "identity",
    "policy_code",
    "policy_version",
    "parameters_hash",
    "policy_self_pay",
    "deductible_applied",
    "ratio",
    "assistance",
    "tilted_assistance",
    "total",
    "trace",
    "run_id",
    "decided_at",
)


def _write(out: _PartitionWrites, *, run_id: int | None, reason: str) -> int:
    update_by_ids(
        Decision._meta.db_table, "is_current = %s", out.superseded, "is_current", (False,)
    )
    written = insert_rows(Decision._meta.db_table, _DECISION_COLUMNS, out.decisions, plain=True)
    if out.settled_changes:
        claim_ids = list(out.settled_changes)
        new_ids: dict[int, int] = {}
        for ids in chunks(claim_ids):
            new_ids.update(
                Decision.objects.filter(claim_id__in=ids, is_current=True).values_list(
                    "claim_id", "id"
                )
            )
        Adjustment.objects.bulk_create(
            Adjustment(
                claim_id=claim_id,
                decision_id=new_ids[claim_id],
                previous_decision_id=previous_id,
                amount=amount,
                reason=reason or "重新计算",
            )
            for claim_id, (previous_id, amount) in out.settled_changes.items()
        )
    now = timezone.now()
    for (status, review_reason, note), ids in out.status.items():
        update_by_ids(
            Claim._meta.db_table,
            "status = %s, review_reason = %s, review_note = %s, updated_at = %s",
            ids,
            "status = %s",
            (status, review_reason, note, now, Claim.Status.PENDING),
        )
    return written


@contextmanager
def _gc_paused():
    """A partition builds some hundred thousand small acyclic objects (facts, decisions, trace
    lines) and keeps them until its COPY; the cyclic collector would rescan that growing heap
    over and over (half the decide time measured), and finds nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decide_people(*, people, year: int, run_id: int | None, reason: str) -> _PartitionWrites:
    persons = selectors.person_facts(people=people)
    claim_rows = selectors.year_claims(people=people, year=year)
    rows_by_person = [(pid, list(g)) for pid, g in groupby(claim_rows, key=lambda r: r.person_id)]
    current = selectors.current_decisions(
        claim_ids=[row.id for _, rows in rows_by_person for row in rows]
    )
    out = _PartitionWrites()
    now = timezone.now()
    for pid, rows in rows_by_person:
        _decide_person(rows, persons.get(pid), current, run_id, now, out)
    return out


def run_partition_decide(*, run_id: int, number: int) -> RunPartition:
    """Decide one partition of a run. Takes the partition's row lock for the whole work, so two
    workers given the same partition do it once; a partition already done is skipped, which
    makes re-delivery harmless."""
    # Marked running in a statement of its own: inside the partition's transaction the run row
    # would stay locked until that partition commits, and every other worker's first partition
    # would wait for it.
    DecisionRun.objects.filter(pk=run_id, status=DecisionRun.Status.PENDING).update(
        status=DecisionRun.Status.RUNNING
    )
    with transaction.atomic():
        part = RunPartition.objects.select_for_update().get(run_id=run_id, number=number)
        if part.done:
            return part
        run = DecisionRun.objects.get(pk=run_id)
        people = selectors.run_people(run_id=run_id, partition=number)
        with _gc_paused():
            out = _decide_people(people=people, year=run.year, run_id=run_id, reason=run.reason)
            written = _write(out, run_id=run_id, reason=run.reason)
        part.done = True
        part.claims = out.claims
        part.decisions_written = written
        part.finished_at = timezone.now()
        part.save(update_fields=["done", "claims", "decisions_written", "finished_at"])
        if run.job_id:
            Job.objects.filter(pk=run.job_id).update(progress_done=F("progress_done") + 1)
    return part


def run_finish(*, run_id: int) -> bool:
    """Close a run once every partition is done (idempotent; the last partition calls it)."""
    with transaction.atomic():
        run = DecisionRun.objects.select_for_update().get(pk=run_id)
        if run.status == DecisionRun.Status.DONE:
            return True
        if run.partition_rows.filter(done=False).exists():
            return False
        totals = run.partition_rows.aggregate(c=Sum("claims"), d=Sum("decisions_written"))
        run.claims_decided = totals["c"] or 0
        run.decisions_written = totals["d"] or 0
        run.adjustments_written = Adjustment.objects.filter(decision__run=run).count()
        run.status = DecisionRun.Status.DONE
        run.finished_at = timezone.now()
        run.save()
        RunPerson.objects.filter(run=run).delete()
        if run.job_id:
            Job.objects.filter(pk=run.job_id).update(
                status=Job.Status.SUCCEEDED,
                finished_at=timezone.now(),
                result={
                    "people": run.people,
                    "claims": run.claims_decided,
                    "decisions": run.decisions_written,
                    "adjustments": run.adjustments_written,
                },
            )
    if run.declaration_id:
        declaration_finish(declaration_id=run.declaration_id)
    return True


def run_execute(*, run: DecisionRun, progress=None) -> DecisionRun:
    """Decide every partition of `run` in this process (the eager path, tests, small runs)."""
    if progress is not None:
        progress.set_total(run.partitions)
    for number in range(run.partitions):
        run_partition_decide(run_id=run.pk, number=number)
        if progress is not None:
            progress.advance(1)
    run_finish(run_id=run.pk)
    run.refresh_from_db()
    return run


def run_dispatch(*, run: DecisionRun) -> None:
    """Send one task per partition after commit; eager mode runs them right away."""
    for number in range(run.partitions):
        task_send("claims.tasks.decide_partition", run.pk, number)


def people_recompute(
    *,
    people: QuerySet,
    since: dt.date,
    reason: str,
    kind: str = DecisionRun.Kind.CORRECTION,
    partitions: int = 1,
    until_year: int | None = None,
    dispatch: bool = False,
) -> list[DecisionRun]:
    """Recompute `people`'s claims from the year of `since` to this year (an identity change
    that reaches back, a corrected claim). Later claims of the year get new decisions in date
    order; settled ones get adjustments for the next settlement. The beneficiaries app calls
    this after a roster change that reaches back."""
    until_year = until_year or max(timezone.localdate().year, since.year)
    runs = []
    for year in range(since.year, until_year + 1):
        run = run_create(kind=kind, year=year, people=people, reason=reason, partitions=partitions)
        if dispatch:
            run_dispatch(run=run)
        else:
            run_execute(run=run)
        runs.append(run)
    return runs


def year_recompute_start(*, year: int, county=None, reason: str, job=None) -> DecisionRun:
    """Recompute a whole year (a new pack version, a corrected parameter): every person with a
    claim that year, partitioned."""
    claims = Claim.objects.filter(discharged__year=year)
    if county is not None:
        claims = claims.filter(county=county)
    people = claims.order_by().values("person_id").distinct()
    return run_create(
        kind=DecisionRun.Kind.RECOMPUTE, year=year, people=people, reason=reason, job=job
    )


# --- claim validation shared by declarations, applications and manual entry -------------------

MONEY_FIELDS = (
    "total_cost",
    "in_policy_cost",
    "out_of_catalog_cost",
    "basic_insurance_paid",
    "critical_illness_paid",
    "other_paid",
)


def claim_figures_errors(data: dict) -> list[tuple[str, str]]:
    """The named problems in a claim's dates and amounts (empty when they add up)."""
    from claims.models import LineError

    errors = []
    for name in (*MONEY_FIELDS, "declared_assistance"):
        value = data.get(name)
        if value is not None and value < 0:
            errors.append((LineError.NEGATIVE_AMOUNT, f"{LineError.NEGATIVE_AMOUNT.label}：{name}"))
            return errors
    admitted, discharged = data.get("admitted"), data.get("discharged")
    if admitted and discharged and discharged < admitted:
        errors.append(
            (LineError.DISCHARGE_BEFORE_ADMISSION, LineError.DISCHARGE_BEFORE_ADMISSION.label)
        )
    in_policy = data.get("in_policy_cost") or ZERO
    paid = sum((data.get(n) or ZERO for n in MONEY_FIELDS[3:]), ZERO)
    if paid > in_policy:
        errors.append((LineError.PAID_EXCEEDS_COST, LineError.PAID_EXCEEDS_COST.label))
    total = data.get("total_cost")
    if total is not None and in_policy + (data.get("out_of_catalog_cost") or ZERO) > total:
        errors.append((LineError.COST_MISMATCH, LineError.COST_MISMATCH.label))
    return errors


def policy_window(policy_code: str) -> tuple[dt.date, dt.date | None] | None:
    """The days the pack's versions cover (first day, expiry or None); None when no such pack."""
    try:
        pack = load_pack(policy_code)
    except (LookupError, ValueError, OSError):
        return None
    return pack.first_day, pack.expires


def policy_covers(policy_code: str, day: dt.date) -> bool:
    window = policy_window(policy_code)
    return window is not None and window[0] <= day and (window[1] is None or day <= window[1])


# --- corrections and reviews ---------------------------------------------------------------

CORRECTABLE_FIELDS = (
    "kind",
    "admitted",
    "discharged",
    "referred",
    "follow_up",
    "emergency",
    "major_disease",
    "chronic_category",
    *MONEY_FIELDS,
    "receipt_numbers",
)


def claim_correct(*, claim: Claim, changes: dict, by, reason: str) -> list[DecisionRun]:
    """Correct a claim's facts and recompute its person's year from it. A settled claim keeps its
    paid decision as history; the difference becomes an adjustment. Lock: the claim row."""
    if not reason:
        raise ClaimsError("reason_required", "更正必须填写原因")
    unknown = set(changes) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise ClaimsError("not_correctable", f"不能更正的字段：{', '.join(sorted(unknown))}")
    with transaction.atomic():
        claim = Claim.objects.select_for_update().get(pk=claim.pk)
        old_year = claim.discharged.year
        data = {name: getattr(claim, name) for name in CORRECTABLE_FIELDS} | changes
        problems = claim_figures_errors(data)
        if problems:
            raise ClaimsError(problems[0][0], problems[0][1])
        for name, value in changes.items():
            setattr(claim, name, value)
        claim.save()
        since = min(dt.date(old_year, 1, 1), claim.discharged)
        people = Person.objects.filter(pk=claim.person_id).values("id")
        note = f"更正明细 {claim.external_ref}：{reason}"
        return people_recompute(
            people=people, since=since, until_year=max(old_year, claim.discharged.year), reason=note
        )


def claim_review_resolve(*, claim: Claim, by, accept: bool, note: str) -> Claim:
    """A reviewer's answer for a claim in the review queue. Accepting keeps medaid's own figure
    (never the hospital's); refusing takes the claim out of the person's year, whose later claims
    are then recomputed. Lock: the claim row."""
    if not note:
        raise ClaimsError("note_required", "复核必须填写意见")
    with transaction.atomic():
        claim = Claim.objects.select_for_update().get(pk=claim.pk)
        if claim.status != Claim.Status.REVIEW:
            raise ClaimsError("not_in_review", "该明细不在复核队列中")
        overlap = claim.review_reason == ReviewReason.OVERLAP_OTHER_HOSPITAL
        if accept:
            # An overlapping claim was left out of the person's year; it now counts.
            claim.status = Claim.Status.PENDING if overlap else Claim.Status.ACCEPTED
            claim.review_reason = ""
        else:
            claim.status = Claim.Status.REJECTED
        claim.review_note = f"{by}：{note}"[:500]
        claim.save(update_fields=["status", "review_reason", "review_note", "updated_at"])
        if not accept or overlap:
            people = Person.objects.filter(pk=claim.person_id).values("id")
            people_recompute(
                people=people,
                since=dt.date(claim.discharged.year, 1, 1),
                until_year=claim.discharged.year,
                reason=f"复核{'通过' if accept else '不予受理'} {claim.external_ref}",
            )
        if accept and overlap:
            Claim.objects.filter(pk=claim.pk, status=Claim.Status.PENDING).update(
                status=Claim.Status.ACCEPTED, review_reason=""
            )
        claim.refresh_from_db()
    return claim


# --- declarations --------------------------------------------------------------------------


class DuplicateDeclaration(ClaimsError):
    def __init__(self, existing: Declaration):
        self.existing = existing
        super().__init__(
            "duplicate_file",
            f"该文件已于 {timezone.localtime(existing.created_at):%Y-%m-%d %H:%M} 上传"
            f"（{existing}），不重复导入",
        )


def declaration_receive(
    *,
    hospital: Hospital | None,
    year: int,
    month: int,
    channel: str,
    file_name: str,
    content_hash: str,
    lines,
    uploaded_by=None,
) -> Declaration:
    """Register a declaration and stage its parsed lines. The same content twice is refused (the
    hash is unique), so a file uploaded twice is never counted twice."""
    if not 1 <= month <= 12:
        raise ClaimsError("bad_month", "申报月份应为 1–12")
    existing = Declaration.objects.filter(file_hash=content_hash).first()
    if existing is not None:
        raise DuplicateDeclaration(existing)
    with transaction.atomic():
        declaration = Declaration.objects.create(
            hospital=hospital,
            year=year,
            month=month,
            channel=channel,
            file_name=file_name[:200],
            file_hash=content_hash,
            uploaded_by=uploaded_by,
        )
        columns = ["declaration_id", *DECLARATION_LINE_COLUMNS]
        count = insert_rows(
            DeclarationLine._meta.db_table,
            columns,
            ((declaration.pk, *line) for line in lines),
        )
        declaration.lines_total = count
        declaration.save(update_fields=["lines_total"])
    return declaration


# A declaration line's fields, in the order of a hospital's file and of the staging tuple.
DECLARATION_LINE_FIELDS = (
    "hospital_code",
    "id_number",
    "name",
    "external_ref",
    "kind",
    "admitted",
    "discharged",
    "referred",
    "follow_up",
    "emergency",
    "major_disease",
    "chronic_category",
    "total_cost",
    "in_policy_cost",
    "out_of_catalog_cost",
    "basic_insurance_paid",
    "critical_illness_paid",
    "other_paid",
    "declared_assistance",
    "receipt_numbers",
)
DECLARATION_LINE_COLUMNS = ("line_no", *DECLARATION_LINE_FIELDS, "error", "error_detail")


def _flag(sql_where: str, code: str, declaration_id: int, params=()) -> None:
    table = DeclarationLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET error = %s WHERE declaration_id = %s AND error = '' "
            f"AND ({sql_where})",
            (code, declaration_id, *params),
        )


def declaration_check(*, declaration: Declaration) -> None:
    """Set-based checks on the staged lines; the first problem of a line is its reason. Lines
    are only read here (and the refused ones marked): rewriting every staged row to resolve its
    person and hospital would cost more than looking them up again in the merge."""
    from beneficiaries.models import County
    from claims.models import LineError

    d = declaration.pk
    lines = DeclarationLine._meta.db_table
    hospitals = Hospital._meta.db_table
    people = Person._meta.db_table
    claims = Claim._meta.db_table
    person_of_line = f"SELECT p.id FROM {people} p WHERE p.id_number = {lines}.id_number"
    money = [*MONEY_FIELDS, "declared_assistance"]
    _flag(" OR ".join(f"{m} < 0" for m in money), LineError.NEGATIVE_AMOUNT, d)
    _flag("discharged < admitted", LineError.DISCHARGE_BEFORE_ADMISSION, d)
    _flag(
        "COALESCE(basic_insurance_paid, 0) + COALESCE(critical_illness_paid, 0) "
        "+ COALESCE(other_paid, 0) > in_policy_cost",
        LineError.PAID_EXCEEDS_COST,
        d,
    )
    _flag(
        "total_cost IS NOT NULL AND in_policy_cost + COALESCE(out_of_catalog_cost, 0) > total_cost",
        LineError.COST_MISMATCH,
        d,
    )
    _, period_end = month_range(declaration.year, declaration.month)
    _flag("discharged > %s", LineError.FUTURE_DATE, d, (period_end,))
    _flag(
        f"NOT EXISTS (SELECT 1 FROM {hospitals} h WHERE h.code = {lines}.hospital_code)",
        LineError.UNKNOWN_HOSPITAL,
        d,
    )
    if declaration.hospital_id:
        _flag("hospital_code <> %s", LineError.HOSPITAL_MISMATCH, d, (declaration.hospital.code,))
    _flag(f"NOT EXISTS ({person_of_line})", LineError.UNKNOWN_PERSON, d)
    # No pack covers the date: per pooling area, outside its pack's versions.
    for code, county_ids in _counties_by_policy(County).items():
        window = policy_window(code)
        placeholders = ", ".join(["%s"] * len(county_ids))
        in_area = f"EXISTS ({person_of_line} AND p.county_id IN ({placeholders}))"
        if window is None:
            _flag(in_area, LineError.NO_POLICY, d, county_ids)
            continue
        first, expires = window
        _flag(
            f"(discharged < %s OR discharged > %s) AND {in_area}",
            LineError.NO_POLICY,
            d,
            (first, expires or dt.date.max, *county_ids),
        )
    _flag(
        f"EXISTS (SELECT 1 FROM {lines} o WHERE o.declaration_id = {lines}.declaration_id "
        f"AND o.external_ref = {lines}.external_ref AND o.line_no < {lines}.line_no)",
        LineError.DUPLICATE_IN_FILE,
        d,
    )
    _flag(
        f"EXISTS (SELECT 1 FROM {claims} c JOIN {hospitals} h ON h.id = c.hospital_id "
        f"WHERE h.code = {lines}.hospital_code AND c.external_ref = {lines}.external_ref)",
        LineError.ALREADY_DECLARED,
        d,
    )


def _counties_by_policy(county_model) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for county_id, code in county_model.objects.values_list("id", "pooling_area__policy_code"):
        out[code].append(county_id)
    return out


def declaration_merge(*, declaration: Declaration) -> int:
    """Turn the lines that passed into claims, set-based, in one INSERT … SELECT. A stay that
    overlaps one of the same person and kind declared by another hospital goes straight to the
    review queue and is kept out of the person's year until a reviewer decides, so that nothing
    counts twice toward deductibles and caps."""
    d = declaration.pk
    lines = DeclarationLine._meta.db_table
    claims = Claim._meta.db_table
    people = Person._meta.db_table
    hospitals = Hospital._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {claims} (
                person_id, county_id, hospital_id, source, external_ref, kind, admitted,
                discharged, referred, follow_up, emergency, major_disease, chronic_category,
                settlement, total_cost, in_policy_cost, out_of_catalog_cost,
                basic_insurance_paid, critical_illness_paid, other_paid, declared_assistance,
                receipt_numbers, status, review_reason, review_note, declaration_id,
                created_at, updated_at)
            SELECT pid, cid, hid, %s, external_ref, kind, admitted, discharged, referred,
                follow_up, emergency, major_disease, chronic_category, %s,
                COALESCE(total_cost, in_policy_cost + COALESCE(out_of_catalog_cost, 0)),
                in_policy_cost, COALESCE(out_of_catalog_cost, 0),
                COALESCE(basic_insurance_paid, 0), COALESCE(critical_illness_paid, 0),
                COALESCE(other_paid, 0), COALESCE(declared_assistance, 0), receipt_numbers,
                CASE WHEN overlap THEN %s ELSE %s END,
                CASE WHEN overlap THEN %s ELSE '' END,
                '', %s, %s, %s
            FROM (
                SELECT l.line_no, l.external_ref, l.kind, COALESCE(l.admitted, l.discharged)
                    AS admitted, l.discharged, l.referred, l.follow_up, l.emergency,
                    l.major_disease, l.chronic_category, l.total_cost, l.in_policy_cost,
                    l.out_of_catalog_cost, l.basic_insurance_paid, l.critical_illness_paid,
                    l.other_paid, l.declared_assistance, l.receipt_numbers,
                    p.id AS pid, p.county_id AS cid, h.id AS hid,
                    EXISTS (
                        SELECT 1 FROM {claims} o WHERE o.person_id = p.id AND o.kind = l.kind
                        AND o.hospital_id <> h.id AND o.admitted <= l.discharged
                        AND o.discharged >= COALESCE(l.admitted, l.discharged)
                        AND o.status <> %s
                    ) AS overlap
                FROM {lines} l
                JOIN {people} p ON p.id_number = l.id_number
                JOIN {hospitals} h ON h.code = l.hospital_code
                WHERE l.declaration_id = %s AND l.error = ''
            ) x
            ORDER BY line_no
            """,
            (
                Claim.Source.DECLARATION,
                Claim.Settlement.DIRECT,
                Claim.Status.REVIEW,
                Claim.Status.PENDING,
                ReviewReason.OVERLAP_OTHER_HOSPITAL,
                d,
                now,
                now,
                Claim.Status.REJECTED,
                d,
            ),
        )
        return cursor.rowcount


def declaration_prepare(*, declaration_id: int) -> list[DecisionRun]:
    """Check and merge a staged declaration and stage the runs that decide it; returns the runs
    still to execute. Safe to repeat: a declaration past the merge only returns its runs."""
    with transaction.atomic():
        declaration = Declaration.objects.select_for_update().get(pk=declaration_id)
        if declaration.status in (Declaration.Status.DONE, Declaration.Status.REFUSED):
            return []
        if declaration.status == Declaration.Status.RECEIVED:
            if is_postgres():
                # The lines were just COPYed into a table the planner thinks small: without
                # fresh statistics the checks' and merge's joins are planned for a few rows.
                with connection.cursor() as cursor:
                    cursor.execute(f"ANALYZE {DeclarationLine._meta.db_table}")
            declaration_check(declaration=declaration)
            declaration_merge(declaration=declaration)
            declaration.status = Declaration.Status.PROCESSING
            declaration.save(update_fields=["status"])
            claims = Claim.objects.filter(declaration=declaration)
            years = sorted(claims.order_by().values_list("discharged__year", flat=True).distinct())
            for year in years:
                people = (
                    claims.filter(discharged__year=year).order_by().values("person_id").distinct()
                )
                run_create(
                    kind=DecisionRun.Kind.DECLARATION,
                    year=year,
                    people=people,
                    reason=f"{declaration} 计算",
                    declaration=declaration,
                    partitions=DEFAULT_PARTITIONS if declaration.lines_total > 5000 else 1,
                )
    runs = list(declaration.runs.exclude(status=DecisionRun.Status.DONE))
    if not runs:
        declaration_finish(declaration_id=declaration_id)
    return runs


def declaration_process(*, declaration_id: int, dispatch: bool = False) -> Declaration:
    """Check, merge and decide a staged declaration: its partitions as tasks (`dispatch`) or
    here. Re-running after a crash is safe: runs skip finished partitions."""
    for run in declaration_prepare(declaration_id=declaration_id):
        if dispatch:
            run_dispatch(run=run)
        else:
            run_execute(run=run)
    return Declaration.objects.get(pk=declaration_id)


def declaration_finish(*, declaration_id: int) -> Declaration:
    """Summarise a declaration once all its runs are done, and write its refused lines' file."""
    with transaction.atomic():
        declaration = Declaration.objects.select_for_update().get(pk=declaration_id)
        if declaration.status != Declaration.Status.PROCESSING:
            return declaration
        if declaration.runs.exclude(status=DecisionRun.Status.DONE).exists():
            return declaration
        claims = Claim.objects.filter(declaration=declaration)
        counts = dict(
            claims.order_by()
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        declaration.claims_accepted = counts.get(Claim.Status.ACCEPTED, 0)
        declaration.claims_review = counts.get(Claim.Status.REVIEW, 0)
        declaration.lines_refused = declaration.lines.exclude(error="").count()
        declaration.declared_total = claims.aggregate(s=Sum("declared_assistance"))["s"] or 0
        declaration.computed_total = (
            Decision.objects.filter(claim__declaration=declaration, is_current=True).aggregate(
                s=Sum("total")
            )["s"]
            or 0
        )
        if declaration.lines_refused:
            from claims.exports import declaration_errors_file

            declaration_errors_file(declaration=declaration)
        declaration.status = Declaration.Status.DONE
        declaration.finished_at = timezone.now()
        declaration.save()
    return declaration


def declaration_refuse(*, declaration: Declaration, reason: str) -> None:
    Declaration.objects.filter(pk=declaration.pk).update(
        status=Declaration.Status.REFUSED, refused_reason=reason[:200]
    )


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_hash(payload) -> str:
    return content_hash(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    )


# --- counter applications ------------------------------------------------------------------


def _next_application_number(county) -> str:
    today = timezone.localdate()
    prefix = f"SQ{county.code}{today:%Y%m%d}"
    count = Application.objects.filter(number__startswith=prefix).count()
    return f"{prefix}{count + 1:04d}"


def _log(application: Application, source: str, by, reason: str = "") -> None:
    ApplicationTransition.objects.create(
        application=application,
        source=source,
        target=application.state,
        by=by,
        reason=reason[:500],
    )


def application_create(
    *, person: Person, applied: dt.date, created_by, claims: list[dict], note: str = ""
) -> Application:
    """Register a counter application with its claims (receipts) and decide them at once, so the
    clerk sees the decision and its trace. Claims are checked like declaration lines."""
    if not claims:
        raise ClaimsError("no_claims", "申请至少需要一笔费用明细")
    with transaction.atomic():
        application = Application.objects.create(
            number=_next_application_number(person.county),
            person=person,
            county=person.county,
            applied=applied,
            created_by=created_by,
            note=note,
        )
        _log(application, "", created_by, "登记申请")
        for data in claims:
            application_claim_add(application=application, data=data, decide=False)
        _application_decide(application=application)
    application.refresh_from_db()
    return application


def application_claim_add(*, application: Application, data: dict, decide: bool = True) -> Claim:
    """Attach one receipt-backed claim to a draft or returned application."""
    if application.state not in (Application.State.DRAFT, Application.State.RETURNED):
        raise ClaimsError("not_editable", "只有草稿或退回补正的申请可以修改明细")
    data = dict(data)
    hospital = data.pop("hospital")
    if not isinstance(hospital, Hospital):
        found = Hospital.objects.filter(code=hospital).first()
        if found is None:
            raise ClaimsError("unknown_hospital", f"医疗机构编码不存在：{hospital}")
        hospital = found
    if data.get("kind") not in ClaimKind.values:
        raise ClaimsError("bad_kind", f"救助项目无法识别：{data.get('kind')}")
    data.setdefault("admitted", data.get("discharged"))
    if data.get("total_cost") is None:
        data["total_cost"] = (data.get("in_policy_cost") or ZERO) + (
            data.get("out_of_catalog_cost") or ZERO
        )
    problems = claim_figures_errors(data)
    if problems:
        raise ClaimsError(problems[0][0], problems[0][1])
    if not policy_covers(application.county.pooling_area.policy_code, data["discharged"]):
        raise ClaimsError("no_policy", "就诊日期不在任何政策版本的有效期内")
    if data["discharged"] > application.applied:
        raise ClaimsError("future_date", "出院（就诊）日期不能晚于申请日期")
    overlapping = selectors.claims_overlapping(
        person_id=application.person_id,
        kind=data["kind"],
        admitted=data["admitted"],
        discharged=data["discharged"],
    ).exclude(application=application)
    clash = overlapping.first()
    if clash is not None:
        raise ClaimsError(
            "overlap",
            f"同一时段同类费用已有记录（{clash.hospital.name} {clash.external_ref}），不能重复申请",
        )
    receipts = data.get("receipt_numbers", "")
    if not receipts:
        raise ClaimsError("receipts_required", "依申请救助必须登记票据号")
    count = application.claims.count()
    claim = Claim(
        person_id=application.person_id,
        county_id=application.county_id,
        hospital=hospital,
        source=Claim.Source.APPLICATION,
        settlement=Claim.Settlement.APPLICATION,
        external_ref=data.pop("external_ref", None) or f"{application.number}-{count + 1}",
        applied=application.applied,
        application=application,
        **data,
    )
    claim.full_clean(exclude=["person", "county", "application"])
    claim.save()
    if decide:
        _application_decide(application=application)
    return claim


def _application_decide(*, application: Application) -> Decimal:
    """Decide the person's years the application's claims fall in and keep the total."""
    years = sorted(
        application.claims.order_by().values_list("discharged__year", flat=True).distinct()
    )
    people = Person.objects.filter(pk=application.person_id).values("id")
    for year in years:
        run = run_create(
            kind=DecisionRun.Kind.APPLICATION,
            year=year,
            people=people,
            reason=f"申请 {application.number}",
            partitions=1,
        )
        run_execute(run=run)
    total = (
        Decision.objects.filter(claim__application=application, is_current=True).aggregate(
            s=Sum("total")
        )["s"]
        or ZERO
    )
    Application.objects.filter(pk=application.pk).update(total=total)
    application.total = total
    return total


def _locked(application_id: int) -> Application:
    return Application.objects.select_for_update().get(pk=application_id)


def application_submit(*, application: Application, by) -> Application:
    """Lock: the application row (taken here)."""
    with transaction.atomic():
        app = _locked(application.pk)
        if app.state not in (Application.State.DRAFT, Application.State.RETURNED):
            raise ClaimsError("bad_state", f"当前状态（{app.get_state_display()}）不能提交")
        source = app.state
        app.submit()
        app.submitted_by = by
        app.submitted_at = timezone.now()
        app.save()
        _log(app, source, by, "提交审批")
    _application_decide(application=app)
    return app


def second_approval_threshold() -> Decimal:
    return Decimal(str(settings.SECOND_APPROVAL_THRESHOLD))


def _check_supervisor(app: Application, by) -> None:
    if not by.has_perm("claims.approve_application"):
        raise PermissionDenied("无审批权限")
    if by.pk in (app.submitted_by_id, app.created_by_id):
        raise PermissionDenied("审批人不能是该申请的受理人或提交人")
    if not by.is_superuser and by.county_id is not None and by.county_id != app.county_id:
        raise PermissionDenied("不能审批其他区县的申请")


def _locked_for_decision(application: Application, by) -> Application:
    """The application row, locked, still waiting for a supervisor who may decide it."""
    app = _locked(application.pk)
    if app.state != Application.State.SUBMITTED:
        raise ClaimsError("already_decided", f"该申请已处理（{app.get_state_display()}）")
    _check_supervisor(app, by)
    return app


def _decide(app: Application, transition, *, by, reason: str) -> None:
    """Run one FSM transition, keep the supervisor's reason, and log it."""
    source = app.state
    transition()
    app.reason = reason
    app.save()
    _log(app, source, by, reason)


def application_approve(*, application: Application, by, note: str = "") -> Application:
    """A supervisor approves. Lock: the application row (select_for_update, taken here), so of
    two supervisors approving at once exactly one wins; the other finds it already decided.
    Above SECOND_APPROVAL_THRESHOLD a second, different supervisor must approve too."""
    with transaction.atomic():
        app = _locked_for_decision(application, by)
        if app.approvals.filter(approver=by).exists():
            raise ClaimsError("already_approved", "您已审批过该申请，需另一位审批人复核")
        # The figures the supervisor approves are recomputed now, not those of the submission.
        total = _application_decide(application=app)
        ApplicationApproval.objects.create(application=app, approver=by, total=total, note=note)
        needed = 2 if total > second_approval_threshold() else 1
        if app.approvals.count() < needed:
            _log(
                app,
                app.state,
                by,
                f"一审通过，救助合计 {total} 超过 "
                f"{second_approval_threshold()}，待第二审批人审批。{note}",
            )
            return app
        _decide(app, app.approve, by=by, reason=note or "审批通过")
        app.claims.filter(status=Claim.Status.PENDING).update(
            status=Claim.Status.ACCEPTED, updated_at=timezone.now()
        )
    return app


def application_reject(*, application: Application, by, reason: str) -> Application:
    """Lock: the application row (taken here). Its claims leave the person's year."""
    if not reason:
        raise ClaimsError("reason_required", "不予救助必须填写原因")
    with transaction.atomic():
        app = _locked_for_decision(application, by)
        _decide(app, app.reject, by=by, reason=reason)
        app.claims.update(status=Claim.Status.REJECTED, updated_at=timezone.now())
        years = list(app.claims.order_by().values_list("discharged__year", flat=True).distinct())
    if years:
        people_recompute(
            people=Person.objects.filter(pk=app.person_id).values("id"),
            since=dt.date(min(years), 1, 1),
            until_year=max(years),
            reason=f"申请 {app.number} 不予救助",
        )
    return app


def application_return(*, application: Application, by, reason: str) -> Application:
    """Send back for correction. Lock: the application row (taken here)."""
    if not reason:
        raise ClaimsError("reason_required", "退回必须填写原因")
    with transaction.atomic():
        app = _locked_for_decision(application, by)
        _decide(app, app.send_back, by=by, reason=reason)
        app.approvals.all().delete()
    return app


def applications_mark_paid(*, by=None) -> int:
    """Approved applications whose every claim the funds app has settled become paid. The funds
    app calls this after a settlement."""
    unsettled = Claim.objects.filter(application_id=OuterRef("pk")).exclude(
        status=Claim.Status.SETTLED
    )
    candidates = Application.objects.filter(state=Application.State.APPROVED).filter(
        ~Exists(unsettled)
    )
    done = 0
    for app_id in candidates.values_list("id", flat=True):
        with transaction.atomic():
            app = _locked(app_id)
            if app.state != Application.State.APPROVED:
                continue
            source = app.state
            app.pay()
            app.save()
            _log(app, source, by, "救助金已结算支付")
            done += 1
    return done


# --- monitoring and early warning (监测预警) ---------------------------------------------------

DEFAULT_WARNING_DEPARTMENTS = ("civil_affairs", "rural_revitalization", "health")
ANSWER_WORKING_DAYS = 5


def burdens_monitor(*, today: dt.date | None = None, year: int | None = None) -> int:
    """Find the people over their pack's monitoring threshold this year and record a warning for
    each (idempotent: one annual warning per person and year, one per stay). Nightly."""
    from beneficiaries.models import County

    today = today or timezone.localdate()
    year = year or today.year
    created = 0
    for code, county_ids in _counties_by_policy(County).items():
        if not policy_covers(code, min(today, dt.date(year, 12, 31))):
            continue
        rule = selectors.monitoring_rule(policy_code=code, day=min(today, dt.date(year, 12, 31)))
        if rule is None or (rule.key_threshold is None and rule.other_threshold is None):
            continue
        floor = min(t for t in (rule.key_threshold, rule.other_threshold) if t is not None)
        candidates = selectors.burden_candidates(
            county_ids=county_ids, year=year, basis=rule.basis, floor=floor
        )
        if not candidates:
            continue
        held = selectors.identities_held(person_ids={c.person_id for c in candidates}, year=year)
        warnings = []
        for c in candidates:
            codes = held.get(c.person_id, {})
            if c.claim_id is not None:
                codes = {k for k, (start, end) in codes.items() if start <= c.day <= end}
            else:
                codes = set(codes)
            threshold = rule.threshold_for(frozenset(codes), rural=True)
            if threshold is None or c.amount <= threshold:
                continue
            warnings.append(
                Warning(
                    person_id=c.person_id,
                    county_id=c.county_id,
                    year=year,
                    kind=Warning.Kind.STAY_SELF_PAY if c.claim_id else Warning.Kind.ANNUAL_BURDEN,
                    group=Warning.Group.KEY
                    if threshold == rule.key_threshold and codes
                    else Warning.Group.OTHER,
                    claim_id=c.claim_id,
                    amount=c.amount,
                    threshold=threshold,
                    policy_code=code,
                    found_on=today,
                )
            )
        created += _warnings_save(warnings)
    return created


def _warnings_save(warnings: list) -> int:
    """Insert new warnings; an annual warning already recorded gets its amount brought up to date
    (the list a department receives shows the burden as it is now)."""
    annual = [w for w in warnings if w.claim_id is None]
    stays = [w for w in warnings if w.claim_id is not None]
    created = 0
    with transaction.atomic():
        existing = {
            (p, y): (pk, amount)
            for pk, p, y, amount in Warning.objects.filter(
                kind=Warning.Kind.ANNUAL_BURDEN,
                person_id__in=[w.person_id for w in annual],
            ).values_list("id", "person_id", "year", "amount")
        }
        new = []
        for w in annual:
            found = existing.get((w.person_id, w.year))
            if found is None:
                new.append(w)
            elif found[1] != w.amount:
                Warning.objects.filter(pk=found[0]).update(amount=w.amount, threshold=w.threshold)
        seen = set(
            Warning.objects.filter(claim_id__in=[w.claim_id for w in stays]).values_list(
                "claim_id", flat=True
            )
        )
        new += [w for w in stays if w.claim_id not in seen]
        Warning.objects.bulk_create(new)
        created = len(new)
    return created


def warning_lists_send(*, today: dt.date | None = None) -> list[dict]:
    """Push every warning not yet sent to each department its pack names (民政, 乡村振兴, 卫体 …)
    with a deadline of 5 working days, and write one list per county and department. Monthly,
    before the 10th."""
    from beneficiaries.models import Department
    from claims.exports import warning_list_file
    from medaid.core.workdays import add_working_days

    today = today or timezone.localdate()
    due = add_working_days(today, ANSWER_WORKING_DAYS)
    departments_by_county: dict[int, list] = defaultdict(list)
    for dep in Department.objects.all():
        departments_by_county[dep.county_id].append(dep)
    kinds_by_policy: dict[str, tuple[str, ...]] = {}
    dispatches = []
    pending = (
        Warning.objects.select_related("county__pooling_area")
        .only("id", "county_id", "policy_code")
        .order_by("id")
    )
    sent = set(WarningDispatch.objects.values_list("warning_id", "department_id"))
    for warning in pending.iterator(chunk_size=5000):
        kinds = kinds_by_policy.get(warning.policy_code)
        if kinds is None:
            rule = selectors.monitoring_rule(policy_code=warning.policy_code, day=today)
            kinds = tuple(rule.departments) if rule and rule.departments else ()
            kinds = kinds or DEFAULT_WARNING_DEPARTMENTS
            kinds_by_policy[warning.policy_code] = kinds
        for dep in departments_by_county.get(warning.county_id, ()):
            if dep.kind in kinds and (warning.id, dep.id) not in sent:
                dispatches.append(
                    WarningDispatch(
                        warning_id=warning.id, department=dep, sent_on=today, due_on=due
                    )
                )
    WarningDispatch.objects.bulk_create(dispatches, ignore_conflicts=True)
    files = []
    for dep_id in sorted({d.department.pk for d in dispatches}):
        dep = Department.objects.get(pk=dep_id)
        path = warning_list_file(department=dep, sent_on=today)
        files.append({"department": dep.pk, "file": str(path)})
    return files


def warning_answer(*, dispatch: WarningDispatch, by, outcome: str, answer: str, on=None):
    """A department's answer to a warning it was sent. Lock: the dispatch row (taken here)."""
    if outcome not in WarningDispatch.Outcome.values:
        raise ClaimsError("bad_outcome", "处理结果无法识别")
    if not answer:
        raise ClaimsError("answer_required", "答复内容不能为空")
    with transaction.atomic():
        d = WarningDispatch.objects.select_for_update().get(pk=dispatch.pk)
        if by.department_id and by.department_id != d.department_id:
            raise PermissionDenied("只能答复推送给本部门的预警")
        d.outcome = outcome
        d.answer = answer[:1000]
        d.answered_on = on or timezone.localdate()
        d.answered_by = by
        d.save()
    return d
