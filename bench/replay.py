"""Replay benchmark on PostgreSQL (a database of its own: it empties the claims and people
tables first).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_replay_bench \\
        .venv/bin/python bench/replay.py [--n 200000] [--claims 1000000] [--workers 2]

Seeds CLAIMS claims of N people in one pooling area's year (bench/claims.py's generators and
COPY setup), then replays the year under a draft that lowers one cap (低保 annual cap 60 000 →
30 000) and raises one ratio (低保 inpatient 70 % → 75 %), every partition deciding its people's
year twice (current rules, current + draft) in a pool of worker processes, as the Celery
workers run `claims.tasks.replay_partition`. Targets: under 60 s, under 500 MB per process,
no decision written. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

from django.core.management import call_command
from django.db import connection, connections

from bench.claims import YEAR, peak_mb, reset, seed_more_claims, seed_people
from claims.models import Decision, ReplayRun
from claims.replay import services

DRAFT = [
    {
        "parameter": "annual_cap.all.dibao",
        "start": f"{YEAR}-01-01",
        "value": "30000",
        "ref": "基准测试 草案：低保年度救助限额",
        "key": "草案1",
    },
    {
        "parameter": "ratio.dibao.inpatient",
        "start": f"{YEAR}-01-01",
        "value": "0.75",
        "ref": "基准测试 草案：低保住院救助比例",
        "key": "草案2",
    },
]


def log(message: str) -> None:
    print(f"{message}  [load {os.getloadavg()[0]:.1f}]", flush=True)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _run(args):
    replay_id, number = args
    services.replay_partition(replay_id=replay_id, number=number)
    connections.close_all()
    return number


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000, help="people")
    parser.add_argument("--claims", type=int, default=1_000_000, help="claims of the year")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/replay.py runs on PostgreSQL: set DATABASE_URL")
    rng = random.Random(20240601)
    call_command("migrate", verbosity=0)
    reset()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE claims_replaychange, claims_replaypartition, claims_replayrun")
    t = time.perf_counter()
    county, _hospital, other, first, _identities = seed_people(args.n, rng)
    # seed_more_claims seeds (total − n) claims with a stored decision each.
    seed_more_claims(args.claims + args.n, args.n, first, county, other, rng)
    log(f"seeded {args.claims} claims of {args.n} people in {time.perf_counter() - t:.1f}s")
    decisions = Decision.objects.count()

    load_before = os.getloadavg()
    cpu_before = _cpu_seconds()
    t0 = time.perf_counter()
    # In-process task sending would run the partitions here one by one: prepare without
    # sending (no broker, no eager run), then give the partitions to the pool.
    replay = services.replay_start(
        pooling_area=county.pooling_area,
        start=dt.date(YEAR, 1, 1),
        end=dt.date(YEAR, 12, 31),
        draft=DRAFT,
        title="基准测试",
        send=False,
    )
    services.replay_prepare(replay_id=replay.pk, send=False)
    replay.refresh_from_db()
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(args.workers, maxtasksperchild=8) as pool:
        for _ in pool.imap_unordered(_run, [(replay.pk, n) for n in range(replay.partitions)]):
            pass
    services.replay_finish(replay_id=replay.pk)
    seconds = time.perf_counter() - t0
    cpu = _cpu_seconds() - cpu_before
    replay = ReplayRun.objects.get(pk=replay.pk)
    totals = replay.results["totals"]
    written = Decision.objects.count() - decisions
    log(
        f"replay of {totals['claims']} claims of {totals['people']} people in "
        f"{replay.partitions} partitions ({args.workers} workers): {seconds:.1f}s; "
        f"current {totals['current']}, draft {totals['draft']}, "
        f"difference {totals['difference']}, people affected {totals['people_affected']}, "
        f"decisions written {written}"
    )
    figures = {
        "bench": "replay",
        "replay_seconds": round(seconds, 1),
        "claims": totals["claims"],
        "people_affected": totals["people_affected"],
        "total_difference": totals["difference"],
        "decisions_written": written,
        "workers": args.workers,
        # CPU seconds of this process and its workers over the replay: what the wall clock would
        # be on one idle core, whatever else the shared machine runs meanwhile.
        "cpu_seconds": round(cpu, 1),
        "peak_mb": peak_mb(),
        "loadavg_before": [round(x, 1) for x in load_before],
        "loadavg_after": [round(x, 1) for x in os.getloadavg()],
        "targets_met": seconds < 60 and peak_mb() < 500 and written == 0,
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
