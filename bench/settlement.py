"""Benchmark: one month's settlement of 200,000 accepted claims across 10 counties and 300
hospitals (90 % direct with hospitals, 10 % by application to individuals).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_funds_bench \
        .venv/bin/python bench/settlement.py [--n N]

The database is migrated first. Each run generates its own pooling area, counties, hospitals,
people, claims and decisions (COPY) under a fresh code, so runs never see each other's data;
then it funds the counties and settles them one after another through
`funds.settlement.settlement_run`, its posting proposed and approved by two people
(`bench/_money.py`) — staging, statements, one ledger entry per statement, claims marked
settled — and checks that the ledger paid exactly the decided total. Target: under 60 s
for the settlement. The last line printed is one JSON object.
"""

import argparse
import datetime as dt
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
YEAR, MONTH = 2024, 5


def generate(n: int, token: str, seed: int = 11) -> tuple[list, Decimal]:
    from django.db import connection

    from beneficiaries.models import County, Person, PoolingArea
    from claims.models import Claim, Decision, Hospital

    rng = random.Random(seed)
    area = PoolingArea.objects.create(
        code=f"B{token}", name=f"基准市{token}", policy_code="baoshan"
    )
    counties = County.objects.bulk_create(
        County(pooling_area=area, code=f"B{token}{i:02d}", name=f"基准县{i}")
        for i in range(COUNTIES)
    )
    hospitals = Hospital.objects.bulk_create(
        Hospital(
            code=f"B{token}H{i:03d}",
            name=f"基准医院{i}",
            level=rng.choice([1, 2, 3]),
            county=counties[i % COUNTIES],
        )
        for i in range(HOSPITALS)
    )
    people_n = max(1, n // 4)
    with connection.cursor() as cursor:
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
                    f"B{token}{i:011d}"[:18],
                    f"患者{i}",
                    "M",
                    "1960-01-01",
                    counties[i % COUNTIES].pk,
                    "resident",
                    "",
                    "2024-01-01T00:00:00+08",
                    "2024-01-01T00:00:00+08",
                )
                for i in range(people_n)
            ),
        )
        cursor.execute(
            f"SELECT id FROM {Person._meta.db_table} WHERE id_number LIKE %s ORDER BY id",
            [f"B{token}%"],
        )
        people = [row[0] for row in cursor.fetchall()]
        claim_rows, totals = [], []
        for i in range(n):
            person_index = i % people_n
            county = counties[person_index % COUNTIES]
            hospital = hospitals[rng.randrange(HOSPITALS)]
            direct = rng.random() < 0.9
            day = dt.date(YEAR, MONTH, 1 + rng.randrange(31))
            total = Decimal(rng.randrange(1000, 2_000_000)) / 100
            totals.append(total)
            claim_rows.append(
                (
                    people[person_index],
                    county.pk,
                    hospital.pk,
                    "declaration" if direct else "application",
                    f"B{token}-{i}",
                    "inpatient",
                    (day - dt.timedelta(days=3)).isoformat(),
                    day.isoformat(),
                    "t",
                    "f",
                    "f",
                    "f",
                    "direct" if direct else "application",
                    "10000.00",
                    "8000.00",
                    "0",
                    "4000.00",
                    "0",
                    "0",
                    str(total) if direct else None,
                    "",
                    "accepted",
                    "",
                    "",
                    "2024-06-01T00:00:00+08",
                    "2024-06-01T00:00:00+08",
                )
            )
        insert_rows(
            Claim._meta.db_table,
            CLAIM_SEED_COLUMNS,
            claim_rows,
        )
        cursor.execute("CREATE TEMP TABLE bench_totals (external_ref text, total numeric)")
        insert_rows(
            "bench_totals",
            ["external_ref", "total"],
            ((f"B{token}-{i}", str(t)) for i, t in enumerate(totals)),
        )
        cursor.execute(
            f"""
            INSERT INTO {Decision._meta.db_table} (claim_id, is_current, eligible, reason,
                identity, policy_code, policy_version, parameters_hash, policy_self_pay,
                deductible_applied, ratio, assistance, tilted_assistance, total, trace,
                decided_at)
            SELECT c.id, true, true, '', 'dibao', 'baoshan', '2023', 'bench', 4000, 0, 0.7,
                t.total, 0, t.total, '[]', '2024-05-31T20:00:00+08'
            FROM {Claim._meta.db_table} c JOIN bench_totals t ON t.external_ref = c.external_ref
            """
        )
        cursor.execute("DROP TABLE bench_totals")
        cursor.execute(
            f"SELECT COALESCE(SUM(d.total), 0) FROM {Decision._meta.db_table} d "
            f"JOIN {Claim._meta.db_table} c ON c.id = d.claim_id WHERE c.external_ref LIKE %s",
            [f"B{token}-%"],
        )
        expected = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    return area, counties, expected


def fund(area, counties) -> None:
    from funds import services
    from funds.models import AccountKind, EntryKind, FundSource

    services.accounts_open_for_area(pooling_area=area, opened_on=dt.date(YEAR, 1, 1))
    city = services.account_open(kind=AccountKind.FISCAL, pooling_area=area)
    city_exp = services.account_open(kind=AccountKind.EXPENDITURE, pooling_area=area)
    amount = Decimal("500000000.00")
    day = dt.date(YEAR, 1, 10)
    services.receipt_post(
        account=city,
        source=FundSource.CENTRAL_PROVINCIAL,
        amount=amount * len(counties),
        date=day,
        document_ref="基准-中央省级补助",
    )
    services.transfer_post(
        kind=EntryKind.TRANSFER,
        from_account=city,
        to_account=city_exp,
        amount=amount * len(counties),
        date=day,
        document_ref="基准-专户拨付",
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
            document_ref=f"基准-下拨{county.code}",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("bench/settlement.py needs PostgreSQL: set DATABASE_URL")
    call_command("migrate", verbosity=0)

    from bench._money import settle
    from funds.models import Posting, SettlementRun

    token = f"{int(time.time()) % 100000:05d}"
    t0 = time.perf_counter()
    area, counties, expected = generate(args.n, token)
    fund(area, counties)
    setup_s = time.perf_counter() - t0
    print(f"生成 {args.n} 笔救助明细（{COUNTIES} 个区县、{HOSPITALS} 家医院）：{setup_s:.1f} 秒")

    t0 = time.perf_counter()
    for county in counties:
        t = time.perf_counter()
        run = settle(county=county, year=YEAR, month=MONTH)
        print(
            f"  {county.name}：{run.statements.count()} 张结算单，{time.perf_counter() - t:.2f} 秒"
        )
    seconds = time.perf_counter() - t0

    paid = -sum(
        (
            p.amount
            for p in Posting.objects.filter(
                entry__settlement_statement__run__county__in=counties,
                account__kind="expenditure",
            )
        ),
        Decimal(0),
    )
    runs = SettlementRun.objects.filter(county__in=counties)
    assert all(r.status == "succeeded" for r in runs), "a run did not succeed"
    assert paid == expected, f"ledger paid {paid}, decisions total {expected}"
    t1 = time.perf_counter()
    for county in counties:
        settle(county=county, year=YEAR, month=MONTH)
    again = time.perf_counter() - t1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"结算 {args.n} 笔：{seconds:.1f} 秒（目标 60 秒内）；支付合计 {paid} 元，与决定合计一致")
    print(f"已结算月份再次执行（不变）：{again:.2f} 秒")
    print(
        json.dumps(
            {
                "bench": "settlement",
                "n": args.n,
                "counties": COUNTIES,
                "hospitals": HOSPITALS,
                "per_s": round(args.n / seconds),
                "seconds": round(seconds, 2),
                "rerun_seconds": round(again, 2),
                "setup_seconds": round(setup_s, 1),
                "paid": str(paid),
                "peak_mb": round(peak_mb),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
