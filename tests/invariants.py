"""The whole-database invariant after a bad input: no claim without its one current decision,
and nothing already accepted lost or changed (the claims, decisions, people, identities and
applications read the same before and after)."""

from __future__ import annotations

from django.db.models import Count, Q


def snapshot() -> dict:
    from beneficiaries.models import Identity, Person
    from claims.models import Application, Claim, Decision

    return {
        "claims": sorted(Claim.objects.values_list("id", "status", "discharged", "in_policy_cost")),
        "decisions": sorted(
            Decision.objects.filter(is_current=True).values_list("id", "claim_id", "total")
        ),
        "people": Person.objects.count(),
        "identities": sorted(Identity.objects.values_list("id", "code", "start", "end")),
        "applications": sorted(Application.objects.values_list("id", "state")),
    }


def assert_sound(before: dict | None = None) -> None:
    """Every claim has exactly one current decision; with `before`, nothing changed since."""
    from claims.models import Claim

    broken = Claim.objects.annotate(
        current=Count("decisions", filter=Q(decisions__is_current=True))
    ).exclude(current=1)
    assert not broken.exists(), f"claims without their one decision: {list(broken[:5])}"
    if before is not None:
        after = snapshot()
        for key, value in before.items():
            assert after[key] == value, f"{key} changed by a refused input"
