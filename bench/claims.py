"""Claims benchmark on PostgreSQL (run it against a database of its own: it empties the claims
and people tables first).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_claims_bench \\
        .venv/bin/python bench/claims.py [--n 200000] [--claims 1000000] [--workers 2]

A. Import a monthly declaration of N one-stop claims (a .csv streamed into staging, set-based
   checks and merge) and decide it; target under 60 s.
B. Recompute a year of CLAIMS claims of N people (every current decision superseded, settled
   claims adjusted), partitioned by person as the Celery workers run it; target under 120 s.
Memory target: under 500 MB per process. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench._common import CLAIM_SEED_COLUMNS  # noqa: E402
from beneficiaries import id_numbers  # noqa: E402
from beneficiaries.models import County, Identity, Person, PoolingArea  # noqa: E402
from claims import imports, services  # noqa: E402
from claims.models import Claim, Decision, DecisionRun, Hospital  # noqa: E402
from medaid import policy  # noqa: E402
from medaid.core.bulk import insert_rows  # noqa: E402

YEAR = 2024
IDENTITIES = ["tekun", "dibao", "fanpin", "rural_monitored", "dibao_edge", "illness_poverty"]
# The region digits of the seeded ID numbers (平顺县, whose pack the bench county uses).
REGION = "140425"
_NUMERALS = "零一二三四五六七八九"


def birth_date(k: int) -> dt.date:
    return dt.date(1950 + k % 50, 1 + k % 12, 1 + k // 300 % 28)


def id_number(k: int) -> str:
    """The k-th seeded person's 公民身份号码: a valid one (checksum, birth date, an odd
    sequence for the seeded sex M), so that a department's list naming them passes validation;
    unique for k below 4,200,000."""
    return id_numbers.make(REGION, birth_date(k), 2 * (k // 8400) + 1)


def person_name(k: int) -> str:
    """测试 and k in Chinese numerals: unique, and without the digits a list's name refuses."""
    return "测试" + str(k).translate(str.maketrans("0123456789", _NUMERALS))


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def log(message: str) -> None:
    print(message, flush=True)


def reset() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE claims_adjustment, claims_decision, claims_decisionevent, claims_claim, "
            "claims_claimevent, claims_declarationline, claims_declaration, claims_runperson, "
            "claims_runpartition, claims_decisionrun, claims_warningdispatch, claims_warning, "
            "claims_applicationtransition, claims_applicationapproval, claims_application, "
            "beneficiaries_identity, beneficiaries_person RESTART IDENTITY CASCADE"
        )


def seed_people(n: int, rng: random.Random):
    area, _ = PoolingArea.objects.get_or_create(
        code="BENCH", defaults={"name": "基准测试县", "policy_code": "pingshun"}
    )
    county, _ = County.objects.get_or_create(
        code="BENCH01", defaults={"pooling_area": area, "name": "基准测试县"}
    )
    hospital, _ = Hospital.objects.get_or_create(
        code="BENCHH2",
        defaults={
            "name": "基准测试县人民医院",
            "level": 2,
            "fee_class": "county_2",
            "county": county,
        },
    )
    other, _ = Hospital.objects.get_or_create(
        code="BENCHH3",
        defaults={
            "name": "基准测试市医院",
            "level": 3,
            "fee_class": "provincial_municipal_2",
            "county": county,
        },
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        # Seeding only: the audit triggers are for the timed work, not for fixtures.
        cursor.execute("SET session_replication_role = replica")
    insert_rows(
        Person._meta.db_table,
        [
            "id_number",
            "name",
            "sex",
            "birth_date",
            "county_id",
            "insurance_scheme",
            "insured_place",
            "created_at",
            "updated_at",
        ],
        (
            (
                id_number(i),
                person_name(i),
                "M",
                birth_date(i),
                county.pk,
                "resident",
                "",
                now,
                now,
            )
            for i in range(n)
        ),
    )
    first = Person.objects.filter(county=county).order_by("id").values_list("id", flat=True)[0]
    identity_of = {}
    rows = []
    for k in range(n):
        code = IDENTITIES[k % len(IDENTITIES)]
        identity_of[first + k] = code
        rows.append((first + k, code, dt.date(2023, 1, 1), None, "", now))
    insert_rows(
        Identity._meta.db_table,
        ["person_id", "code", "start", "end", "source_line", "created_at"],
        rows,
    )
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
    return county, hospital, other, first, identity_of


def stay(rng: random.Random, day: dt.date) -> dict:
    in_policy = Decimal(rng.randint(3000, 40000))
    basic = (in_policy * Decimal(rng.choice(["0.55", "0.6", "0.65", "0.7"]))).quantize(
        Decimal("0.01")
    )
    out = Decimal(rng.randint(0, 3000))
    return {
        "admitted": day - dt.timedelta(days=rng.randint(1, 10)),
        "discharged": day,
        "in_policy_cost": in_policy,
        "out_of_catalog_cost": out,
        "total_cost": in_policy + out,
        "basic_insurance_paid": basic,
    }


def claim_seed_row(
    person_id: int, county_id: int, hospital_id: int, ref: str, s: dict, status: str, now
) -> tuple:
    """One declared inpatient claim of `stay` `s`, in `CLAIM_SEED_COLUMNS` order."""
    return (
        person_id,
        county_id,
        hospital_id,
        "declaration",
        ref,
        "inpatient",
        s["admitted"],
        s["discharged"],
        True,
        False,
        False,
        False,
        "direct",
        s["total_cost"],
        s["in_policy_cost"],
        s["out_of_catalog_cost"],
        s["basic_insurance_paid"],
        0,
        0,
        0,
        "",
        status,
        "",
        "",
        now,
        now,
    )


def write_declaration(path: Path, n: int, first: int, identity_of, rng) -> None:
    """One hospital's June: one stay for each person, with the hospital's own figure (right for
    98 %, misstated for 2 %)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(imports.TEMPLATE_HEADERS)
        for k in range(n):
            pid = first + k
            s = stay(rng, dt.date(YEAR, 6, 1 + k % 30))
            facts = policy.ClaimFacts(
                ref="x", kind="inpatient", hospital_level=2, hospital_fee_class="county_2", **s
            )
            case = policy.Case(
                policy="pingshun",
                person=policy.PersonFacts(
                    identities=(
                        policy.IdentityPeriod(code=identity_of[pid], start=dt.date(2023, 1, 1)),
                    ),
                ),
                claims=(facts,),
            )
            declared = policy.decide(case).claims[0].total
            if rng.random() < 0.02:
                declared += Decimal("12.34")
            row = {
                "hospital_code": "BENCHH2",
                "id_number": id_number(k),
                "name": person_name(k),
                "external_ref": f"J{k:08d}",
                "kind": "住院",
                "declared_assistance": declared,
                **s,
            }
            w.writerow([row.get(field, "") for field in imports.FIELDS])


def _worker_init():
    connections.close_all()


def _decide(args):
    run_id, number = args
    services.run_partition_decide(run_id=run_id, number=number)
    connections.close_all()
    return number


def execute_parallel(run: DecisionRun, workers: int) -> None:
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_worker_init, maxtasksperchild=8) as pool:
        for _ in pool.imap_unordered(_decide, [(run.pk, n) for n in range(run.partitions)]):
            pass
    services.run_finish(run_id=run.pk)


def seed_more_claims(total: int, n: int, first: int, county, other, rng) -> int:
    """Fill the year up to `total` claims with accepted claims carrying an old decision (as if
    decided under an earlier parameter set); every tenth already settled."""
    extra = total - n
    per_person = max(1, extra // n)
    now = timezone.now()

    def rows():
        made = 0
        for k in range(n):
            for j in range(per_person):
                if made >= extra:
                    return
                month = [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12][(k + j) % 11]
                s = stay(rng, dt.date(YEAR, month, 1 + (k * 7 + j) % 28))
                status = "settled" if (k + j) % 10 == 0 else "accepted"
                yield claim_seed_row(
                    first + k, county.pk, other.pk, f"E{k:08d}-{j}", s, status, now
                )
                made += 1

    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    made = insert_rows(Claim._meta.db_table, CLAIM_SEED_COLUMNS, rows())
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO claims_decision (claim_id, is_current, eligible, reason, identity, "
            "policy_code, policy_version, parameters_hash, policy_self_pay, deductible_applied, "
            "ratio, assistance, tilted_assistance, total, trace, decided_at) "
            "SELECT id, true, true, '', '', 'pingshun', '2023-01-07', 'old-parameters', "
            "in_policy_cost - basic_insurance_paid, 0, 0.5, 100, 0, 100, "
            "'[\"旧参数计算\"]'::jsonb, "
            "now() FROM claims_claim WHERE declaration_id IS NULL"
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE")
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000, help="people, and claims declared")
    parser.add_argument("--claims", type=int, default=1_000_000, help="claims recomputed")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/claims.py runs on PostgreSQL: set DATABASE_URL")
    rng = random.Random(20240601)
    call_command("migrate", verbosity=0)
    reset()
    t = time.perf_counter()
    county, hospital, other, first, identity_of = seed_people(args.n, rng)
    log(f"seeded {args.n} people in {time.perf_counter() - t:.1f}s")
    tmp = Path(tempfile.mkdtemp())
    path = tmp / "declaration.csv"
    t = time.perf_counter()
    write_declaration(path, args.n, first, identity_of, rng)
    log(
        f"wrote the declaration file ({path.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t:.1f}s"
    )

    # --- A: declaration -----------------------------------------------------------------
    t0 = time.perf_counter()
    declaration = imports.declaration_upload(
        path=path,
        file_name="declaration.csv",
        year=YEAR,
        month=6,
        hospital=hospital,
        process=False,
    )
    t_staged = time.perf_counter()
    runs = services.declaration_prepare(declaration_id=declaration.pk)
    t_merged = time.perf_counter()
    for run in runs:
        execute_parallel(run, args.workers)
    declaration.refresh_from_db()
    t1 = time.perf_counter()
    declaration_s = t1 - t0
    log(
        f"A. declaration of {declaration.lines_total} claims: staged {t_staged - t0:.1f}s, "
        f"checked+merged {t_merged - t_staged:.1f}s, decided {t1 - t_merged:.1f}s; "
        f"total {declaration_s:.1f}s ({declaration.lines_total / declaration_s:.0f}/s); "
        f"accepted {declaration.claims_accepted}, review {declaration.claims_review}, "
        f"refused {declaration.lines_refused}; status {declaration.status}"
    )

    # --- B: recompute a year ------------------------------------------------------------------
    t = time.perf_counter()
    seed_more_claims(args.claims, args.n, first, county, other, rng)
    year_claims = Claim.objects.filter(discharged__year=YEAR).count()
    log(f"seeded the year up to {year_claims} claims in {time.perf_counter() - t:.1f}s")
    t0 = time.perf_counter()
    run = services.year_recompute_start(year=YEAR, reason="基准测试：全年重算")
    t_staged = time.perf_counter()
    execute_parallel(run, args.workers)
    run.refresh_from_db()
    t1 = time.perf_counter()
    recompute_s = t1 - t0
    current = Decision.objects.filter(is_current=True, claim__discharged__year=YEAR).count()
    log(
        f"B. recompute of {run.claims_decided} claims of {run.people} people in "
        f"{run.partitions} partitions ({args.workers} workers): staged {t_staged - t0:.1f}s, "
        f"total {recompute_s:.1f}s ({run.claims_decided / recompute_s:.0f}/s); "
        f"new decisions {run.decisions_written}, adjustments {run.adjustments_written}, "
        f"current decisions {current}"
    )
    figures = {
        "bench": "claims",
        "n": args.n,
        "declaration_claims": declaration.lines_total,
        "declaration_seconds": round(declaration_s, 1),
        "declaration_per_s": round(declaration.lines_total / declaration_s),
        "recompute_claims": run.claims_decided,
        "recompute_seconds": round(recompute_s, 1),
        "per_s": round(run.claims_decided / recompute_s),
        "seconds": round(declaration_s + recompute_s, 1),
        "workers": args.workers,
        "peak_mb": peak_mb(),
        "targets_met": declaration_s < 60 and recompute_s < 120 and peak_mb() < 500,
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
