"""Corrections of a claim's facts and the review queue's answers; both recompute the person's
year."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from beneficiaries.models import Person
from claims.models import (
    CLAIM_FACT_FIELDS,
    Claim,
    DecisionRun,
    ReviewReason,
)
from claims.services.checks import claim_facts_check, claim_figures_errors
from claims.services.errors import ClaimsError
from claims.services.recompute import people_recompute
from medaid.core import validators

# --- corrections and reviews ---------------------------------------------------------------

# A claim's facts (claims.models.CLAIM_FACT_FIELDS): the hospital's declared assistance and
# the claim's status and ties are not facts to correct.
CORRECTABLE_FIELDS = CLAIM_FACT_FIELDS


def claim_correct(*, claim: Claim, changes: dict, by, reason: str) -> list[DecisionRun]:
    """Correct a claim's facts and recompute its person's year from it. A settled claim keeps its
    paid decision as history; the difference becomes an adjustment. Lock: the claim row."""
    if not reason:
        raise ClaimsError("更正必须填写原因", code="reason_required")
    validators.known_fields(changes, CORRECTABLE_FIELDS, what="更正", prefix="changes.")
    reason = validators.text(reason, field="reason", label="更正原因", max_length=150)
    with transaction.atomic():
        claim = Claim.objects.select_for_update().get(pk=claim.pk)
        old_year = claim.discharged.year
        data = {name: getattr(claim, name) for name in CORRECTABLE_FIELDS} | changes
        claim_facts_check(data, today=timezone.localdate())
        problems = claim_figures_errors(data)
        if problems:
            raise ClaimsError(problems[0][1], code=problems[0][0])
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
    note = validators.text(note, field="note", label="复核意见", max_length=400, multiline=True)
    if not note:
        raise ClaimsError("复核必须填写意见", code="note_required")
    with transaction.atomic():
        claim = Claim.objects.select_for_update().get(pk=claim.pk)
        if claim.status != Claim.Status.REVIEW:
            raise ClaimsError("该明细不在复核队列中", code="not_in_review")
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
