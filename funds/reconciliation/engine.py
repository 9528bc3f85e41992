"""Every current decision against a fresh run of the engine on the same person's year."""

from __future__ import annotations

import random
from collections import defaultdict

from django.db.models import Q

from claims import services as claims_services
from claims.models import Claim
from funds.models import (
    SettlementLine,
)
from funds.reconciliation.base import ReconcileResult, Row, Scope, add_difference
from medaid.core.money import yuan_text


def check_recompute(result: ReconcileResult, scope: Scope, *, full: bool, sample: int, seed: int):
    """Current decisions against a fresh run of the engine, per county and year."""
    if not full and sample <= 0:
        return
    claims = scope.county(Claim.objects.filter(decisions__is_current=True), "county_id")
    if scope.month:
        # A month's people: those discharged in it and those its settlement paid.
        paid = SettlementLine.objects.filter(statement__run__in=scope.runs()).values("claim_id")
        in_month = Q(discharged__gte=scope.first, discharged__lte=scope.last)
        claims = claims.filter(in_month | Q(id__in=paid))
    else:
        claims = scope.dates(claims, "discharged")
    years = sorted(
        y for y in claims.order_by().values_list("discharged__year", flat=True).distinct()
    )
    rng = random.Random(seed)
    for year in years:
        of_year = claims.filter(discharged__year=year)
        if full:
            people = of_year.order_by().values("person_id").distinct()
            result.recomputed_people += people.count()
        else:
            by_county: dict[int, list[int]] = defaultdict(list)
            pairs = of_year.order_by().values_list("county_id", "person_id").distinct()
            for county_id, person_id in pairs.iterator(chunk_size=20000):
                by_county[county_id].append(person_id)
            chosen: list[int] = []
            for county_id in sorted(by_county):
                ids = sorted(by_county[county_id])
                chosen += ids if len(ids) <= sample else rng.sample(ids, sample)
            people = sorted(set(chosen))
            result.recomputed_people += len(people)
            if not people:
                continue
        gaps = claims_services.recompute_preview(people=people, year=year)
        result.recomputed_claims += Claim.objects.filter(
            person_id__in=people, discharged__year=year
        ).count()
        if not gaps:
            continue
        info = {
            c["id"]: c
            for c in Claim.objects.filter(id__in=[g.claim_id for g in gaps]).values(
                "id", "external_ref", "county_id", "discharged"
            )
        }
        grouped: dict[tuple, list[Row]] = defaultdict(list)
        for gap in gaps:
            c = info[gap.claim_id]
            if scope.county_id and c["county_id"] != scope.county_id:
                continue
            grouped[(c["county_id"], year, c["discharged"].month)].append(
                Row(
                    "claims.Decision",
                    gap.current_decision_id,
                    gap.engine_total,
                    gap.current_total,
                    f"救助明细 {c['external_ref']} 的当前救助决定与政策引擎按同样事实重新计算的"
                    f"结果不符（重新计算 {yuan_text(gap.engine_total)} 元，"
                    f"当前 {yuan_text(gap.current_total)} 元）",
                    c["external_ref"],
                )
            )
        for (county_id, year_, month), rows in grouped.items():
            add_difference(
                result,
                "recompute_differs",
                county_id,
                year_,
                month,
                f"{len(rows)} 笔救助明细的当前救助决定与重新计算不符。",
                rows,
            )
