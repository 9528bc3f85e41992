"""Benchmark: the fund's reconciliation (`funds.reconciliation.reconcile`) over a year of
settled claims — by default 1,000,000 claims of 200,000 people in 10 counties and 300
hospitals (90 % direct with hospitals, 10 % by application to individuals).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_rec \\
        .venv/bin/python bench/reconcile.py [--n N] [--sample S]

The database is migrated first. Each run builds its own pooling area (a fresh code): people
with an identity and claims (COPY), decided by the engine through a year recompute run (so
that the sampled recompute has the engine's own decisions to compare with), each decision
dated the day after discharge as if decided then, the counties funded, and the twelve months
settled through `funds.settlement.settlement_run` and the maker–checker
(`bench/_money.py`). Then `reconcile(year=…)` runs over the
whole database (sampled recompute) and must find 0 differences. Target: under 30 s at 1M on
two cores. The last line printed is one JSON object.
"""

import argparse
import datetime as dt
import itertools
import json
import os
import random
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

from bench._common import CLAIM_SEED_COLUMNS  # noqa: E402
from medaid.core.bulk import insert_rows  # noqa: E402

COUNTIES = 10
HOSPITALS = 300
# Rows per COPY (each its own transaction): one COPY of 60,000 people took 50 s where three
# of 20,000 took 18 s (the row triggers' cost grows with the rows already written in the
# transaction), and 1,000,000 claims of 200,000 people never got past the people.
CHUNK = 20_000


def insert_chunked(table: str, columns, rows) -> None:
    """`insert_rows` in COPYs of CHUNK rows (see CHUNK)."""
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, CHUNK)):
        insert_rows(table, columns, chunk)


def generate(n: int, token: str, year: int, seed: int = 13):
    from django.db import connection

    from beneficiaries.models import County, Identity, Person, PoolingArea
    from claims.models import Claim, Hospital

    rng = random.Random(seed)
    area = PoolingArea.objects.create(
        code=f"R{token}", name=f"对账市{token}", policy_code="baoshan"
    )
    counties = County.objects.bulk_create(
        County(pooling_area=area, code=f"R{token}{i:02d}", name=f"对账县{i}")
        for i in range(COUNTIES)
    )
    hospitals = Hospital.objects.bulk_create(
        Hospital(
            code=f"R{token}H{i:03d}",
            name=f"对账医院{i}",
            level=rng.choice([1, 2, 3]),
            county=counties[i % COUNTIES],
        )
        for i in range(HOSPITALS)
    )
    people_n = max(1, n // 5)
    stamp = f"{year}-01-01T00:00:00+08"
    with connection.cursor() as cursor:
        insert_chunked(
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
                    f"R{token}{i:011d}"[:18],
                    f"对象{i}",
                    "M",
                    "1960-01-01",
                    counties[i % COUNTIES].pk,
                    "resident",
                    "",
                    stamp,
                    stamp,
                )
                for i in range(people_n)
            ),
        )
        cursor.execute(
            f"SELECT id FROM {Person._meta.db_table} WHERE id_number LIKE %s ORDER BY id",
            [f"R{token}%"],
        )
        people = [row[0] for row in cursor.fetchall()]
        insert_chunked(
            Identity._meta.db_table,
            ["person_id", "code", "start", "source_line", "created_at"],
            ((pid, "dibao", f"{year - 1}-01-01", "", stamp) for pid in people),
        )

        def rows():
            for i in range(n):
                p = i % people_n
                county = counties[p % COUNTIES]
                hospital = hospitals[rng.randrange(HOSPITALS)]
                direct = rng.random() < 0.9
                day = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
                cost = rng.randrange(2000, 40000)
                yield (
                    people[p],
                    county.pk,
                    hospital.pk,
                    "manual",
                    f"R{token}-{i}",
                    "inpatient",
                    (day - dt.timedelta(days=3)).isoformat(),
                    day.isoformat(),
                    "t",
                    "f",
                    "f",
                    "f",
                    "direct" if direct else "application",
                    f"{cost}.00",
                    f"{cost}.00",
                    "0",
                    f"{cost // 2}.00",
                    "0",
                    "0",
                    None,
                    "",
                    "pending",
                    "",
                    "",
                    stamp,
                    stamp,
                )

        insert_chunked(Claim._meta.db_table, CLAIM_SEED_COLUMNS, rows())
        cursor.execute("ANALYZE")
    return area, counties


def _fast_commits(sender, connection, **kwargs) -> None:
    """The setup's thousands of small commits (job progress, one per settlement batch) wait
    for no disk flush: a bench's fixtures need no durability, and the flush, not the work,
    was most of the settling time on a shared disk. Reconciling only reads."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")


def _settle_county(args) -> int:
    """One county's twelve months, in order (a forked worker: its own connection)."""
    from django.db import connections

    from bench._money import settle
    from beneficiaries.models import County

    county_id, year = args
    connections.close_all()
    county = County.objects.select_related("pooling_area").get(pk=county_id)
    for month in range(1, 13):
        settle(county=county, year=year, month=month)
        # What autovacuum does on a live system, and this machine's PostgreSQL (autovacuum
        # off) does not: fresh statistics as the settlement lines grow by a month. Without
        # them the next month's staging plans its anti-join for an empty table, and the 1M
        # year took 25 minutes to settle instead of a few.
        with connections["default"].cursor() as cursor:
            cursor.execute("ANALYZE funds_settlementline, claims_claim, claims_decision")
    connections.close_all()
    return county_id


def settle_year(counties, year: int, workers: int) -> None:
    """Every county's year, counties in parallel (each its own accounts and lock)."""
    import multiprocessing

    from django.db import connections

    from bench._money import bench_people

    # The maker and the checker exist before the workers fork (two workers creating them at
    # once collided on the username).
    bench_people()
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=1) as pool:
        for _ in pool.imap_unordered(_settle_county, [(c.pk, year) for c in counties]):
            pass


def setup(args, year: int) -> tuple[float, float]:
    """A year of settled claims (see the module docstring); returns the seconds spent
    generating and deciding, and settling."""
    from django.db import connection

    from bench.claims import execute_parallel
    from claims import services as claims_services
    from claims.models import Claim, Decision
    from funds import services
    from funds.models import AccountKind, EntryKind, FundSource

    token = f"{int(time.time()) % 100000:05d}"
    t0 = time.perf_counter()
    area, counties = generate(args.n, token, year)
    print(
        f"生成 {args.n} 笔救助明细、{max(1, args.n // 5)} 人：{time.perf_counter() - t0:.1f} 秒",
        flush=True,
    )

    t = time.perf_counter()
    run = claims_services.year_recompute_start(year=year, reason="基准：首次计算")
    execute_parallel(run, args.workers)
    run.refresh_from_db()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {Decision._meta.db_table} d
                SET decided_at = (c.discharged + interval '1 day')::timestamp AT TIME ZONE
                    'Asia/Shanghai' - interval '12 hours'
                FROM {Claim._meta.db_table} c
                WHERE c.id = d.claim_id AND c.county_id = ANY(%s)""",
            [[c.pk for c in counties]],
        )
    print(
        f"政策引擎计算 {run.claims_decided} 笔（{args.workers} 个进程）："
        f"{time.perf_counter() - t:.1f} 秒"
    )
    t_gen = time.perf_counter() - t0

    t = time.perf_counter()
    services.accounts_open_for_area(pooling_area=area, opened_on=dt.date(year, 1, 1))
    city = services.account_open(kind=AccountKind.FISCAL, pooling_area=area)
    city_exp = services.account_open(kind=AccountKind.EXPENDITURE, pooling_area=area)
    amount = Decimal("2000000000.00")
    day = dt.date(year, 1, 1)
    services.receipt_post(
        account=city,
        source=FundSource.CENTRAL_PROVINCIAL,
        amount=amount * COUNTIES,
        date=day,
        document_ref=f"R{token}-补助",
    )
    services.transfer_post(
        kind=EntryKind.TRANSFER,
        from_account=city,
        to_account=city_exp,
        amount=amount * COUNTIES,
        date=day,
        document_ref=f"R{token}-拨付",
    )
    for county in counties:
        services.transfer_post(
            kind=EntryKind.DISBURSEMENT,
            from_account=city_exp,
            to_account=services.account_open(
                kind=AccountKind.EXPENDITURE, pooling_area=area, county=county
            ),
            amount=amount,
            date=day,
            document_ref=f"R{token}-下拨{county.code}",
        )
    settle_year(counties, year, args.workers)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    t_settle = time.perf_counter() - t
    print(f"按月结算 {COUNTIES} 个区县 × 12 个月（{args.workers} 个进程）：{t_settle:.1f} 秒")
    return t_gen, t_settle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--reconcile-only",
        action="store_true",
        help="reconcile the year already in the database (an earlier run's), no setup",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.signals import connection_created
    from django.utils import timezone

    if connection.vendor != "postgresql":
        sys.exit("bench/reconcile.py needs PostgreSQL: set DATABASE_URL")
    connection_created.connect(_fast_commits)
    call_command("migrate", verbosity=0)

    from funds.reconciliation import reconcile

    year = timezone.localdate().year - 1
    t_gen = t_settle = 0.0
    if not args.reconcile_only:
        t_gen, t_settle = setup(args, year)
    # The figure is taken with the commits as the server has them.
    connection_created.disconnect(_fast_commits)
    connection.close()

    t = time.perf_counter()
    result = reconcile(year=year, sample=args.sample)
    seconds = time.perf_counter() - t
    for d in result.differences[:20]:
        print(f"  差异 [{d.label}] {d.message}")
    for name, spent in result.timings.items():
        print(f"  {name:<14} {spent:7.2f} 秒")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"对账 {year} 年：{len(result.periods)} 个区县月份，"
        f"抽样重算 {result.recomputed_people} 人，"
        f"差异 {result.count} 项，{seconds:.1f} 秒（目标 30 秒内）"
    )
    print(
        json.dumps(
            {
                "bench": "reconcile",
                "n": args.n,
                "people": max(1, args.n // 5),
                "counties": COUNTIES,
                "hospitals": HOSPITALS,
                "sample": args.sample,
                "reconcile_seconds": round(seconds, 2),
                "differences": result.count,
                "periods": len(result.periods),
                "recomputed_people": result.recomputed_people,
                "setup_seconds": round(t_gen, 1),
                "settle_seconds": round(t_settle, 1),
                "peak_mb": round(peak_mb),
                "check_seconds": result.timings,
            },
            ensure_ascii=False,
        )
    )
    sys.exit(0 if result.count == 0 else 1)


if __name__ == "__main__":
    main()
