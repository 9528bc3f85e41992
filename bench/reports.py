"""Benchmark: the claims register (救助明细台账) of 1,000,000 claims, and the admin's claims list
filtered by county and month, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_people .venv/bin/python bench/reports.py

Targets (issue #7): the register in under 60 s and 300 MB; the filtered admin list in under
300 ms. The data is seeded with set-based SQL (generate_series) the first time and reused while
its size matches (`--reseed` forces it). The export runs in a forked child so that its peak RSS
is its own (it includes the interpreter and Django, so it is an upper bound). The last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402

from bench._common import median_ms  # noqa: E402

COUNTIES = 10
HOSPITALS_PER_COUNTY = 5
YEAR = 2024


def column_defaults(model, given: dict[str, str]) -> tuple[list[str], list[str], list]:
    """Columns, SQL expressions and parameters for an INSERT … SELECT into `model`'s table:
    the expressions in `given` (by column), NULL or the field's default for every other column,
    so that fields an app adds later do not break the bench."""
    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in given:
            expressions.append(given[field.column])
        elif field.null:
            expressions.append("NULL")
        else:
            expressions.append("%s")
            default = field.get_default() if field.has_default() else ""
            params.append(field.get_db_prep_save(default, connection))
    return columns, expressions, params


def insert_select(model, given: dict[str, str], from_sql: str, params: tuple = ()) -> None:
    columns, expressions, defaults = column_defaults(model, given)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} {from_sql}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*defaults, *params])


def seed(n: int, people: int) -> None:
    from beneficiaries.models import County, Person, PoolingArea
    from claims.models import Claim, Decision, Hospital

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE claims_decision, claims_claim, beneficiaries_person RESTART IDENTITY CASCADE"
        )
        # Synthetic rows for this bench's own database: the audit triggers (one history row per
        # person) and FK checks would make seeding, not the export being measured, the slow part.
        cursor.execute("SET session_replication_role = replica")
    area, _ = PoolingArea.objects.get_or_create(
        code="539900", defaults={"name": "测试市", "policy_code": "baoshan"}
    )
    counties = [
        County.objects.get_or_create(
            code=f"5399{i + 1:02d}", defaults={"pooling_area": area, "name": f"测试{i + 1}县"}
        )[0]
        for i in range(COUNTIES)
    ]
    for c_index, county in enumerate(counties):
        for h in range(HOSPITALS_PER_COUNTY):
            Hospital.objects.get_or_create(
                code=f"BH{c_index:02d}{h:02d}",
                defaults={
                    "name": f"{county.name}第{h + 1}医院",
                    "level": 1 + h % 3,
                    "county": county,
                },
            )
    county_ids = [c.pk for c in counties]
    hospital_ids = list(Hospital.objects.filter(code__startswith="BH").values_list("pk", flat=True))
    county_array = "ARRAY[" + ",".join(str(c) for c in county_ids) + "]::bigint[]"
    hospital_array = "ARRAY[" + ",".join(str(h) for h in hospital_ids) + "]::bigint[]"
    with transaction.atomic():
        insert_select(
            Person,
            {
                "id_number": "'5399' || lpad(g::text, 10, '0') || '1234'",
                "name": "'测试' || g::text",
                "sex": "CASE WHEN mod(g, 2) = 0 THEN 'M' ELSE 'F' END",
                "birth_date": "DATE '1950-01-01' + mod(g, 20000)",
                "county_id": f"({county_array})[1 + mod(g, {COUNTIES})]",
                "created_at": "now()",
                "updated_at": "now()",
            },
            "FROM generate_series(1, %s) AS g",
            (people,),
        )
    person_min = Person.objects.order_by("pk").values_list("pk", flat=True).first()
    # Claim g belongs to person mod(g, people): the claim's county is that person's county.
    p = f"mod(g, {people})"
    with transaction.atomic():
        insert_select(
            Claim,
            {
                "person_id": f"{person_min} + {p}",
                "county_id": f"({county_array})[1 + mod(1 + {p}, {COUNTIES})]",
                "hospital_id": f"({hospital_array})[1 + mod(g, {len(hospital_ids)})]",
                "source": "'declaration'",
                "external_ref": "'B' || g::text",
                "kind": "'inpatient'",
                "admitted": f"DATE '{YEAR}-01-01' + mod(g, 360)",
                "discharged": f"DATE '{YEAR}-01-01' + mod(g, 360) + mod(g, 5)",
                "total_cost": "(1000 + mod(g, 50000))::numeric(14,2) + 0.37",
                "in_policy_cost": "(800 + mod(g, 40000))::numeric(14,2) + 0.25",
                "basic_insurance_paid": "((800 + mod(g, 40000)) * 0.6)::numeric(14,2)",
                "receipt_numbers": "'R' || g::text",
                "status": "'accepted'",
                "created_at": "now()",
                "updated_at": "now()",
            },
            "FROM generate_series(1, %s) AS g",
            (n,),
        )
        insert_select(
            Decision,
            {
                "claim_id": "c.id",
                "is_current": "true",
                "eligible": "true",
                "reason": "''",
                "identity": "'dibao'",
                "policy_code": "'baoshan'",
                "policy_version": "'2022-05-01'",
                "parameters_hash": "'bench'",
                "policy_self_pay": "c.in_policy_cost - c.basic_insurance_paid",
                "deductible_applied": "0",
                "ratio": "0.70",
                "assistance": "round((c.in_policy_cost - c.basic_insurance_paid) * 0.7, 2)",
                "tilted_assistance": "0",
                "total": "round((c.in_policy_cost - c.basic_insurance_paid) * 0.7, 2)",
                "trace": "'[]'::jsonb",
                "decided_at": "now()",
            },
            "FROM claims_claim c",
        )
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE beneficiaries_person, claims_claim, claims_decision")
    print(f"seeded {people:,} people and {n:,} claims in {time.perf_counter() - started:.1f}s")


def export_in_child(user_id: int) -> tuple[float, float, int, str]:
    """Run the claims register export in a forked child; (seconds, peak MB, rows, file)."""
    out = Path(tempfile.mkdtemp(prefix="bench-reports-")) / "register.xlsx"
    result_path = out.with_suffix(".json")
    connections.close_all()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            from medaid.core.models import User

            user = User.objects.get(pk=user_id)
            started = time.perf_counter()
            rows = run_register(user, out)
            seconds = time.perf_counter() - started
            result_path.write_text(json.dumps({"seconds": seconds, "rows": rows}))
        except BaseException as exc:
            result_path.write_text(json.dumps({"error": repr(exc)}))
            code = 1
        finally:
            os._exit(code)
    os.waitpid(pid, 0)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = json.loads(result_path.read_text())
    if "error" in result:
        raise SystemExit(f"export failed: {result['error']}")
    return result["seconds"], peak_mb, result["rows"], str(out)


def run_register(user, target: Path) -> int:
    """The claims register the way finance runs it: the registered report job when the claims
    app has registered one, else its export function."""
    from medaid.core.reports import REPORTS

    if "claims_register" in REPORTS:
        from medaid.core.jobs import job_create
        from medaid.core.reports import report_job_run

        job = job_create(
            kind="report.claims_register",
            parameters={"report": "claims_register", "year": YEAR},
            created_by=user,
        )
        job = report_job_run(job_id=job.pk)
        Path(job.result_file.path).replace(target)
        return int(job.result["rows"])
    from claims.exports import claims_register_file

    return claims_register_file(user=user, target=str(target))


def admin_list_timings(user, county_id: int, month: str, repeat: int) -> dict[str, float]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    urls = {
        "county_month": f"/admin/claims/claim/?county={county_id}&month={month}",
        "county_month_page_2": f"/admin/claims/claim/?county={county_id}&month={month}&p=2",
        "unfiltered": "/admin/claims/claim/",
    }
    timings = {}
    for name, url in urls.items():
        timings[name] = round(median_ms(client, url, repeat)[0], 1)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="claims (default 1,000,000)")
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("bench/reports.py needs PostgreSQL: set DATABASE_URL")

    from claims.models import Claim
    from medaid.core.models import User

    call_command("migrate", verbosity=0, interactive=False)
    if args.reseed or Claim.objects.count() != args.n:
        seed(args.n, args.people)
    user, _ = User.objects.get_or_create(
        username="bench-finance", defaults={"is_staff": True, "is_superuser": True}
    )

    seconds, peak_mb, rows, path = export_in_child(user.pk)
    size_mb = os.path.getsize(path) / 1024 / 1024
    print(
        f"claims register: {rows:,} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s), "
        f"peak RSS {peak_mb:.0f} MB, file {size_mb:.0f} MB  [target < 60 s, < 300 MB]"
    )
    county_id = Claim.objects.values_list("county_id", flat=True).first()
    timings = admin_list_timings(user, county_id, f"{YEAR}-03", args.repeat)
    for name, ms in timings.items():
        print(f"admin claims list {name}: {ms:.0f} ms (median of {args.repeat})  [target < 300 ms]")
    print(
        json.dumps(
            {
                "bench": "reports",
                "n": rows,
                "per_s": round(rows / seconds),
                "seconds": round(seconds, 2),
                "peak_mb": round(peak_mb),
                "file_mb": round(size_mb, 1),
                "admin_list_ms": timings,
            }
        )
    )


if __name__ == "__main__":
    main()
