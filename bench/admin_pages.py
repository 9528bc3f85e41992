"""Benchmark: the admin's claims and people lists at 1,000,000 claims and 200,000 people on
PostgreSQL, as a county clerk and as a city-level user sees them (issue #15, "Speed").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid .venv/bin/python bench/admin_pages.py

The data lives in a database of its own, `<the DATABASE_URL's name>_admin_pages` on the same
server (created when missing), seeded with COPY the first time (people in blocks by county, as
rosters arrive; claims in month order, as declarations arrive, so ids follow discharge dates)
and reused while its marker row says the same sizes (`--reseed` forces it). Each page is
fetched through the Django test Client once to warm up and then `--repeat` times; the figure of
a page is its median, and `claims_list_ms` / `people_list_ms` / `person_search_ms` are the worst
page of each kind. Target: every one under 300 ms. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

COUNTIES = 10
HOSPITALS_PER_COUNTY = 5
YEAR = 2024
MARKER = "bench_admin_pages_marker"


from bench._common import CLAIM_SEED_COLUMNS, median_ms, own_database  # noqa: E402

DATABASE = own_database("admin_pages")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.claims import (  # noqa: E402
    IDENTITIES,
    birth_date,
    claim_seed_row,
    id_number,
    person_name,
    stay,
)
from medaid.core.bulk import insert_rows  # noqa: E402


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def seeded_sizes() -> tuple[int, int] | None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {MARKER} (claims bigint, people bigint)")
        cursor.execute(f"SELECT claims, people FROM {MARKER}")
        row = cursor.fetchone()
    return tuple(row) if row else None


def seed(n: int, people: int) -> float:
    from beneficiaries.models import County, Identity, Person, PoolingArea
    from claims.models import Claim, Hospital

    started = time.perf_counter()
    rng = random.Random(15)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {MARKER}")
        cursor.execute(
            "TRUNCATE claims_adjustment, claims_decision, claims_decisionevent, claims_claim, "
            "claims_claimevent, beneficiaries_identity, beneficiaries_identityevent, "
            "beneficiaries_person, beneficiaries_personevent RESTART IDENTITY CASCADE"
        )
        # Fixtures only: the audit triggers and FK checks are for the timed work.
        cursor.execute("SET session_replication_role = replica")
    area, _ = PoolingArea.objects.get_or_create(
        code="539900", defaults={"name": "基准测试市", "policy_code": "baoshan"}
    )
    counties = [
        County.objects.get_or_create(
            code=f"5399{i + 1:02d}", defaults={"pooling_area": area, "name": f"基准{i + 1}县"}
        )[0]
        for i in range(COUNTIES)
    ]
    hospitals = []
    for c_index, county in enumerate(counties):
        for h in range(HOSPITALS_PER_COUNTY):
            hospitals.append(
                Hospital.objects.get_or_create(
                    code=f"AP{c_index:02d}{h:02d}",
                    defaults={
                        "name": f"{county.name}第{h + 1}人民医院",
                        "level": 1 + h % 3,
                        "county": county,
                    },
                )[0]
            )
    now = timezone.now()
    per_county = people // COUNTIES
    # People arrive county by county (a roster is one county's): ids run in blocks by county.
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
                id_number(k),
                person_name(k),
                "M",
                birth_date(k),
                counties[min(k // per_county, COUNTIES - 1)].pk,
                "resident",
                "",
                now,
                now,
            )
            for k in range(people)
        ),
    )
    first = Person.objects.order_by("id").values_list("id", flat=True)[0]
    insert_rows(
        Identity._meta.db_table,
        ["person_id", "code", "start", "end", "source_line", "created_at"],
        (
            (first + k, IDENTITIES[k % len(IDENTITIES)], dt.date(2023, 1, 1), None, "", now)
            for k in range(people)
        ),
    )
    print(f"  people and identities: {time.perf_counter() - started:.1f}s  [{load()}]")
    per_month = n // 12

    def rows():
        # Claims arrive month by month (a declaration is one hospital's month): ids follow
        # discharge dates, the correlation that made a deep page of a filtered list slow.
        for g in range(n):
            month = min(1 + g // per_month, 12)
            k = (g * 7919) % people
            county_index = min(k // per_county, COUNTIES - 1)
            hospital = hospitals[county_index * HOSPITALS_PER_COUNTY + g % HOSPITALS_PER_COUNTY]
            s = stay(rng, dt.date(YEAR, month, 1 + g % 28))
            yield claim_seed_row(
                first + k,
                counties[county_index].pk,
                hospital.pk,
                f"A{g:08d}",
                s,
                "accepted",
                now,
            )

    insert_rows(Claim._meta.db_table, CLAIM_SEED_COLUMNS, rows())
    print(f"  claims: {time.perf_counter() - started:.1f}s  [{load()}]")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO claims_decision (claim_id, is_current, eligible, reason, identity, "
            "policy_code, policy_version, parameters_hash, policy_self_pay, deductible_applied, "
            "ratio, assistance, tilted_assistance, total, trace, decided_at) "
            "SELECT id, true, true, '', 'dibao', 'baoshan', '2022-05-01', 'bench', "
            "in_policy_cost - basic_insurance_paid, 0, 0.7, "
            "round((in_policy_cost - basic_insurance_paid) * 0.7, 2), 0, "
            "round((in_policy_cost - basic_insurance_paid) * 0.7, 2), '[]'::jsonb, now() "
            "FROM claims_claim"
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute(f"INSERT INTO {MARKER} VALUES (%s, %s)", [n, people])
    # What autovacuum does on a live system: statistics, and the visibility map that lets a
    # deep page's ids come from an index-only scan.
    connection.ensure_connection()
    old_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        for table in ("beneficiaries_person", "beneficiaries_identity", "claims_claim"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("VACUUM ANALYZE claims_decision")
    connection.set_autocommit(old_autocommit)
    seconds = time.perf_counter() - started
    print(f"seeded {people:,} people and {n:,} claims in {seconds:.1f}s  [{load()}]")
    return seconds


def users():
    from beneficiaries.models import County
    from medaid.core.services import staff_user_create

    county = County.objects.filter(code="539903").get()
    clerk = staff_user_create(
        username="bench_clerk", password="bench-only-2026", role_key="counter_clerk", county=county
    )
    city = staff_user_create(
        username="bench_city", password="bench-only-2026", role_key="city_administrator"
    )
    return county, clerk, city


def last_page(html: str) -> int:
    pages = [int(p) for p in re.findall(r"[?&;]p=(\d+)", html)]
    return max(pages, default=1)


def timed(client: Client, url: str, repeat: int) -> tuple[float, str]:
    ms, response = median_ms(client, url, repeat)
    html = response.content.decode()
    if "?e=1" in response.get("Location", "") or "errornote" in html:
        raise SystemExit(f"{url} shows an error")
    return ms, html


def list_pages(client: Client, base: str, query: str, repeat: int) -> dict[str, float]:
    """First, second and last page of one list (the last as its pagination links it)."""
    sep = "&" if query else ""
    first, html = timed(client, f"{base}?{query}", repeat)
    second, _ = timed(client, f"{base}?{query}{sep}p=2", repeat)
    last = last_page(html)
    final, _ = timed(client, f"{base}?{query}{sep}p={last}", repeat)
    return {"p1": round(first, 1), "p2": round(second, 1), f"last(p{last})": round(final, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="claims (default 1,000,000)")
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    call_command("migrate", verbosity=0, interactive=False)
    setup_s = 0.0
    if args.reseed or seeded_sizes() != (args.n, args.people):
        setup_s = seed(args.n, args.people)
    else:
        print(f"reusing {args.people:,} people and {args.n:,} claims in {DATABASE}")
    county, clerk, city = users()
    month = f"{YEAR}-03"
    from beneficiaries.models import Person

    sample = Person.objects.filter(county=county).order_by("id")[1234]
    figures: dict[str, dict[str, float]] = {}
    for who, user in (("clerk", clerk), ("city", city)):
        client = Client()
        client.force_login(user)
        claims_lists = {"all": "", "month": f"month={month}"}
        people_lists = {"all": ""}
        if who == "city":
            claims_lists["county"] = f"county={county.pk}"
            claims_lists["county_month"] = f"county={county.pk}&month={month}"
            people_lists["county"] = f"county__id__exact={county.pk}"
        for name, query in claims_lists.items():
            figures[f"claims {who} {name}"] = list_pages(
                client, "/admin/claims/claim/", query, args.repeat
            )
        for name, query in people_lists.items():
            figures[f"people {who} {name}"] = list_pages(
                client, "/admin/beneficiaries/person/", query, args.repeat
            )
        for digits in (6, 4):
            ms, html = timed(
                client,
                f"/admin/beneficiaries/person/?q={sample.id_number[-digits:]}",
                args.repeat,
            )
            # The seeded numbers share their last 4 widely: only the last 6 must find them here.
            if digits == 6 and sample.name not in html:
                raise SystemExit(f"search by the last {digits} digits did not find the person")
            figures[f"person search {who} last{digits}"] = {"q": round(ms, 1)}
        ms, html = timed(client, f"/admin/beneficiaries/person/?q={sample.name}", args.repeat)
        figures[f"person search {who} name"] = {"q": round(ms, 1)}
    for name, pages in figures.items():
        shown = ", ".join(f"{page} {ms:.0f} ms" for page, ms in pages.items())
        print(f"{name}: {shown}  [{load()}]")

    def worst(prefix: str) -> float:
        return max(
            ms
            for name, pages in figures.items()
            if name.startswith(prefix)
            for ms in pages.values()
        )

    claims_ms, people_ms = worst("claims "), worst("people ")
    search_ms = max(v["q"] for k, v in figures.items() if "last6" in k)
    print(f"claims_list_ms {claims_ms:.0f}  [target < 300]  [{load()}]")
    print(f"people_list_ms {people_ms:.0f}  [target < 300]")
    print(f"person_search_ms {search_ms:.0f}  (last 6 digits)  [target < 300]")
    print(
        json.dumps(
            {
                "bench": "admin_pages",
                "claims": args.n,
                "people": args.people,
                "setup_s": round(setup_s, 1),
                "claims_list_ms": round(claims_ms, 1),
                "people_list_ms": round(people_ms, 1),
                "person_search_ms": round(search_ms, 1),
                "pages": figures,
                "loadavg": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
