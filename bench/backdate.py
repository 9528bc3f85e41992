"""Backdated identities benchmark on PostgreSQL (run it against a database of its own: it
empties the claims, people and roster tables first).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/medaid_backdate \\
        .venv/bin/python bench/backdate.py [--people 200000] [--claims 1000000] \\
        [--backdated 20000] [--workers 2]

Setup (not timed): PEOPLE people and a year of CLAIMS claims (bench/claims.py's builders),
decided by the engine under the current parameters in a whole-year run, and every claim
discharged before October settled; then a civil-affairs change feed (.csv) that backdates
BACKDATED of those people to February: 低保对象 → 特困人员 and 低保边缘 → 低保对象 from
1 February (变更), 特困人员 ended on 29 February (退出), 特困人员 or 低保对象 added from
1 February (新增) for people holding another identity.

Timed, end to end, the way production does it:
1. merge: the feed received, validated and applied (`roster_import_receive` → `_validate` →
   `_apply`); the merge emits `identity.changed` in its transaction;
2. event: the outbox dispatch task that the commit sent runs (`outbox_dispatch()`): the claims
   handler stages, for each year from February's on, the people with a claim that year and
   sends one `decide_partition` task per partition;
3. recompute: those task messages run in WORKERS parallel processes (a fork pool, as
   bench/claims.py runs its partitions), each the task's own body (`run_partition_decide`
   then `run_finish`), until the last partition is done.
There is no broker: task messages are captured where the task is sent (`Task.delay`, which
`delay_on_commit` calls after the commit) instead of running eagerly in this process, so the
dispatch runs after the merge's commit, and the partitions after the handler's, as in
production; the captured messages are the broker's queue and the pool is the Celery workers.

Checks: the people staged equal the backdated people with claims that year; every run done;
adjustments > 0; a sample of the recomputed decisions equals a fresh engine call on the
registry after the merge; the people moved from 低保 to 特困 are decided as 特困 after February.

Targets: under 60 s end to end; under 500 MB per process (peak_mb: the largest of this
process and the timed workers). The last line is one JSON object.
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
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medaid.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from bench.claims import (  # noqa: E402
    YEAR,
    execute_parallel,
    id_number,
    log,
    person_name,
    reset,
    seed_more_claims,
    seed_people,
)
from beneficiaries import services as beneficiaries  # noqa: E402
from beneficiaries.models import (  # noqa: E402
    Department,
    DepartmentKind,
    Identity,
    Person,
    RosterImport,
)
from claims import selectors, services  # noqa: E402
from claims.models import Adjustment, Claim, Decision, DecisionRun  # noqa: E402
from medaid import policy  # noqa: E402
from medaid.core.celery import app  # noqa: E402
from medaid.core.outbox import DISPATCH_TASK  # noqa: E402

PARTITION_TASK = "claims.tasks.decide_partition"
FEED_HEADERS = ["变动类型", "公民身份号码", "姓名", "身份类别", "原身份类别"]
FEED_HEADERS += ["起始日期", "终止日期"]
FEBRUARY = dt.date(YEAR, 2, 1)
END_OF_FEBRUARY = dt.date(YEAR, 3, 1) - dt.timedelta(days=1)
# What the feed says of a person, by the identity they were seeded with: (action, identity,
# old identity, start, end).
FEED_LINE = {
    "dibao": ("变更", "特困人员", "低保对象", FEBRUARY, None),
    "dibao_edge": ("变更", "低保对象", "低保边缘家庭成员", FEBRUARY, None),
    "tekun": ("退出", "特困人员", "", None, END_OF_FEBRUARY),
    "illness_poverty": ("新增", "特困人员", "", FEBRUARY, None),
    "fanpin": ("新增", "低保对象", "", FEBRUARY, None),
    "rural_monitored": ("新增", "低保对象", "", FEBRUARY, None),
}
SAMPLE = 300


def own_peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def uptime() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- setup --------------------------------------------------------------------------------


def reset_rosters() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE beneficiaries_rosterimportrow, beneficiaries_rosterimport, "
            "beneficiaries_identityevent, beneficiaries_personevent, medaid_outboxevent "
            "RESTART IDENTITY CASCADE"
        )


def decide_year(workers: int) -> None:
    """The year decided under the current parameters (the seeded decisions are an earlier
    parameter set's), then everything discharged before October settled: by the time a
    department's late feed arrives, most of the year has been paid."""
    run = services.year_recompute_start(year=YEAR, reason="基准测试：全年按现行参数计算")
    execute_parallel(run, workers)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # fixtures: no audit rows
        cursor.execute(
            "UPDATE claims_claim SET status = 'settled' WHERE status = 'accepted' "
            "AND discharged < %s",
            [dt.date(YEAR, 10, 1)],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    # The steady state the timed work meets in production: autovacuum has been by.
    with connection.cursor() as cursor:
        for table in ("claims_claim", "claims_decision", "claims_adjustment"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def pick_backdated(n: int, backdated: int, rng: random.Random) -> list[int]:
    """Which seeded people (their index k) the feed names: spread over the whole id range, so
    every partition of the recompute has its share."""
    return sorted(rng.sample(range(n), backdated))


def write_feed(path: Path, picked: list[int], first: int, identity_of: dict) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(FEED_HEADERS)
        for k in picked:
            action, code, old_code, start, end = FEED_LINE[identity_of[first + k]]
            w.writerow(
                [
                    action,
                    id_number(k),
                    person_name(k),
                    code,
                    old_code,
                    start.isoformat() if start else "",
                    end.isoformat() if end else "",
                ]
            )


# --- the timed work -----------------------------------------------------------------------


@contextmanager
def captured_tasks(names):
    """Task messages recorded as (name, args) instead of sent: the broker's queue."""
    queue: list[tuple[str, tuple]] = []

    def recorder(name):
        return lambda *args: queue.append((name, args))

    patches = [mock.patch.object(app.tasks[name], "delay", recorder(name)) for name in names]
    for patch in patches:
        patch.start()
    try:
        yield queue
    finally:
        for patch in patches:
            patch.stop()


def _worker_init() -> None:
    connections.close_all()


def _run_task(message):
    name, args = message
    t = time.perf_counter()
    app.tasks[name](*args)  # the task's body, as a Celery worker calls it
    connections.close_all()
    return args, time.perf_counter() - t, own_peak_mb()


def run_workers(messages, workers: int, started: float) -> float:
    """The captured partition tasks, in the order they were sent, by `workers` processes."""
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    peak = 0.0
    with ctx.Pool(workers, initializer=_worker_init, maxtasksperchild=8) as pool:
        for done, ((run_id, number), seconds, mb) in enumerate(
            pool.imap_unordered(_run_task, messages), start=1
        ):
            peak = max(peak, mb)
            log(
                f"  partition {number} of run {run_id} done in {seconds:.1f}s "
                f"({done}/{len(messages)}, {time.perf_counter() - started:.1f}s since receive)"
            )
    return peak


# --- checks -------------------------------------------------------------------------------


def check_sample(people: list[int]) -> int:
    """The sampled people's current decisions against a fresh engine call on the registry as
    the merge left it (identity periods read here, not through the run's selectors)."""
    periods: dict[int, list] = {pid: [] for pid in people}
    for pid, code, start, end in (
        Identity.objects.filter(person_id__in=people)
        .order_by("person_id", "start", "id")
        .values_list("person_id", "code", "start", "end")
    ):
        periods[pid].append(policy.IdentityPeriod(code=code, start=start, end=end))
    births = dict(Person.objects.filter(id__in=people).values_list("id", "birth_date"))
    current = {
        d.claim_id: d
        for d in Decision.objects.filter(
            is_current=True, claim__person_id__in=people, claim__discharged__year=YEAR
        )
    }
    compared = 0
    rows = selectors.year_claims(people=people, year=YEAR)
    for pid, group in groupby(rows, key=lambda r: r.person_id):
        group = list(group)
        person = policy.PersonFacts(identities=tuple(periods[pid]), birth_date=births[pid])
        for policy_code, claims in groupby(group, key=lambda r: r.policy_code):
            claims = list(claims)
            result = policy.decide(
                policy.Case(
                    policy=policy_code, person=person, claims=tuple(c.facts for c in claims)
                )
            )
            for row, fresh in zip(claims, result.claims, strict=True):
                stored = current[row.id]
                got = (stored.eligible, stored.identity, stored.assistance, stored.total)
                want = (fresh.eligible, fresh.identity or "", fresh.assistance, fresh.total)
                if got != want:
                    sys.exit(f"claim {row.id} of person {pid}: stored {got}, engine {want}")
                compared += 1
    return compared


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", "--n", type=int, default=200_000)
    parser.add_argument("--claims", type=int, default=1_000_000, help="claims of the year")
    parser.add_argument("--backdated", type=int, default=20_000, help="people the feed names")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/backdate.py runs on PostgreSQL: set DATABASE_URL")
    rng = random.Random(20240201)
    call_command("migrate", verbosity=0)
    reset()
    reset_rosters()

    # --- setup ----------------------------------------------------------------------------
    t = time.perf_counter()
    county, _hospital, other, first, identity_of = seed_people(args.people, rng)
    # bench/claims.py fills the year up to CLAIMS after its declaration of PEOPLE claims;
    # here there is no declaration, so all CLAIMS are seeded.
    seed_more_claims(args.claims + args.people, args.people, first, county, other, rng)
    year_claims = Claim.objects.filter(discharged__year=YEAR).count()
    log(
        f"seeded {args.people} people and {year_claims} claims in "
        f"{time.perf_counter() - t:.1f}s ({uptime()})"
    )
    t = time.perf_counter()
    decide_year(args.workers)
    settled = Claim.objects.filter(status=Claim.Status.SETTLED).count()
    log(
        f"decided the year and settled {settled} claims in {time.perf_counter() - t:.1f}s "
        f"({uptime()})"
    )
    department, _ = Department.objects.get_or_create(
        county=county, kind=DepartmentKind.CIVIL_AFFAIRS, defaults={"name": "基准测试县民政局"}
    )
    picked = pick_backdated(args.people, args.backdated, rng)
    backdated_ids = [first + k for k in picked]
    path = Path(tempfile.mkdtemp()) / "feed.csv"
    write_feed(path, picked, first, identity_of)
    with_claims = (
        Claim.objects.filter(person_id__in=backdated_ids, discharged__year=YEAR)
        .values("person_id")
        .distinct()
        .count()
    )
    before = Adjustment.objects.count()
    log(f"wrote the feed: {len(picked)} people, {with_claims} of them with claims in {YEAR}")

    # --- timed: merge, event, recompute ----------------------------------------------------
    log(f"start ({uptime()})")
    with captured_tasks([DISPATCH_TASK, PARTITION_TASK]) as queue:
        t0 = time.perf_counter()
        with open(path, "rb") as upload:
            batch, _ = beneficiaries.roster_import_receive(
                department=department,
                kind=RosterImport.Kind.FEED,
                upload=upload,
                file_name="变动名册-2024年2月.csv",
                stated_date=dt.date(YEAR, 3, 8),
                channel=RosterImport.Channel.API,
            )
        beneficiaries.roster_import_validate(batch=batch, preview=False)
        t_validated = time.perf_counter()
        summary = beneficiaries.roster_import_apply(batch=batch)
        t_merged = time.perf_counter()
        log(
            f"merge: received and validated {batch.rows_total} lines in "
            f"{t_validated - t0:.1f}s, applied in {t_merged - t_validated:.1f}s; "
            f"{summary['counts']}, people changed {summary['people_changed']}"
        )
        sent = [m for m in queue if m[0] == DISPATCH_TASK]
        if len(sent) != 1:
            sys.exit(f"the merge's commit sent {len(sent)} dispatch tasks, not one")
        queue.clear()
        delivered = app.tasks[DISPATCH_TASK]()  # the dispatch task the commit sent
        t_event = time.perf_counter()
        partitions = list(queue)
        log(
            f"event: {delivered}; {len(partitions)} partition tasks sent in "
            f"{t_event - t_merged:.1f}s"
        )
    worker_peak = run_workers(partitions, args.workers, t0)
    t1 = time.perf_counter()
    load = uptime()
    merge_s, event_s, partitions_s = t_merged - t0, t_event - t_merged, t1 - t_event
    total_s = t1 - t0

    # --- checks ---------------------------------------------------------------------------
    runs = list(DecisionRun.objects.filter(kind=DecisionRun.Kind.IDENTITY).order_by("year"))
    by_year = {run.year: run for run in runs}
    if YEAR not in by_year:
        sys.exit(f"no identity run for {YEAR}")
    if by_year[YEAR].people != with_claims or with_claims != len(picked):
        sys.exit(
            f"staged {by_year[YEAR].people} people, the feed backdated {len(picked)}, "
            f"{with_claims} with claims"
        )
    not_done = [run.pk for run in runs if run.status != DecisionRun.Status.DONE]
    if not_done:
        sys.exit(f"runs not done: {not_done}")
    claims_recomputed = sum(run.claims_decided for run in runs)
    decisions = sum(run.decisions_written for run in runs)
    adjustments = sum(run.adjustments_written for run in runs)
    if adjustments <= 0 or Adjustment.objects.count() - before != adjustments:
        sys.exit(f"adjustments: runs say {adjustments}, table grew by {Adjustment.objects.count()}")
    sample = sorted(rng.sample(backdated_ids, min(SAMPLE, len(backdated_ids))))
    compared = check_sample(sample)
    moved = [first + k for k in picked if identity_of[first + k] == "dibao"]
    as_tekun = Decision.objects.filter(
        is_current=True, claim__person_id__in=moved, claim__discharged__gte=FEBRUARY
    ).exclude(claim__discharged__year__gt=YEAR)
    wrong = as_tekun.exclude(identity="tekun").count()
    if wrong:
        sys.exit(f"{wrong} decisions of people moved from 低保 to 特困 are not 特困")
    log(
        f"checks: staged {by_year[YEAR].people} = backdated with claims; runs "
        f"{[(r.year, r.people, r.partitions, r.claims_decided) for r in runs]} done; "
        f"{decisions} new decisions, {adjustments} adjustments; {compared} sampled decisions "
        f"equal the engine's; {as_tekun.count()} decisions of 低保→特困 people are 特困"
    )
    peak = max(own_peak_mb(), worker_peak)
    log(
        f"backdate of {len(picked)} people: merge {merge_s:.1f}s, event {event_s:.1f}s, "
        f"partitions {partitions_s:.1f}s ({args.workers} workers); total {total_s:.1f}s; "
        f"{claims_recomputed} claims recomputed, {adjustments} adjustments; peak {peak} MB "
        f"({load})"
    )
    figures = {
        "bench": "backdate",
        "backdate_seconds": round(total_s, 1),
        "merge_seconds": round(merge_s, 1),
        "event_seconds": round(event_s, 1),
        "partitions_seconds": round(partitions_s, 1),
        "recompute_seconds": round(event_s + partitions_s, 1),
        "people": len(picked),
        "people_with_claims": with_claims,
        "claims_recomputed": claims_recomputed,
        "decisions_written": decisions,
        "adjustments": adjustments,
        "year_claims": year_claims,
        "settled": settled,
        "runs": len(runs),
        "partitions": sum(run.partitions for run in runs),
        "workers": args.workers,
        "peak_mb": peak,
        "load": [round(x, 2) for x in os.getloadavg()],
        "targets_met": total_s < 60 and peak < 500,
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
