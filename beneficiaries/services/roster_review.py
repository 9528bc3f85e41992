"""The second person and the way back for a department's list: approving (or refusing) an
apply that ends many identities, and `撤销本次导入`, which undoes an apply in one step.

What an apply changed is known without the audit triggers (SQLite has none): the periods it
opened carry `source_line = "R<batch>:<line>"`, the periods it closed are listed in
`RosterImportEnd` with the day it wrote. A reversal deletes the first and reopens the second,
in one transaction under the county lock, and tells the claims app (`identity.changed`) so the
people are recomputed. It refuses, changing nothing, when anything it would undo has been
changed since (a later list or a clerk ended, moved or reopened one of those periods).
"""

from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from beneficiaries.audit import history_context
from beneficiaries.merge import T
from beneficiaries.models import County, Identity, RosterImport, RosterImportEnd
from beneficiaries.services.rosters import ImportStateError, roster_import_job_start
from medaid.core import topics
from medaid.core.errors import Refusal
from medaid.core.models import Job
from medaid.core.outbox import event_emit

REVIEW_PERMISSION = "beneficiaries.review_rosterimport"
REVERSE_PERMISSION = "beneficiaries.reverse_rosterimport"


def roster_import_review(*, batch: RosterImport, by, approve: bool) -> Job | None:
    """A second person approves (the apply starts as a job, allowed to end as many
    identities as the preview counted, no more) or refuses (the batch is returned, nothing
    changes). The checker holds `review_rosterimport` and is neither the uploader nor the
    person who asked for the apply."""
    if not by.has_perm(REVIEW_PERMISSION):
        raise Refusal("没有“复核名册入库”的权限", code="permission")
    with transaction.atomic():
        locked = RosterImport.objects.select_for_update().get(pk=batch.pk)
        if locked.status != RosterImport.Status.REVIEW:
            raise ImportStateError(f"该批次状态为“{locked.get_status_display()}”，不在待复核")
        if by.pk in (locked.uploaded_by_id, locked.review_requested_by_id):
            raise Refusal("复核须由上传人和提请入库人以外的另一位人员进行", code="same_person")
        locked.reviewed_by = by
        locked.reviewed_at = timezone.now()
        if approve:
            locked.status = RosterImport.Status.STAGED
            locked.approved_ended = locked.preview["bounds"]["ended"]
        else:
            locked.status = RosterImport.Status.REJECTED
            locked.error = f"复核未同意（{by}），未入库：请核对名册后重新报送"
        locked.save(
            update_fields=["reviewed_by", "reviewed_at", "status", "approved_ended", "error"]
        )
    batch.refresh_from_db()
    if not approve:
        return None
    return roster_import_job_start(batch=batch, apply=True, by=by)


def _conflicts(batch: RosterImport) -> list[int]:
    """Identity ids this apply touched that have changed since (at most 6, to name them)."""
    identity, ends, stg = T["identity"], T["ends"], T["stg"]
    prefix = f"R{batch.pk}:"
    with connection.cursor() as cursor:
        # Periods it closed: no longer ending on the day it wrote, gone, or followed by a
        # later period of the same identity that reopening would overlap.
        cursor.execute(
            f"""
            SELECT e.identity_id FROM {ends} e LEFT JOIN {identity} i ON i.id = e.identity_id
            WHERE e.batch_id = %s AND (i.id IS NULL OR i."end" IS NULL
                OR i."end" <> e.ended_on OR EXISTS (
                    SELECT 1 FROM {identity} j WHERE j.person_id = i.person_id
                      AND j.code = i.code AND j.start > e.ended_on
                      AND j.source_line NOT LIKE %s))
            ORDER BY e.identity_id LIMIT 6
            """,
            [batch.pk, prefix + "%"],
        )
        ids = [row[0] for row in cursor.fetchall()]
        # Periods it opened: no longer as the line said.
        cursor.execute(
            f"""
            SELECT i.id FROM {identity} i JOIN {stg} s ON s.batch_id = %s
                AND s.line_no = CAST(SUBSTR(i.source_line, %s) AS INTEGER)
            WHERE i.source_line LIKE %s AND (i.start <> s.start OR i.code <> s.code
                OR (i."end" IS NULL AND s."end" IS NOT NULL)
                OR (i."end" IS NOT NULL AND s."end" IS NULL) OR i."end" <> s."end")
            ORDER BY i.id LIMIT 6
            """,
            [batch.pk, len(prefix) + 1, prefix + "%"],
        )
        ids += [row[0] for row in cursor.fetchall()]
    return sorted(ids)[:6]


def roster_import_reverse(*, batch: RosterImport, by) -> dict:
    """撤销本次导入: the periods the apply opened are deleted, those it closed are open again,
    and the people are recomputed. People and households it created stay (they hold no
    identity from it any more); what it wrote about people's household, township and
    insurance stays as the list said. Returns the counts, also kept on the batch."""
    if not by.has_perm(REVERSE_PERMISSION):
        raise Refusal("没有“撤销名册入库”的权限", code="permission")
    with transaction.atomic():
        locked = RosterImport.objects.select_for_update().get(pk=batch.pk)
        if locked.status != RosterImport.Status.APPLIED:
            raise ImportStateError(
                f"该批次状态为“{locked.get_status_display()}”，只有已入库的批次可以撤销"
            )
        County.objects.select_for_update().filter(pk=locked.county_id).first()
        conflicts = _conflicts(locked)
        if conflicts:
            named = "、".join(f"#{pk}" for pk in conflicts[:5])
            raise Refusal(
                f"本次导入之后，相关身份已被其他名册或经办人员修改（身份记录 {named}"
                f"{' 等' if len(conflicts) > 5 else ''}），不能一步撤销：请先撤销其后的导入"
                f"或逐条核对",
                code="reversal_conflict",
            )
        opened = Identity.objects.filter(source_line__startswith=f"R{locked.pk}:")
        closed = RosterImportEnd.objects.filter(batch=locked)
        earliest: dict[int, date] = {}
        for person_id, day in [
            *opened.values_list("person_id", "start"),
            *closed.values_list("person_id", "ended_on"),
        ]:
            if person_id not in earliest or day < earliest[person_id]:
                earliest[person_id] = day
        with history_context(roster_import=locked.pk, user=by.pk, reversal=True):
            removed, _ = opened.delete()
            reopened = Identity.objects.filter(pk__in=closed.values("identity_id")).update(end=None)
        if earliest:
            event_emit(
                topics.IDENTITY_CHANGED,
                {
                    "people": [[pid, d.isoformat()] for pid, d in sorted(earliest.items())],
                    "source": f"撤销名册导入 #{locked.pk}",
                },
                key=f"county:{locked.county_id}",
            )
        result = {"removed": removed, "reopened": reopened, "people": len(earliest)}
        locked.status = RosterImport.Status.REVERSED
        locked.reversed_by = by
        locked.reversed_at = timezone.now()
        locked.reversal = result
        locked.save(update_fields=["status", "reversed_by", "reversed_at", "reversal"])
    batch.refresh_from_db()
    return result
