"""Platform settlement lists through the declaration pipeline: received as a declaration (its
lines staged by `declaration_receive`, its platform facts beside them), checked and merged by the
declaration services, with three steps of the platform's own hooked in:

- after the checks: re-sends (same setl_id: same content changes nothing, different content sends
  the claim to review) and reversals (vali_flag 0 / 冲销: the claim leaves the person's year, the
  year is recomputed by a run of the declaration, a settled one gets an adjustment);
- after the merge: each new claim's platform facts (`PlatformSettlement`);
- after the runs: our figure against maf_pay, set-based (`platform_compare`).
"""

from __future__ import annotations

import pickle
import tempfile
from collections import defaultdict
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from beneficiaries import services as beneficiaries
from beneficiaries.models import Person
from claims import imports
from claims.models import (
    Claim,
    Decision,
    DecisionRun,
    Declaration,
    DeclarationLine,
    Hospital,
    LineError,
    ReviewReason,
)
from claims.platform import reader
from claims.platform.models import PlatformLine, PlatformSettlement
from claims.services.declarations import (
    DeclarationFormat,
    declaration_format_register,
    declaration_receive,
    json_hash,
)
from claims.services.errors import ClaimsError
from claims.services.recompute import DEFAULT_PARTITIONS, on_run_finished, run_create
from claims.services.review import claim_review_resolve
from medaid.core.bulk import insert_rows

_SPOOL_CHUNK = 5000


def _receive(*, records, first_line: int, process: bool = True, **common) -> Declaration:
    """Stage a platform file's lines as a declaration, and their platform facts beside them,
    in one transaction. The platform facts are spooled to a temporary file while the lines are
    COPYed (one COPY at a time on a connection), so a 200 000-line file stays out of memory."""
    mappings = reader.Mappings()
    with tempfile.TemporaryFile() as spool:
        pending: list[tuple] = []

        def lines():
            for number, raw in enumerate(imports.limited(records), start=first_line):
                line, platform = reader.read_record(number, raw, mappings)
                pending.append(platform)
                if len(pending) >= _SPOOL_CHUNK:
                    pickle.dump(pending, spool, protocol=pickle.HIGHEST_PROTOCOL)
                    pending.clear()
                yield line

        def spooled():
            spool.seek(0)
            while True:
                try:
                    chunk = pickle.load(spool)
                except EOFError:
                    break
                yield from ((declaration.pk, *row) for row in chunk)

        with transaction.atomic():
            declaration = declaration_receive(lines=lines(), **common)
            if pending:
                pickle.dump(pending, spool, protocol=pickle.HIGHEST_PROTOCOL)
            insert_rows(
                PlatformLine._meta.db_table,
                ("declaration_id", *reader.PLATFORM_LINE_COLUMNS),
                spooled(),
            )
            if process:
                imports.send(declaration)
    return declaration


def platform_upload(
    *,
    path: Path,
    file_name: str,
    year: int,
    month: int,
    hospital: Hospital | None = None,
    uploaded_by=None,
    process: bool = True,
) -> Declaration:
    """A platform settlement-list file (.xlsx / .csv). It may hold several hospitals' records
    (a county's monthly list); `hospital` narrows it to one. `process` False stages it only
    (the bench then runs the declaration's steps itself, as the workers would)."""
    records = reader.file_records(path, file_name)
    return _receive(
        records=records,
        first_line=2,
        process=process,
        hospital=hospital,
        year=year,
        month=month,
        channel=Declaration.Channel.FILE,
        file_name=file_name,
        content_hash=imports.file_hash(path),
        uploaded_by=uploaded_by,
    )


def platform_upload_file(*, upload, **common) -> Declaration:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(upload.name).name
        with open(path, "wb") as f:
            for chunk in upload.chunks():
                f.write(chunk)
        return platform_upload(path=path, file_name=upload.name, **common)


def platform_from_rows(
    *, rows: list[dict], year: int, month: int, hospital: Hospital | None = None, uploaded_by=None
) -> Declaration:
    """JSON records with the platform's field names (the API)."""
    digest = json_hash(
        {
            "layout": "platform",
            "hospital": hospital.code if hospital else "",
            "year": year,
            "month": month,
            "rows": rows,
        }
    )
    return _receive(
        records=reader.json_records(rows),
        first_line=1,
        hospital=hospital,
        year=year,
        month=month,
        channel=Declaration.Channel.API,
        file_name="",
        content_hash=digest,
        uploaded_by=uploaded_by,
    )


def platform_declarations(declaration_ids: list[int]) -> set[int]:
    """Which of these declarations are platform settlement lists (their lines carry facts)."""
    return set(
        PlatformLine.objects.filter(declaration_id__in=declaration_ids)
        .order_by()
        .values_list("declaration_id", flat=True)
        .distinct()
    )


# --- after the checks: re-sends and reversals -------------------------------------------------


def _resends(declaration: Declaration) -> None:
    """Lines the checks found already declared: the same content again is a note; different
    content sends the claim it would replace to review (a person decides which stands)."""
    d = declaration.pk
    lines = DeclarationLine._meta.db_table
    platform = PlatformLine._meta.db_table
    settlements = PlatformSettlement._meta.db_table
    claims = Claim._meta.db_table
    hospitals = Hospital._meta.db_table
    earlier = (
        f"SELECT s.content_hash FROM {settlements} s JOIN {claims} c ON c.id = s.claim_id "
        f"JOIN {hospitals} h ON h.id = c.hospital_id "
        f"WHERE h.code = {lines}.hospital_code AND c.external_ref = {lines}.external_ref"
    )
    own = (
        f"SELECT p.content_hash FROM {platform} p WHERE p.declaration_id = {lines}.declaration_id "
        f"AND p.line_no = {lines}.line_no"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {lines} SET error = %s WHERE declaration_id = %s AND error = %s "
            f"AND ({earlier}) = ({own})",
            (LineError.RESENT_SAME, d, LineError.ALREADY_DECLARED),
        )
        cursor.execute(
            f"UPDATE {lines} SET error = %s WHERE declaration_id = %s AND error = %s "
            f"AND EXISTS ({earlier})",
            (LineError.RESENT_CHANGED, d, LineError.ALREADY_DECLARED),
        )
        cursor.execute(
            f"UPDATE {claims} SET status = %s, review_reason = %s, review_note = %s, "
            f"updated_at = %s WHERE status IN (%s, %s) AND id IN ("
            f"SELECT c.id FROM {lines} l JOIN {hospitals} h ON h.code = l.hospital_code "
            f"JOIN {claims} c ON c.hospital_id = h.id AND c.external_ref = l.external_ref "
            f"WHERE l.declaration_id = %s AND l.error = %s)",
            (
                Claim.Status.REVIEW,
                ReviewReason.PLATFORM_RESEND,
                f"平台重发内容不同：{declaration}（批次 {d}）"[:500],
                timezone.now(),
                Claim.Status.PENDING,
                Claim.Status.ACCEPTED,
                d,
                LineError.RESENT_CHANGED,
            ),
        )


def _reversals(declaration: Declaration) -> None:
    """Each reversal line (its own problems aside) takes back an earlier settlement: one of the
    same file (neither line becomes a claim) or a claim already received (it leaves the
    person's year; settled, it gets an adjustment of minus what was paid; the person's year is
    recomputed by a run of this declaration)."""
    reversals = list(
        PlatformLine.objects.filter(declaration=declaration, reversal=True).values_list(
            "line_no", "reverses"
        )
    )
    if not reversals:
        return
    line_of = {
        line.line_no: line
        for line in DeclarationLine.objects.filter(
            declaration=declaration, line_no__in=[n for n, _ in reversals]
        )
    }
    active = [
        (n, ref, line_of[n])
        for n, ref in reversals
        if line_of[n].error == LineError.REVERSAL and not line_of[n].error_detail
    ]
    refs = {ref for _, ref, _ in active}
    in_file = {
        (line.hospital_code, line.external_ref): line
        for line in DeclarationLine.objects.filter(
            declaration=declaration, error="", external_ref__in=refs
        )
    }
    existing = {
        (c.hospital.code, c.external_ref): c
        for c in Claim.objects.filter(external_ref__in=refs).select_related("hospital")
    }
    changed: list[DeclarationLine] = []
    reversed_claims: list[Claim] = []
    for n, ref, line in active:
        key = (line.hospital_code, ref)
        original = in_file.pop(key, None)
        claim = existing.get(key)
        if original is not None:
            original.error = LineError.REVERSAL
            original.error_detail = f"已被本文件第{n}行冲销"
            line.error_detail = f"冲销本文件第{original.line_no}行"
            changed.append(original)
        elif (
            claim is not None
            and claim.status != Claim.Status.REJECTED
            and claim.review_reason != ReviewReason.PLATFORM_REVERSAL
        ):
            line.error_detail = f"冲销原明细 {ref}（{claim.get_status_display()}）"[:200]
            reversed_claims.append(claim)
            claim.status = Claim.Status.REJECTED  # not twice in this file
        else:
            line.error = LineError.UNKNOWN_REVERSAL
            line.error_detail = f"原结算ID={ref}"[:200]
        changed.append(line)
    DeclarationLine.objects.bulk_update(changed, ["error", "error_detail"], batch_size=1000)
    if reversed_claims:
        _claims_reverse(declaration, reversed_claims)


def _claims_reverse(declaration: Declaration, claims: list[Claim]) -> None:
    """The reversed claims leave their people's years at once (counted claims exclude them);
    the decision run of this declaration that decides those years withdraws them — a decision
    of 0, and for a settled one an adjustment of minus what was paid — so decisions are
    written one way only, by runs."""
    ids = [c.pk for c in claims]
    Claim.objects.filter(pk__in=ids).update(
        review_reason=ReviewReason.PLATFORM_REVERSAL,
        review_note=f"平台冲销：{declaration}"[:500],
        updated_at=timezone.now(),
    )
    PlatformSettlement.objects.filter(claim_id__in=ids).update(
        outcome=PlatformSettlement.Outcome.REVERSED
    )
    # The people's years without the claim: people this declaration decides anyway (a good line
    # of the same year) are left to its own run, so nobody is decided by two runs at once.
    years: dict[int, list[int]] = defaultdict(list)
    for claim in claims:
        years[claim.discharged.year].append(claim.person_id)
    for year, people in sorted(years.items()):
        declared = DeclarationLine.objects.filter(
            declaration=declaration, error="", discharged__year=year
        ).values("id_number")
        rest = Person.objects.filter(pk__in=people).exclude(id_number__in=declared).values("id")
        run_create(
            kind=DecisionRun.Kind.REVERSAL,
            year=year,
            people=rest,
            reason=f"{declaration} 平台冲销重算",
            declarations=[declaration.pk],
            partitions=min(DEFAULT_PARTITIONS, max(1, len(people) // 500)),
        )


def platform_checked(declaration: Declaration) -> None:
    _resends(declaration)
    _reversals(declaration)


# --- after the merge: each claim's platform facts ---------------------------------------------


def platform_merged(declaration: Declaration) -> None:
    lines = DeclarationLine._meta.db_table
    platform = PlatformLine._meta.db_table
    settlements = PlatformSettlement._meta.db_table
    claims = Claim._meta.db_table
    hospitals = Hospital._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {settlements} (claim_id, declaration_id, setl_id, psn_no, insutype,
                med_type, clr_type, insu_admdvs, platform_identity, setl_time, maf_pay,
                our_identity, outcome, reason, content_hash, review_note)
            SELECT c.id, l.declaration_id, p.setl_id, p.psn_no, p.insutype, p.med_type,
                p.clr_type, p.insu_admdvs, p.identity, p.setl_time, COALESCE(p.maf_pay, 0),
                '', %s, '', p.content_hash, ''
            FROM {lines} l
            JOIN {platform} p ON p.declaration_id = l.declaration_id AND p.line_no = l.line_no
            JOIN {hospitals} h ON h.code = l.hospital_code
            JOIN {claims} c ON c.hospital_id = h.id AND c.external_ref = l.external_ref
            WHERE l.declaration_id = %s AND l.error = '' AND c.declaration_id = %s
            """,
            (PlatformSettlement.Outcome.PENDING, declaration.pk, declaration.pk),
        )
        # The platform's person number, where the record gave it beside its certno: recorded on
        # the person (the registry's service), so an identity record naming only psn_no finds
        # its person. Only people without one are read.
        cursor.execute(
            f"""
            SELECT DISTINCT c.person_id, p.psn_no
            FROM {lines} l
            JOIN {platform} p ON p.declaration_id = l.declaration_id AND p.line_no = l.line_no
            JOIN {hospitals} h ON h.code = l.hospital_code
            JOIN {claims} c ON c.hospital_id = h.id AND c.external_ref = l.external_ref
            JOIN {Person._meta.db_table} pe ON pe.id = c.person_id
            WHERE l.declaration_id = %s AND l.error = '' AND c.declaration_id = %s
              AND p.psn_no <> '' AND pe.psn_no IS NULL
            """,
            (declaration.pk, declaration.pk),
        )
        pairs = cursor.fetchall()
    if pairs:
        beneficiaries.people_psn_no_record(pairs=pairs)


# --- after the runs: our figure against maf_pay -----------------------------------------------


def platform_compare(*, declaration_ids: list[int]) -> int:
    """Our current decision against the platform's maf_pay, for every claim of these finished
    platform declarations not compared yet; set-based. Returns the mismatches found."""
    settlements = PlatformSettlement._meta.db_table
    decisions = Decision._meta.db_table
    ids = list(
        PlatformSettlement.objects.filter(
            declaration_id__in=declaration_ids,
            outcome=PlatformSettlement.Outcome.PENDING,
            declaration__status=Declaration.Status.DONE,
        )
        .order_by()
        .values_list("declaration_id", flat=True)
        .distinct()
    )
    if not ids:
        return 0
    in_batch = ", ".join(["%s"] * len(ids))
    outcome, reason = PlatformSettlement.Outcome, PlatformSettlement.Reason
    claims, people = Claim._meta.db_table, Person._meta.db_table
    lines = DeclarationLine._meta.db_table
    # Only asked of a mismatch left after the identity checks: did the person lose a settlement
    # to a reversal — a line of this file (the reversal and its original both carry the error)
    # or a claim received earlier.
    reversed_beside = f"""
        SELECT 1 FROM {claims} c JOIN {people} p ON p.id = c.person_id
        WHERE c.id = {settlements}.claim_id AND (
            EXISTS (SELECT 1 FROM {lines} r WHERE r.declaration_id = {settlements}.declaration_id
                    AND r.error = %s AND r.id_number = p.id_number)
            OR EXISTS (SELECT 1 FROM {claims} o WHERE o.person_id = c.person_id
                       AND o.id <> c.id AND o.review_reason = %s))"""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {settlements} SET ours = x.total, difference = {settlements}.maf_pay - x.total,
                our_identity = x.identity,
                outcome = CASE WHEN {settlements}.maf_pay = x.total THEN %s ELSE %s END,
                reason = CASE WHEN {settlements}.maf_pay = x.total THEN ''
                    WHEN {settlements}.platform_identity <> ''
                        AND {settlements}.platform_identity <> x.identity THEN %s
                    WHEN NOT x.eligible THEN %s
                    WHEN EXISTS ({reversed_beside}) THEN %s ELSE %s END
            FROM (SELECT claim_id, total, identity, eligible FROM {decisions}
                  WHERE is_current = %s) x
            WHERE x.claim_id = {settlements}.claim_id
                AND {settlements}.declaration_id IN ({in_batch}) AND {settlements}.outcome = %s
            """,
            (
                outcome.MATCH,
                outcome.MISMATCH,
                reason.IDENTITY,
                reason.NOT_ELIGIBLE,
                LineError.REVERSAL,
                ReviewReason.PLATFORM_REVERSAL,
                reason.REVERSAL,
                reason.AMOUNT,
                True,
                *ids,
                outcome.PENDING,
            ),
        )
    return PlatformSettlement.objects.filter(
        declaration_id__in=ids, outcome=outcome.MISMATCH
    ).count()


# --- the reviewer's answer ----------------------------------------------------------------------


def platform_review_resolve(
    *, settlement: PlatformSettlement, by, platform_stands: bool, note: str = ""
) -> PlatformSettlement:
    """Answer a mismatch: keep our figure (the default; the claim is accepted with it) or record
    why the platform's stands (a reason is required; the claim is accepted, and the record says
    the platform's figure was found right — correct the facts or the identity to pay it)."""
    note = note.strip()
    if platform_stands and not note:
        raise ClaimsError("认定平台金额成立须写明理由", code="note_required", field="note")
    with transaction.atomic():
        settlement = PlatformSettlement.objects.select_for_update().get(pk=settlement.pk)
        if settlement.outcome != PlatformSettlement.Outcome.MISMATCH:
            raise ClaimsError("该记录不是待复核的金额不一致记录", code="not_mismatch")
        text = note or "以本系统计算为准"
        if settlement.claim.status == Claim.Status.REVIEW:
            claim_review_resolve(
                claim=settlement.claim,
                by=by,
                accept=True,
                note=f"{'平台金额成立' if platform_stands else '以本系统为准'}：{text}",
            )
        settlement.outcome = (
            PlatformSettlement.Outcome.PLATFORM_STANDS
            if platform_stands
            else PlatformSettlement.Outcome.KEPT_OURS
        )
        settlement.review_note = text[:500]
        settlement.reviewed_by = by
        settlement.reviewed_at = timezone.now()
        settlement.save(update_fields=["outcome", "review_note", "reviewed_by", "reviewed_at"])
    return settlement


declaration_format_register(
    DeclarationFormat(
        owns=platform_declarations, after_check=platform_checked, after_merge=platform_merged
    )
)
on_run_finished(platform_compare)
