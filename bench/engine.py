"""Benchmark the policy engine: synthetic claims across all five packs, decided in one process.

    python bench/engine.py --n 1000000

People are generated one at a time and dropped once decided (streaming), so memory stays flat
as n grows. Each person gets 3–7 claims (5 on average, so n claims come from n/5 people) in
one pack, with identities that pack knows and some it does not. `decide()` is the public
entry point the apps and the preview contract use. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medaid.policy import (
    Case,
    ClaimFacts,
    IdentityPeriod,
    PersonFacts,
    available_policies,
    decide,
    load_pack,
)

# Per pack: the identities people hold, the kinds they claim, and the years claims fall in.
PROFILES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]] = {
    "yunnan": (
        (
            "tekun",
            "dibao",
            "fanpin",
            "dibao_edge",
            "rural_monitored",
            "illness_poverty",
            "relative_hardship_worker",
            "severe_disability",
        ),
        (
            "inpatient",
            "outpatient_chronic",
            "outpatient_special",
            "outpatient_emergency",
            "day_surgery",
            "negotiated_drug",
            "outpatient_general",
        ),
        (2023, 2024),
    ),
    "baoshan": (
        (
            "tekun",
            "orphan",
            "dibao",
            "fanpin",
            "dibao_edge",
            "deep_hardship_worker",
            "illness_poverty",
            "other_special",
        ),
        (
            "inpatient",
            "outpatient_chronic",
            "outpatient_special",
            "outpatient_emergency",
            "day_surgery",
            "negotiated_drug",
        ),
        (2023, 2024),
    ),
    "kunming": (
        (
            "tekun",
            "dibao",
            "low_income_elderly",
            "low_income_other",
            "other_special",
            "severe_disability",
        ),
        (
            "inpatient",
            "inpatient",
            "outpatient_general",
            "outpatient_chronic",
            "outpatient_special",
        ),
        (2021, 2022),
    ),
    "pingshun": (
        (
            "tekun",
            "dibao",
            "fanpin",
            "rural_monitored",
            "sudden_hardship",
            "dibao_edge",
            "illness_poverty",
        ),
        ("inpatient", "inpatient", "outpatient_chronic", "outpatient_special", "negotiated_drug"),
        (2023, 2024),
    ),
    "zhangye": (
        (
            "tekun",
            "dibao_full",
            "dibao_partial",
            "fanpin",
            "rural_monitored",
            "poverty_lifted",
            "dibao_edge",
            "illness_poverty",
        ),
        ("inpatient", "inpatient", "outpatient_chronic", "outpatient_special"),
        (2022, 2023, 2024),
    ),
}
FEE_CLASSES = (None, "provincial_1", "provincial_municipal_2", "county_2", "class_3")
CLAIMS_PER_PERSON = (3, 4, 5, 6, 7)


def people(n_claims: int, seed: int):
    """Yield (policy, person, claims) until n_claims claims have been produced."""
    rng = random.Random(seed)
    policies = available_policies()
    # Amounts come from a fixed pool so the generator measures the engine, not Decimal parsing.
    amounts = [Decimal(rng.randrange(20_000, 6_000_000)) / 100 for _ in range(4093)]
    shares = [Decimal(s) / 100 for s in range(0, 71)]
    produced = 0
    index = 0
    while produced < n_claims:
        policy = policies[index % len(policies)]
        index += 1
        identities_pool, kinds, years = PROFILES[policy]
        first = load_pack(policy).first_day
        year = rng.choice(years)
        start = max(first, date(year, 1, 1))
        held = []
        for _ in range(rng.choice((1, 1, 1, 2))):
            code = rng.choice(identities_pool)
            begin = start - timedelta(days=rng.randrange(0, 400))
            end = None if rng.random() < 0.9 else start + timedelta(days=rng.randrange(30, 300))
            held.append(IdentityPeriod(code, begin, end))
        person = PersonFacts(
            identities=tuple(held), birth_date=date(1940 + rng.randrange(0, 70), 3, 15)
        )
        count = min(CLAIMS_PER_PERSON[index % 5], n_claims - produced)
        claims = []
        for i in range(count):
            discharged = start + timedelta(days=rng.randrange(0, 360))
            if discharged.year != start.year:
                discharged = date(start.year, 12, 31)
            in_policy = amounts[rng.randrange(4093)]
            basic = (in_policy * shares[rng.randrange(71)]).quantize(Decimal("0.01"))
            kind = rng.choice(kinds)
            claims.append(
                ClaimFacts(
                    ref=str(i),
                    kind=kind,
                    discharged=discharged,
                    admitted=discharged - timedelta(days=rng.randrange(0, 20)),
                    hospital_level=rng.randrange(1, 4),
                    hospital_fee_class=FEE_CLASSES[rng.randrange(5)],
                    referred=rng.random() < 0.95,
                    in_area=rng.random() < 0.8,
                    major_disease=rng.random() < 0.1,
                    in_policy_cost=in_policy,
                    out_of_catalog_cost=amounts[rng.randrange(4093)] / 10,
                    basic_insurance_paid=basic,
                )
            )
        produced += count
        yield policy, person, tuple(claims)


def rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="claims to decide")
    parser.add_argument("--seed", type=int, default=20230107)
    args = parser.parse_args()

    for code in available_policies():
        load_pack(code)  # load and validate outside the timed loop
    n = persons = 0
    total = Decimal("0")
    eligible = 0
    deciding = 0.0  # CPU seconds inside decide(): the machine may be shared, wall time is noisy
    checkpoints = []
    cpu = time.process_time
    started, started_cpu = time.perf_counter(), cpu()
    for policy, person, claims in people(args.n, args.seed):
        case = Case(policy=policy, person=person, claims=claims)
        t0 = cpu()
        result = decide(case)
        deciding += cpu() - t0
        total += result.total
        eligible += sum(1 for c in result.claims if c.eligible)
        n += len(claims)
        persons += 1
        if persons % 40_000 == 0:
            checkpoints.append((n, round(rss_mb(), 1)))
    wall = time.perf_counter() - started
    whole = cpu() - started_cpu

    print(f"claims decided      {n:,} for {persons:,} people across {len(PROFILES)} packs")
    print(f"eligible            {eligible:,} ({eligible / n:.1%})")
    print(f"assistance + tilt   {total:,.2f} yuan")
    print(f"in decide()         {deciding:.2f} CPU s = {n / deciding:,.0f} claims/s on one core")
    print(f"with generation     {whole:.2f} CPU s = {n / whole:,.0f} claims/s; wall {wall:.2f} s")
    print(f"peak RSS (claims, MB) {checkpoints}")
    print(
        json.dumps(
            {
                "bench": "engine",
                "n": n,
                "per_s": round(n / deciding),
                "seconds": round(deciding, 2),
                "with_generation_per_s": round(n / whole),
                "wall_seconds": round(wall, 2),
                "peak_mb": round(rss_mb(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
