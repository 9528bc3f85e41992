"""The claims' side of the funds app's monthly settlement: the funds app stages and posts its
statements and tells this module which claims a posted statement paid; only the claims app
writes claims rows."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from claims.models import Claim


def claims_mark_settled(*, claim_ids: QuerySet, at: dt.datetime) -> int:
    """Accepted claims among `claim_ids` (a one-column queryset of claim ids, e.g. the claim
    lines of the statements just posted) become settled, as of `at`. One UPDATE whatever their
    number (the ids stay a subquery); claims already settled or no longer accepted are left
    alone, so posting again changes nothing. Returns how many claims changed."""
    return Claim.objects.filter(status=Claim.Status.ACCEPTED, id__in=claim_ids).update(
        status=Claim.Status.SETTLED, updated_at=at
    )


def claims_reopen(*, claim_ids: QuerySet | list[int], at: dt.datetime) -> int:
    """Settled claims among `claim_ids` become accepted again: the voucher that paid them was
    reversed, and the next settlement run stages them anew. Claims not settled are left alone,
    so reopening twice changes nothing. Returns how many claims changed."""
    return Claim.objects.filter(status=Claim.Status.SETTLED, id__in=claim_ids).update(
        status=Claim.Status.ACCEPTED, updated_at=at
    )
