"""Hospital declarations (医院申报): receive a file's lines, check them set-based, merge the good
ones into claims, decide them in runs, and summarise."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from beneficiaries.models import Person
from claims.models import (
    CLAIM_AMOUNT_FIELDS,
    CLAIM_STAY_FIELDS,
    Claim,
    Decision,
    DecisionRun,
    Declaration,
    DeclarationLine,
    Hospital,
    ReviewReason,
)
from claims.platform.models import LINE_NOTES
from claims.services.checks import counties_by_coverage, figure_checks_sql
from claims.services.errors import ClaimsError
from claims.services.recompute import (
    DEFAULT_PARTITIONS,
    on_run_finished,
    run_create,
    run_dispatch,
    run_execute,
)
from medaid.core.bulk import in_ids, insert_rows, is_postgres
from medaid.core.workdays import month_range

# --- declarations --------------------------------------------------------------------------


class DuplicateDeclaration(ClaimsError):
    def __init__(self, existing: Declaration):
        self.existing = existing
        super().__init__(
            f"该文件已于 {timezone.localtime(existing.created_at):%Y-%m-%d %H:%M} 上传"
            f"（{existing}），不重复导入",
            code="duplicate_file",
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
        raise ClaimsError("申报月份应为 1–12", code="bad_month")
    # A list's length is known before the insert (the API's JSON rows): the count then costs
    # no second write, which a hospital system's steady stream of small declarations feels.
    known = len(lines) if isinstance(lines, list | tuple) else None
    if known is None:
        # A file is looked up first, so that the same million lines sent again are not read
        # and staged only to be refused.
        existing = Declaration.objects.filter(file_hash=content_hash).first()
        if existing is not None:
            raise DuplicateDeclaration(existing)
    # The unique fingerprint decides in the end: two uploads of one content at once both pass a
    # look, and the one that loses the insert must still be answered 409.
    try:
        with transaction.atomic():
            declaration = Declaration.objects.create(
                hospital=hospital,
                year=year,
                month=month,
                channel=channel,
                file_name=file_name[:200],
                file_hash=content_hash,
                uploaded_by=uploaded_by,
                lines_total=known or 0,
            )
            columns = ["declaration_id", *DECLARATION_LINE_COLUMNS]
            count = insert_rows(
                DeclarationLine._meta.db_table,
                columns,
                ((declaration.pk, *line) for line in lines),
            )
            if count != known:
                declaration.lines_total = count
                declaration.save(update_fields=["lines_total"])
    except IntegrityError:
        existing = Declaration.objects.filter(file_hash=content_hash).first()
        if existing is None:
            raise
        raise DuplicateDeclaration(existing) from None
    return declaration


# A declaration line's fields, in the order of a hospital's file and of the staging tuple: whom
# and where (by code and settlement number, resolved in the merge), then the claim's own facts
# and amounts (claims.models) — a line carries the hospital's declared assistance as well.
DECLARATION_LINE_FIELDS = (
    "hospital_code",
    "id_number",
    "name",
    "external_ref",
    *CLAIM_STAY_FIELDS,
    *CLAIM_AMOUNT_FIELDS,
    "receipt_numbers",
)
DECLARATION_LINE_COLUMNS = ("line_no", *DECLARATION_LINE_FIELDS, "error", "error_detail")


def _flag(sql_where: str, code: str, declaration_ids: list[int], params=()) -> None:
    table = DeclarationLine._meta.db_table
    in_batch, batch = in_ids("declaration_id", declaration_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET error = %s WHERE {in_batch} AND error = '' AND ({sql_where})",
            (code, *batch, *params),
        )


def declarations_check(*, declarations: list[Declaration]) -> None:
    """Set-based checks on the staged lines of a batch of declarations, as if each had been
    checked and merged in turn (oldest first): the first problem of a line is its reason, and a
    line already declared by an earlier declaration of the batch is refused as one declared
    before. Lines are only read here (and the refused ones marked): rewriting every staged row
    to resolve its person and hospital would cost more than looking them up again in the
    merge."""
    from beneficiaries.models import County
    from claims.models import LineError

    ids = [d.pk for d in declarations]
    lines = DeclarationLine._meta.db_table
    hospitals = Hospital._meta.db_table
    people = Person._meta.db_table
    claims = Claim._meta.db_table
    person_of_line = f"SELECT p.id FROM {people} p WHERE p.id_number = {lines}.id_number"
    # The figures' rules (checks.FIGURE_RULES, as a counter claim is checked), in one pass.
    error, detail, broken = figure_checks_sql()
    in_batch, batch = in_ids("declaration_id", ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {lines} SET error = {error}, error_detail = {detail} "
            f"WHERE {in_batch} AND error = '' AND ({broken})",
            batch,
        )
    by_period: dict[dt.date, list[int]] = {}
    for declaration in declarations:
        _, period_end = month_range(declaration.year, declaration.month)
        by_period.setdefault(period_end, []).append(declaration.pk)
    for period_end, members in by_period.items():
        _flag("discharged > %s", LineError.FUTURE_DATE, members, (period_end,))
    _flag(
        f"NOT EXISTS (SELECT 1 FROM {hospitals} h WHERE h.code = {lines}.hospital_code)",
        LineError.UNKNOWN_HOSPITAL,
        ids,
    )
    # A declaration made for a hospital takes only its lines (none made for one: NULL, no flag).
    _flag(
        f"hospital_code <> (SELECT h.code FROM {Declaration._meta.db_table} d "
        f"JOIN {hospitals} h ON h.id = d.hospital_id WHERE d.id = {lines}.declaration_id)",
        LineError.HOSPITAL_MISMATCH,
        ids,
    )
    _flag(f"NOT EXISTS ({person_of_line})", LineError.UNKNOWN_PERSON, ids)
    # No pack covers the date: per pooling area, outside every stretch its packs cover (the
    # area's packs are dated: Kunming's until 2022-06-30, then Yunnan's).
    for ranges, county_ids in counties_by_coverage(County).items():
        placeholders = ", ".join(["%s"] * len(county_ids))
        in_area = f"EXISTS ({person_of_line} AND p.county_id IN ({placeholders}))"
        if not ranges:
            _flag(in_area, LineError.NO_POLICY, ids, county_ids)
            continue
        inside = " OR ".join(["discharged BETWEEN %s AND %s"] * len(ranges))
        bounds = [day for first, last in ranges for day in (first, last or dt.date.max)]
        _flag(
            f"NOT ({inside}) AND {in_area}",
            LineError.NO_POLICY,
            ids,
            (*bounds, *county_ids),
        )
    _flag(
        f"EXISTS (SELECT 1 FROM {lines} o WHERE o.declaration_id = {lines}.declaration_id "
        f"AND o.external_ref = {lines}.external_ref AND o.line_no < {lines}.line_no)",
        LineError.DUPLICATE_IN_FILE,
        ids,
    )
    _flag(
        f"EXISTS (SELECT 1 FROM {claims} c JOIN {hospitals} h ON h.id = c.hospital_id "
        f"WHERE h.code = {lines}.hospital_code AND c.external_ref = {lines}.external_ref)",
        LineError.ALREADY_DECLARED,
        ids,
    )
    if len(ids) > 1:
        # The earliest line of a reference that passed becomes the claim; every later one is
        # refused, whatever this statement marks meanwhile.
        earlier, batch = in_ids("o.declaration_id", ids)
        _flag(
            f"EXISTS (SELECT 1 FROM {lines} o WHERE {earlier} "
            f"AND o.declaration_id < {lines}.declaration_id AND o.error = '' "
            f"AND o.hospital_code = {lines}.hospital_code "
            f"AND o.external_ref = {lines}.external_ref)",
            LineError.ALREADY_DECLARED,
            ids,
            batch,
        )


def declarations_merge(*, declarations: list[Declaration]) -> int:
    """Turn the lines that passed into claims, set-based, in one INSERT … SELECT for the whole
    batch. A stay that overlaps one of the same person and kind declared by another hospital —
    received before, or in an earlier declaration of the batch — goes straight to the review
    queue and is kept out of the person's year until a reviewer decides, so that nothing counts
    twice toward deductibles and caps."""
    ids = [d.pk for d in declarations]
    lines = DeclarationLine._meta.db_table
    claims = Claim._meta.db_table
    people = Person._meta.db_table
    hospitals = Hospital._meta.db_table
    now = timezone.now()
    overlap_in_batch, earlier = "", []
    if len(ids) > 1:
        in_earlier, earlier = in_ids("o.declaration_id", ids)
        overlap_in_batch = f"""
                    OR EXISTS (
                        SELECT 1 FROM {lines} o WHERE {in_earlier}
                        AND o.declaration_id < l.declaration_id AND o.error = ''
                        AND o.id_number = l.id_number AND o.kind = l.kind
                        AND o.hospital_code <> l.hospital_code
                        AND COALESCE(o.admitted, o.discharged) <= l.discharged
                        AND o.discharged >= COALESCE(l.admitted, l.discharged)
                    )"""
    in_batch, batch = in_ids("l.declaration_id", ids)
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
                '', declaration_id, %s, %s
            FROM (
                SELECT l.declaration_id, l.line_no, l.external_ref, l.kind,
                    COALESCE(l.admitted, l.discharged) AS admitted, l.discharged, l.referred,
                    l.follow_up, l.emergency, l.major_disease, l.chronic_category, l.total_cost,
                    l.in_policy_cost, l.out_of_catalog_cost, l.basic_insurance_paid,
                    l.critical_illness_paid, l.other_paid, l.declared_assistance,
                    l.receipt_numbers, p.id AS pid, p.county_id AS cid, h.id AS hid,
                    (EXISTS (
                        SELECT 1 FROM {claims} o WHERE o.person_id = p.id AND o.kind = l.kind
                        AND o.hospital_id <> h.id AND o.admitted <= l.discharged
                        AND o.discharged >= COALESCE(l.admitted, l.discharged)
                        AND o.status <> %s
                    ){overlap_in_batch}) AS overlap
                FROM {lines} l
                JOIN {people} p ON p.id_number = l.id_number
                JOIN {hospitals} h ON h.code = l.hospital_code
                WHERE {in_batch} AND l.error = ''
            ) x
            ORDER BY declaration_id, line_no
            """,
            (
                Claim.Source.DECLARATION,
                Claim.Settlement.DIRECT,
                Claim.Status.REVIEW,
                Claim.Status.PENDING,
                ReviewReason.OVERLAP_OTHER_HOSPITAL,
                now,
                now,
                Claim.Status.REJECTED,
                *earlier,
                *batch,
            ),
        )
        return cursor.rowcount


@dataclass(frozen=True)
class DeclarationFormat:
    """A declaration format with steps of its own (claims.platform: re-sends and reversals after
    the checks, its facts after the merge), registered by its module on import. `owns` picks
    the format's declarations out of a batch in one query; each of those is checked and merged
    alone, its steps in the same transaction, in its turn among the others."""

    owns: Callable[[list[int]], set[int]]
    after_check: Callable[[Declaration], None]
    after_merge: Callable[[Declaration], None]


_FORMATS: list[DeclarationFormat] = []


def declaration_format_register(declaration_format: DeclarationFormat) -> None:
    if declaration_format not in _FORMATS:
        _FORMATS.append(declaration_format)


def _in_turn(batch: list[Declaration]):
    """The batch in order, as (format or None, members): a run of plain declarations together,
    each declaration of a format alone."""
    ids = [d.pk for d in batch]
    owner = {pk: f for f in _FORMATS for pk in f.owns(ids)}
    plain: list[Declaration] = []
    for declaration in batch:
        declaration_format = owner.get(declaration.pk)
        if declaration_format is None:
            plain.append(declaration)
            continue
        if plain:
            yield None, plain
            plain = []
        yield declaration_format, [declaration]
    if plain:
        yield None, plain


# Declarations of at most this many lines that wait together are checked and merged in one
# transaction and decided in one run (per year) over all their people: under a hospital
# system's steady stream of small declarations, one task and one pass over each person's year
# per batch instead of per declaration. A larger declaration is a batch of its own.
BATCH_SMALL_LINES = 500
BATCH_MAX_LINES = 20_000
BATCH_MAX_DECLARATIONS = 500


def declaration_prepare(*, declaration_id: int) -> list[DecisionRun]:
    """Check and merge a staged declaration — with the other small ones waiting beside it — and
    stage the runs that decide them; returns the runs still to execute. Safe to repeat: a
    declaration past the merge only returns its runs whose partitions were never sent (a sent
    partition that nobody finished is the partition sweeper's)."""
    with transaction.atomic():
        declaration = Declaration.objects.select_for_update().get(pk=declaration_id)
        if declaration.status in (Declaration.Status.DONE, Declaration.Status.REFUSED):
            return []
        if declaration.status == Declaration.Status.PROCESSING:
            return list(
                declaration.runs.exclude(status=DecisionRun.Status.DONE)
                .filter(partition_rows__done=False, partition_rows__sent_at=None)
                .distinct()
            )
        batch = [declaration, *_batch_beside(declaration)]
        lines_total = sum(d.lines_total for d in batch)
        if is_postgres() and lines_total >= 2000:
            # The lines were just COPYed into a table the planner thinks small: without
            # fresh statistics the checks' and merge's joins are planned for a few rows.
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {DeclarationLine._meta.db_table}")
        for declaration_format, members in _in_turn(batch):
            declarations_check(declarations=members)
            if declaration_format is not None:
                declaration_format.after_check(members[0])
            declarations_merge(declarations=members)
            if declaration_format is not None:
                declaration_format.after_merge(members[0])
        ids = [member.pk for member in batch]
        Declaration.objects.filter(pk__in=ids).update(status=Declaration.Status.PROCESSING)
        claims = Claim.objects.filter(declaration_id__in=ids)
        for year, declared in _declarations_by_year(claims).items():
            people = claims.filter(discharged__year=year).order_by().values("person_id").distinct()
            run_create(
                kind=DecisionRun.Kind.DECLARATION,
                year=year,
                people=people,
                reason=f"{declaration} 计算"
                + (f"（同批 {len(declared)} 份申报）" if len(declared) > 1 else ""),
                declarations=declared,
                partitions=DEFAULT_PARTITIONS if lines_total > 5000 else 1,
            )
    # A format's own steps may have staged runs of their own (claims.platform's reversals).
    runs = list(
        DecisionRun.objects.filter(declarations__in=ids)
        .exclude(status=DecisionRun.Status.DONE)
        .distinct()
        .order_by("pk")
    )
    decided = set(
        DecisionRun.declarations.through.objects.filter(
            decisionrun__in=runs, declaration_id__in=ids
        ).values_list("declaration_id", flat=True)
    )
    refused_whole = sorted(set(ids) - decided)  # every line refused: nothing to decide
    if refused_whole:
        declarations_finish(declaration_ids=refused_whole)
    return runs


def _batch_beside(declaration: Declaration) -> list[Declaration]:
    """The small declarations waiting with `declaration` that no other worker holds, oldest
    first, up to the batch's bounds."""
    if declaration.lines_total > BATCH_SMALL_LINES:
        return []
    waiting = (
        Declaration.objects.select_for_update(skip_locked=True)
        .filter(status=Declaration.Status.RECEIVED, lines_total__lte=BATCH_SMALL_LINES)
        .exclude(pk=declaration.pk)
        .order_by("pk")[: BATCH_MAX_DECLARATIONS - 1]
    )
    batch, lines = [], declaration.lines_total
    for other in waiting:
        if lines + other.lines_total > BATCH_MAX_LINES:
            break
        batch.append(other)
        lines += other.lines_total
    return batch


def _declarations_by_year(claims) -> dict[int, list[int]]:
    by_year: dict[int, list[int]] = {}
    pairs = claims.order_by().values_list("discharged__year", "declaration_id").distinct()
    for year, declaration_id in sorted(pairs):
        by_year.setdefault(year, []).append(declaration_id)
    return by_year


def declaration_process(*, declaration_id: int, dispatch: bool = False) -> Declaration:
    """Check, merge and decide a staged declaration (and the small ones waiting beside it): the
    runs' partitions as tasks (`dispatch`) or here. Re-running after a crash is safe: runs skip
    finished partitions."""
    for run in declaration_prepare(declaration_id=declaration_id):
        if dispatch:
            run_dispatch(run=run)
        else:
            run_execute(run=run)
    return Declaration.objects.get(pk=declaration_id)


def declarations_finish(*, declaration_ids: list[int]) -> None:
    """Summarise the declarations whose runs are all done, and write their refused lines' files:
    one UPDATE for a whole batch, whatever its size."""
    waiting = DecisionRun.declarations.through.objects.filter(
        declaration_id__in=declaration_ids
    ).exclude(decisionrun__status=DecisionRun.Status.DONE)
    with transaction.atomic():
        ready = list(
            Declaration.objects.select_for_update()
            .filter(pk__in=declaration_ids, status=Declaration.Status.PROCESSING)
            .exclude(pk__in=waiting.values("declaration_id"))
            .order_by("pk")
        )
        if not ready:
            return
        pks = [d.pk for d in ready]
        Declaration.objects.filter(pk__in=pks).update(
            status=Declaration.Status.DONE,
            finished_at=timezone.now(),
            claims_accepted=_per_declaration(
                Claim.objects.filter(status=Claim.Status.ACCEPTED), Count("id")
            ),
            claims_review=_per_declaration(
                Claim.objects.filter(status=Claim.Status.REVIEW), Count("id")
            ),
            declared_total=_per_declaration(Claim.objects.all(), Sum("declared_assistance")),
            lines_refused=_per_declaration(
                DeclarationLine.objects.exclude(error__in=LINE_NOTES), Count("id")
            ),
            computed_total=_per_declaration(
                Decision.objects.filter(is_current=True), Sum("total"), "claim__declaration"
            ),
        )
        refused = Declaration.objects.filter(pk__in=pks, lines_refused__gt=0)
        if refused:
            from claims.exports import declaration_errors_file

            for declaration in refused:
                declaration_errors_file(declaration=declaration)
                declaration.save(update_fields=["error_file"])


def _per_declaration(rows, value, path: str = "declaration"):
    """`value` (a count or a sum) of `rows` for the declaration being updated, 0 for none."""
    return Coalesce(
        Subquery(
            rows.filter(**{path: OuterRef("pk")})
            .order_by()
            .values(path)
            .annotate(v=value)
            .values("v")
        ),
        0,
    )


def declaration_finish(*, declaration_id: int) -> Declaration:
    """Summarise one declaration once all its runs are done (`declarations_finish`)."""
    declarations_finish(declaration_ids=[declaration_id])
    return Declaration.objects.get(pk=declaration_id)


on_run_finished(declarations_finish)


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
