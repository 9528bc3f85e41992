"""Benchmark: a fund account's page (账户明细, issue #15 item 5) for an account with 100,000
vouchers on PostgreSQL: the year's months, a busy month's first and last page of vouchers with
their running balance, and the month filtered by one counterparty.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid \
        .venv/bin/python bench/account_statement.py

The data lives in a database of its own, `<the DATABASE_URL's name>_account_statement`
(created when missing), seeded with COPY the first time and reused while its marker says the
same size (`--reseed` forces it): one county expenditure account paying hospitals and the city
account over five years. Each page is fetched once to warm up, then `--repeat` times; a page's
figure is its median. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

MARKER = "bench_account_statement_marker"
YEARS = (2022, 2023, 2024, 2025, 2026)


from bench._common import median_ms, own_database  # noqa: E402

DATABASE = own_database("account_statement")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from medaid.core.bulk import insert_rows  # noqa: E402


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def seeded(n: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {MARKER} (entries bigint)")
        cursor.execute(f"SELECT entries FROM {MARKER}")
        row = cursor.fetchone()
    return bool(row) and row[0] == n


def seed(n: int):
    from beneficiaries.models import County, PoolingArea
    from claims.models import Hospital
    from funds import services
    from funds.models import Account, AccountKind, Entry, Posting

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {MARKER}")
        cursor.execute("TRUNCATE funds_posting, funds_entry RESTART IDENTITY CASCADE")
        # Fixtures only: the balance and immutability triggers are for the timed work.
        cursor.execute("SET session_replication_role = replica")
    area, _ = PoolingArea.objects.get_or_create(
        code="539800", defaults={"name": "账户基准市", "policy_code": "baoshan"}
    )
    county, _ = County.objects.get_or_create(
        code="539801", defaults={"pooling_area": area, "name": "账户基准县"}
    )
    if not Account.objects.filter(pooling_area=area).exists():
        services.accounts_open_for_area(pooling_area=area, opened_on=dt.date(2022, 1, 1))
    exp = Account.objects.get(county=county, kind=AccountKind.EXPENDITURE)
    city = Account.objects.get(pooling_area=area, county=None, kind=AccountKind.EXPENDITURE)
    hospitals = [
        services.account_open(
            kind=AccountKind.HOSPITAL,
            pooling_area=area,
            county=county,
            hospital=Hospital.objects.get_or_create(
                code=f"AS{h:02d}", defaults={"name": f"基准医院{h}", "level": 2, "county": county}
            )[0],
        )
        for h in range(5)
    ]
    days = [dt.date(y, m, d) for y in YEARS for m in range(1, 13) for d in (1, 8, 15, 22, 28)]
    now = timezone.now()

    def entries():
        for k in range(n):
            day = days[k * len(days) // n]
            kind = "disbursement" if k % 10 == 0 else "hospital_payment"
            yield (kind, "", area.pk, county.pk, day, f"AS-{k:07d}", "", "", now)

    insert_rows(
        Entry._meta.db_table,
        [
            "kind",
            "source",
            "pooling_area_id",
            "county_id",
            "date",
            "document_ref",
            "related_ref",
            "memo",
            "created_at",
        ],
        entries(),
    )
    first = Entry.objects.order_by("id").values_list("id", flat=True)[0]

    def postings():
        for k in range(n):
            # Every tenth voucher brings money down from the city; the rest pay a hospital.
            amount = (
                Decimal(900 + k % 7) if k % 10 == 0 else -Decimal(f"{k % 97 + 1}.{k % 100:02d}")
            )
            other = city if k % 10 == 0 else hospitals[k % 5]
            day = days[k * len(days) // n]
            yield (first + k, exp.pk, amount, day)
            yield (first + k, other.pk, -amount, day)

    # Written by hand: the trigger that copies the entry's date is off while seeding.
    insert_rows(Posting._meta.db_table, ["entry_id", "account_id", "amount", "date"], postings())
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(f"INSERT INTO {MARKER} VALUES (%s)", [n])
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        for table in ("funds_entry", "funds_posting"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"seeded {n:,} vouchers in {time.perf_counter() - started:.1f}s  [{load()}]")
    return exp, hospitals[0]


def timed(client: Client, url: str, repeat: int) -> float:
    return median_ms(client, url, repeat)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="vouchers (default 100,000)")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    call_command("migrate", verbosity=0, interactive=False)
    from funds.models import Account, AccountKind
    from medaid.core.services import staff_user_create

    if args.reseed or not seeded(args.n):
        seed(args.n)
    else:
        print(f"reusing {args.n:,} vouchers in {DATABASE}")
    exp = Account.objects.get(county__code="539801", kind=AccountKind.EXPENDITURE)
    hospital = Account.objects.filter(kind=AccountKind.HOSPITAL, county__code="539801").first()
    from beneficiaries.models import County
    from medaid.core.models import User

    user = User.objects.filter(username="bench_finance").first() or staff_user_create(
        username="bench_finance",
        password="bench-only-2026",
        role_key="finance",
        county=County.objects.get(code="539801"),
    )
    client = Client()
    client.force_login(user)
    base = f"/admin/funds/account/{exp.pk}/statement/"
    month = "year=2024&month=6"
    per_page = 50
    in_month = exp.postings.filter(entry__date__year=2024, entry__date__month=6).count()
    last = max(1, -(-in_month // per_page))
    figures = {
        "default": timed(client, base, args.repeat),
        "month_p1": timed(client, f"{base}?{month}", args.repeat),
        f"month_last(p{last})": timed(client, f"{base}?{month}&p={last}", args.repeat),
        "month_counterparty": timed(
            client, f"{base}?{month}&counterparty={hospital.pk}", args.repeat
        ),
    }
    for name, ms in figures.items():
        print(f"{name}: {ms:.0f} ms  [{load()}]")
    worst = max(figures.values())
    print(f"account_statement_ms {worst:.0f}  ({args.n:,} vouchers, {in_month:,} in the month)")
    print(
        json.dumps(
            {
                "bench": "account_statement",
                "entries": args.n,
                "entries_in_month": in_month,
                "account_statement_ms": round(worst, 1),
                "pages": {k: round(v, 1) for k, v in figures.items()},
                "loadavg": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
