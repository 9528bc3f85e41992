"""Platform settlement-list benchmark on PostgreSQL (a database of its own: it empties the claims
and people tables first).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_platform_bench \\
        .venv/bin/python bench/platform_import.py [--n 200000] [--workers 2]

A platform .csv of N records (1 % reversals, 0.5 % computed under a wrong identity) from the
fixtures generator is imported through the COPY staging, checked, merged and decided by the
declaration's runs, and compared with maf_pay (which fills the mismatch report's rows); the
report is then read once. Target: under 60 s and 500 MB. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.core.management import call_command
from django.db import connection

from bench.backdate import uptime
from bench.claims import execute_parallel, log, peak_mb, reset, seed_people
from beneficiaries.models import Person
from claims import services as claims_services
from claims.models import Hospital
from claims.platform import fixtures, selectors, services
from claims.platform.models import PlatformSettlement

YEAR, MONTH = 2024, 6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000, help="people, and records")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/platform_import.py runs on PostgreSQL: set DATABASE_URL")
    rng = random.Random(20240601)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE claims_platformsettlement, claims_platformsettlementevent, "
            "claims_platformline RESTART IDENTITY CASCADE"
        )
    reset()
    t = time.perf_counter()
    county, _, _, _, _ = seed_people(args.n, rng)
    log(f"seeded {args.n} people in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    path = Path(tempfile.mkdtemp()) / "settlements.csv"
    counts: dict = {}
    records = fixtures.settlement_records(
        policy_code="pingshun",
        insured=fixtures.insured_from_db(Person.objects.filter(county=county)),
        facilities=fixtures.facilities_from_db(Hospital.objects.filter(county=county)),
        year=YEAR,
        month=MONTH,
        n=args.n,
        area="140429",
        rng=rng,
        reversals=0.01,
        wrong_identity=0.005,
        counts=counts,
    )
    fixtures.write_csv(path, records)
    log(f"wrote {counts} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s")

    t0 = time.perf_counter()
    # As production runs it: the upload stages the file, one task checks and merges it and
    # stages its runs, and the runs' partitions (by person) are decided by `workers` processes;
    # the last partition of the last run compares with maf_pay.
    declaration = services.platform_upload(
        path=path, file_name=path.name, year=YEAR, month=MONTH, process=False
    )
    t_staged = time.perf_counter()
    runs = claims_services.declaration_prepare(declaration_id=declaration.pk)
    t_prepared = time.perf_counter()
    for run in runs:
        execute_parallel(run, args.workers)
    t_decided = time.perf_counter()
    report = selectors.mismatch_report(PlatformSettlement.objects.all())
    seconds = time.perf_counter() - t0
    log(
        f"staged {t_staged - t0:.1f}s, checked+merged {t_prepared - t_staged:.1f}s, "
        f"decided+compared {t_decided - t_prepared:.1f}s ({len(runs)} runs, {args.workers} "
        f"workers), report {time.perf_counter() - t_decided:.1f}s; {uptime()}"
    )
    declaration.refresh_from_db()
    settlements = PlatformSettlement.objects.filter(declaration=declaration)
    mismatches = settlements.filter(outcome=PlatformSettlement.Outcome.MISMATCH).count()
    # The reversal lines applied (their originals in the file carry "已被…冲销").
    reversed_lines = declaration.lines.filter(
        error="reversal", error_detail__startswith="冲销"
    ).count()
    log(
        f"{declaration}: {declaration.get_status_display()}, lines {declaration.lines_total}, "
        f"accepted {declaration.claims_accepted}, review {declaration.claims_review}, "
        f"refused {declaration.lines_refused}; report rows {len(report)}"
    )
    figures = {
        "bench": "platform_import",
        "records": declaration.lines_total,
        "import_seconds": round(seconds, 1),
        "mismatches": mismatches,
        "reversed": reversed_lines,
        "peak_mb": peak_mb(),
        "workers": args.workers,
        "load": uptime(),
        "targets_met": seconds < 60 and peak_mb() < 500,
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
