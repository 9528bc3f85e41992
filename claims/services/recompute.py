"""Decision runs: the only place claims are decided (by `medaid.policy.decide`).

A run splits its people into partitions, ranges of person ids; a partition decides each of its
people's whole natural year in date order and commits at once, so a person's cumulative state
(deductible, caps, tilt) never crosses tasks, and a partition is either done or not (its row in
PostgreSQL says which). Recomputations (a person's years, a whole year) are runs too."""

from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone

from beneficiaries.models import Person
from claims import selectors
from claims.models import (
    DECISION_FIGURES,
    REVERSED_REASON,
    Adjustment,
    Claim,
    Decision,
    DecisionRun,
    ReviewReason,
    RunPartition,
    RunPerson,
)
from claims.services.errors import ClaimsError
from medaid import policy
from medaid.core.bulk import chunks, insert_rows, update_by_ids
from medaid.core.jobs import lock_release, lock_try, queue_waiting, task_send
from medaid.core.models import Job
from medaid.core.money import ZERO, yuan_text

logger = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 48
PARTITION_TASK = "claims.tasks.decide_partition"
# A partition's runner holds a PostgreSQL session lock on (PARTITION_LOCK_SPACE, partition row
# id) while it works: a free lock on an undone partition means nobody is deciding it.
PARTITION_LOCK_SPACE = 7_203_119
# A partition's task not done this long after it was sent, with nobody holding its lock, is
# sent again (by `partitions_sweep`, from the job sweeper every minute) …
PARTITION_RESEND_AFTER = dt.timedelta(seconds=60)
# … at most this often; then its run is given up as failed.
MAX_PARTITION_RESENDS = 3


# --- decision runs --------------------------------------------------------------------------


def run_create(
    *,
    kind: str,
    year: int,
    people: QuerySet,
    reason: str = "",
    partitions: int = DEFAULT_PARTITIONS,
    declarations=(),
    job=None,
) -> DecisionRun:
    """Stage `people` (a queryset of person ids, one column) for a run over `year`. Set-based:
    one INSERT … SELECT, whatever the number of people."""
    with transaction.atomic():
        run = DecisionRun.objects.create(
            kind=kind,
            year=year,
            partitions=partitions,
            reason=reason[:200],
            job=job,
        )
        if declarations:
            run.declarations.set(declarations)
        # Through Person so that the staged column is known to be "id", whatever `people` is.
        # Partitions are ranges of person ids, not a hash: a partition's claims and decisions
        # then lie on neighbouring pages, so its superseding updates and foreign-key row locks
        # dirty (and WAL-log as full pages after each checkpoint) a few pages many times
        # instead of every page of the table once per partition.
        ids = Person.objects.filter(id__in=people).order_by().values("id")
        sql, params = ids.query.sql_with_params()
        table = RunPerson._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (run_id, partition, person_id) "
                f"SELECT %s, ntile(%s) OVER (ORDER BY p.id) - 1, p.id FROM ({sql}) p",
                (run.pk, partitions, *params),
            )
        counts = dict(
            RunPerson.objects.filter(run=run)
            .values_list("partition")
            .annotate(n=Count("id"))
            .values_list("partition", "n")
        )
        RunPartition.objects.bulk_create(
            RunPartition(run=run, number=number, people=counts.get(number, 0))
            for number in range(partitions)
        )
        run.people = sum(counts.values())
        run.save(update_fields=["people"])
        if job is not None:
            Job.objects.filter(pk=job.pk).update(
                progress_total=partitions,
                progress_done=0,
                status=Job.Status.RUNNING,
                started_at=timezone.now(),
            )
    return run


@dataclass
class _PartitionWrites:
    decisions: list[tuple] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    settled_changes: dict[int, tuple[int, Decimal]] = field(default_factory=dict)
    status: dict[tuple[str, str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    withdrawn: list[int] = field(default_factory=list)
    claims: int = 0


def _same(current: selectors.CurrentDecision, new) -> bool:
    return (
        current.eligible == new.eligible
        and current.reason == (new.reason.value if new.reason else "")
        and current.identity == (new.identity or "")
        and current.policy_version == new.policy_version
        and current.parameters_hash == new.parameters_hash
        and current.policy_self_pay == new.policy_self_pay
        and current.deductible_applied == new.deductible_applied
        and current.ratio == new.ratio
        and current.assistance == new.assistance
        and current.tilted_assistance == new.tilted_assistance
    )


def _status_after_decision(row: selectors.ClaimRow, new) -> tuple[str, str, str] | None:
    """What a claim waiting for its first decision becomes once decided; None keeps it."""
    if row.status != Claim.Status.PENDING:
        return None
    if row.source == Claim.Source.DECLARATION:
        if row.review_reason:
            return (Claim.Status.REVIEW, row.review_reason, "")
        declared = row.declared_assistance or ZERO
        if declared == new.total:
            return (Claim.Status.ACCEPTED, "", "")
        if not new.eligible and declared > 0:
            return (Claim.Status.REVIEW, ReviewReason.NOT_ELIGIBLE, "")
        return (Claim.Status.REVIEW, ReviewReason.AMOUNT_MISMATCH, "")
    if row.source == Claim.Source.MANUAL:
        return (Claim.Status.ACCEPTED, "", "")
    # Application claims wait for the supervisor.
    return None


def _decide_person(
    rows: list[selectors.ClaimRow],
    person: policy.PersonFacts | None,
    current: dict[int, selectors.CurrentDecision],
    run_id: int | None,
    now: dt.datetime,
    out: _PartitionWrites,
) -> None:
    # A year that straddles a change of the area's pack is decided in one case per pack.
    for (policy_code, parameters, amendments), group in groupby(
        rows, key=lambda r: (r.policy_code, r.parameters, r.amendments)
    ):
        group = list(group)
        out.claims += len(group)
        try:
            if person is None:
                raise LookupError("救助对象不存在")
            case = selectors.build_case(
                policy_code=policy_code,
                person=person,
                claims=group,
                parameters=parameters,
                amendments=amendments,
            )
            result = policy.decide(case)
        except Exception as exc:
            logger.warning("engine refused person %s: %s", group[0].person_id, exc)
            note = f"{type(exc).__name__}: {exc}"[:500]
            for row in group:
                if row.status == Claim.Status.PENDING:
                    out.status[(Claim.Status.REVIEW, ReviewReason.ENGINE_REFUSED, note)].append(
                        row.id
                    )
            continue
        by_ref = {d.ref: d for d in result.claims}
        for row in group:
            new = by_ref[row.facts.ref]
            old = current.get(row.id)
            if old is None or not _same(old, new):
                if old is not None:
                    out.superseded.append(old.id)
                    if row.status == Claim.Status.SETTLED and old.total != new.total:
                        out.settled_changes[row.id] = (old.id, new.total - old.total)
                out.decisions.append(
                    (
                        row.id,
                        True,
                        new.eligible,
                        new.reason.value if new.reason else "",
                        new.identity or "",
                        new.policy,
                        new.policy_version,
                        new.parameters_hash,
                        new.policy_self_pay,
                        new.deductible_applied,
                        new.ratio,
                        new.assistance,
                        new.tilted_assistance,
                        new.total,
                        trace_json(new.trace),
                        run_id,
                        now,
                    )
                )
            status = _status_after_decision(row, new)
            if status is not None:
                out.status[status].append(row.id)


def _withdraw(
    claims: list[selectors.ReversedClaim], run_id: int | None, now: dt.datetime, out
) -> None:
    """Claims the platform reversed leave the year through the run, like every decision: a
    decision of 0 becomes current (the paid one stays as history) and a settled claim's
    adjustment recovers what was paid at the next settlement; the claim is then refused. The
    rest of the person's year is decided without them by the same pass."""
    for claim in claims:
        out.claims += 1
        out.withdrawn.append(claim.id)
        if claim.decision_id is None:
            continue
        out.superseded.append(claim.decision_id)
        if claim.status == Claim.Status.SETTLED and claim.total:
            out.settled_changes[claim.id] = (claim.decision_id, -claim.total)
        out.decisions.append(
            (
                claim.id,
                True,
                False,
                REVERSED_REASON,
                claim.identity,
                claim.policy_code,
                claim.policy_version,
                claim.parameters_hash,
                claim.policy_self_pay,
                ZERO,
                None,
                ZERO,
                ZERO,
                ZERO,
                trace_json([f"医保平台冲销该结算，原救助合计 {yuan_text(claim.total)} 元收回"]),
                run_id,
                now,
            )
        )


def trace_json(lines: list[str]) -> str:
    """A trace as JSON text for the COPY. Trace lines are printable Chinese text without ASCII
    quotes or backslashes, which need no escaping: joining them is a fraction of json.dumps's
    cost on 2 KB of non-ASCII text; anything else goes through json.dumps."""
    if not lines:
        return "[]"
    joined = '","'.join(lines)
    # Every quote in `joined` is a separator's (two each), so no line holds one.
    if joined.count('"') == 2 * (len(lines) - 1) and "\\" not in joined and joined.isprintable():
        return f'["{joined}"]'
    return json.dumps(lines, ensure_ascii=False)


_DECISION_COLUMNS = ("claim_id", "is_current", *DECISION_FIGURES, "trace", "run_id", "decided_at")


def _write(out: _PartitionWrites, *, run_id: int | None, reason: str) -> int:
    update_by_ids(
        Decision._meta.db_table, "is_current = %s", out.superseded, "is_current", (False,)
    )
    written = insert_rows(Decision._meta.db_table, _DECISION_COLUMNS, out.decisions, plain=True)
    if out.settled_changes:
        claim_ids = list(out.settled_changes)
        new_ids: dict[int, int] = {}
        for ids in chunks(claim_ids):
            new_ids.update(
                Decision.objects.filter(claim_id__in=ids, is_current=True).values_list(
                    "claim_id", "id"
                )
            )
        Adjustment.objects.bulk_create(
            Adjustment(
                claim_id=claim_id,
                decision_id=new_ids[claim_id],
                previous_decision_id=previous_id,
                amount=amount,
                reason=reason or "重新计算",
            )
            for claim_id, (previous_id, amount) in out.settled_changes.items()
        )
    now = timezone.now()
    update_by_ids(
        Claim._meta.db_table,
        "status = %s, updated_at = %s",
        out.withdrawn,
        "review_reason = %s",
        (Claim.Status.REJECTED, now, ReviewReason.PLATFORM_REVERSAL),
    )
    for (status, review_reason, note), ids in out.status.items():
        update_by_ids(
            Claim._meta.db_table,
            "status = %s, review_reason = %s, review_note = %s, updated_at = %s",
            ids,
            "status = %s",
            (status, review_reason, note, now, Claim.Status.PENDING),
        )
    return written


@contextmanager
def _gc_paused():
    """A partition builds some hundred thousand small acyclic objects (facts, decisions, trace
    lines) and keeps them until its COPY; the cyclic collector would rescan that growing heap
    over and over (half the decide time measured), and finds nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decide_people(*, people, year: int, run_id: int | None, reason: str) -> _PartitionWrites:
    persons, rows_by_person = selectors.people_year(people=people, year=year)
    current = selectors.current_decisions(
        claim_ids=[row.id for _, rows in rows_by_person for row in rows]
    )
    out = _PartitionWrites()
    now = timezone.now()
    _withdraw(selectors.reversed_claims(people=people, year=year), run_id, now, out)
    for pid, rows in rows_by_person:
        _decide_person(rows, persons.get(pid), current, run_id, now, out)
    return out


@dataclass(frozen=True, slots=True)
class RecomputeGap:
    """A claim whose current decision a fresh run of the engine would replace."""

    claim_id: int
    person_id: int
    current_decision_id: int | None
    current_total: Decimal | None
    engine_total: Decimal


_TOTAL_AT = _DECISION_COLUMNS.index("total")


def recompute_preview(*, people, year: int) -> list[RecomputeGap]:
    """What recomputing `people`'s `year` would change, without writing anything: the same
    reads and the same engine call as a run's partition (`_decide_people`), its writes left
    out. A claim listed is one whose stored decision is not what the engine decides now from
    the stored facts (a decision edited behind the engine's back, facts changed without a
    recompute). Claims still waiting for their first decision are not listed."""
    with _gc_paused():
        out = _decide_people(people=people, year=year, run_id=None, reason="")
    changed = out.decisions
    if not changed:
        return []
    current = selectors.current_decisions(claim_ids=[row[0] for row in changed])
    persons = dict(
        Claim.objects.filter(id__in=[row[0] for row in changed]).values_list("id", "person_id")
    )
    gaps = []
    for row in changed:
        old = current.get(row[0])
        if old is None:
            continue
        gaps.append(
            RecomputeGap(
                claim_id=row[0],
                person_id=persons[row[0]],
                current_decision_id=old.id,
                current_total=old.total,
                engine_total=row[_TOTAL_AT],
            )
        )
    return gaps


def run_partition_decide(*, run_id: int, number: int) -> RunPartition:
    """Decide one partition of a run. Holds the partition's advisory lock for the whole work (a
    second worker given the same partition leaves it to the first; the sweeper sees the holder
    is alive) and its row lock; a partition already done is skipped, which makes re-delivery
    harmless."""
    part = RunPartition.objects.get(run_id=run_id, number=number)
    if not lock_try(part.pk, PARTITION_LOCK_SPACE):
        logger.info("run %s partition %s is being decided by another worker", run_id, number)
        return part
    try:
        return _partition_decide(part)
    finally:
        lock_release(part.pk, PARTITION_LOCK_SPACE)


def _partition_decide(part: RunPartition) -> RunPartition:
    run_id, number = part.run_id, part.number
    # Marked running (and the partition taken) in statements of their own: inside the
    # partition's transaction the run row would stay locked until that partition commits, and
    # every other worker's first partition would wait for it.
    DecisionRun.objects.filter(pk=run_id, status=DecisionRun.Status.PENDING).update(
        status=DecisionRun.Status.RUNNING
    )
    RunPartition.objects.filter(pk=part.pk, done=False).update(started_at=timezone.now())
    with transaction.atomic():
        part = RunPartition.objects.select_for_update().get(pk=part.pk)
        if part.done:
            return part
        run = DecisionRun.objects.get(pk=run_id)
        if run.status == DecisionRun.Status.FAILED:
            return part
        people = selectors.run_people(run_id=run_id, partition=number)
        with _gc_paused():
            out = _decide_people(people=people, year=run.year, run_id=run_id, reason=run.reason)
            written = _write(out, run_id=run_id, reason=run.reason)
        part.done = True
        part.claims = out.claims
        part.decisions_written = written
        part.finished_at = timezone.now()
        part.save(update_fields=["done", "claims", "decisions_written", "finished_at"])
        if run.job_id:
            Job.objects.filter(pk=run.job_id).update(progress_done=F("progress_done") + 1)
        pause = float(getattr(settings, "CLAIMS_PARTITION_PAUSE_SECONDS", 0) or 0)
        if pause:
            time.sleep(pause)  # the fault tests' window: written, not yet committed
    return part


# What closes a run's declarations once the run is done: `declarations.declarations_finish`,
# which that module registers here on import (it imports this module, so this one cannot import
# it; importing any of claims.services loads both).
_DECLARATION_RUN_FINISHED: list = []


def on_run_finished(finish) -> None:
    """Call `finish(declaration_ids=[…])` with a run's declarations once the run is done."""
    if finish not in _DECLARATION_RUN_FINISHED:
        _DECLARATION_RUN_FINISHED.append(finish)


def run_finish(*, run_id: int) -> bool:
    """Close a run once every partition is done (idempotent; the last partition calls it)."""
    with transaction.atomic():
        run = DecisionRun.objects.select_for_update().get(pk=run_id)
        if run.status == DecisionRun.Status.DONE:
            return True
        if run.status == DecisionRun.Status.FAILED:
            return False
        if run.partition_rows.filter(done=False).exists():
            return False
        totals = run.partition_rows.aggregate(c=Sum("claims"), d=Sum("decisions_written"))
        run.claims_decided = totals["c"] or 0
        run.decisions_written = totals["d"] or 0
        run.adjustments_written = Adjustment.objects.filter(decision__run=run).count()
        run.status = DecisionRun.Status.DONE
        run.finished_at = timezone.now()
        run.save()
        RunPerson.objects.filter(run=run).delete()
        if run.job_id:
            Job.objects.filter(pk=run.job_id).update(
                status=Job.Status.SUCCEEDED,
                finished_at=timezone.now(),
                result={
                    "people": run.people,
                    "claims": run.claims_decided,
                    "decisions": run.decisions_written,
                    "adjustments": run.adjustments_written,
                },
            )
    declaration_ids = list(run.declarations.order_by("pk").values_list("pk", flat=True))
    if declaration_ids:
        for finish in _DECLARATION_RUN_FINISHED:
            finish(declaration_ids=declaration_ids)
    return True


def run_execute(*, run: DecisionRun, progress=None) -> DecisionRun:
    """Decide every partition of `run` in this process (the eager path, tests, small runs)."""
    if progress is not None:
        progress.set_total(run.partitions)
    for number in range(run.partitions):
        run_partition_decide(run_id=run.pk, number=number)
        if progress is not None:
            progress.advance(1)
    run_finish(run_id=run.pk)
    run.refresh_from_db()
    return run


def run_dispatch(*, run: DecisionRun) -> None:
    """Send one task per partition after commit; eager mode runs them right away. The time
    sent is on each partition: the sweeper resends one that nobody finished or holds."""
    RunPartition.objects.filter(run=run, done=False).update(sent_at=timezone.now(), started_at=None)
    for number in range(run.partitions):
        task_send(PARTITION_TASK, run.pk, number)


def run_fail(*, run_id: int, error: str) -> None:
    """Give a run up (its undone partitions keep nothing: each commits whole); its job too."""
    now = timezone.now()
    run = DecisionRun.objects.get(pk=run_id)
    DecisionRun.objects.filter(pk=run_id).exclude(status=DecisionRun.Status.DONE).update(
        status=DecisionRun.Status.FAILED, error=error, finished_at=now
    )
    if run.job_id:
        Job.objects.filter(pk=run.job_id).exclude(status=Job.Status.SUCCEEDED).update(
            status=Job.Status.FAILED, error=error, finished_at=now
        )


def run_retry(*, run: DecisionRun, by) -> DecisionRun:
    """Run a failed run again (the admin's 重新执行 on the run's page): its undone partitions
    are sent again with their resend counts reset, its job shows running; the partitions it
    finished stay done (each committed whole, and a partition that is done is skipped), so
    retrying twice, or a late message of the first attempt, decides nothing twice. `by` must
    hold `claims.start_recompute`."""
    if not by.has_perm("claims.start_recompute"):
        raise ClaimsError("没有重新执行计算批次的权限", code="permission_denied")
    with transaction.atomic():
        run = DecisionRun.objects.select_for_update().get(pk=run.pk)
        if run.status != DecisionRun.Status.FAILED:
            raise ClaimsError(
                f"计算批次{run.get_status_display()}，只有失败的批次可以重新执行",
                code="run_not_failed",
            )
        who = by.get_full_name() or by.get_username()
        DecisionRun.objects.filter(pk=run.pk).update(
            status=DecisionRun.Status.PENDING, error="", finished_at=None
        )
        RunPartition.objects.filter(run=run, done=False).update(resends=0)
        if run.job_id:
            Job.objects.filter(pk=run.job_id).update(
                status=Job.Status.RUNNING,
                error="",
                finished_at=None,
                stage=f"{who} 重新执行",
                progress_done=RunPartition.objects.filter(run=run, done=True).count(),
            )
        logger.info("run %s retried by %s", run.pk, who)
        run_dispatch(run=run)
    run.refresh_from_db()
    return run


def partitions_sweep(*, now=None) -> dict:
    """Resend the decision runs' partitions whose worker died (the job sweeper calls this every
    minute; see `orphans_resend`)."""
    now = now or timezone.now()
    live = (DecisionRun.Status.PENDING, DecisionRun.Status.RUNNING)
    return orphans_resend(
        stale=RunPartition.objects.filter(run__status__in=live),
        parent="run",
        lock_space=PARTITION_LOCK_SPACE,
        task=PARTITION_TASK,
        fail=lambda run_id, error: run_fail(run_id=run_id, error=error),
        label="计算分区",
        now=now,
    )


def orphans_resend(
    *, stale: QuerySet, parent: str, lock_space: int, task: str, fail, label: str, now
) -> dict:
    """Send again the partitions of `stale` (a decision run's or a replay's: rows with `done`,
    `number`, `sent_at`, `started_at`, `resends` and the foreign key `parent`) whose worker
    died; `task` takes (parent id, number), the runner holds (`lock_space`, row id).

    A partition is orphaned when it is not done, its task was sent more than
    `PARTITION_RESEND_AFTER` ago, nobody holds its lock, and either a worker took it since
    (`started_at`: that worker died with it) or no message waits in its queue (a worker that
    died had it prefetched). One still waiting in a busy queue is left alone. After
    `MAX_PARTITION_RESENDS` its parent fails (`fail(parent id, Chinese error)`)."""
    counts = {"resent": 0, "failed": 0}
    if connection.vendor != "postgresql":
        return counts
    parent_id = f"{parent}_id"
    stale = stale.filter(done=False, sent_at__lt=now - PARTITION_RESEND_AFTER).order_by(
        parent_id, "number"
    )
    waiting: int | None = -1  # not asked yet
    given_up: set[int] = set()
    for part in stale:
        owner = getattr(part, parent_id)
        if owner in given_up or not lock_try(part.pk, lock_space):
            continue  # its runner is alive
        try:
            part.refresh_from_db()
            if part.done:
                continue
            if part.started_at is None:
                if waiting == -1:
                    waiting = queue_waiting(task)
                if waiting != 0:
                    continue  # its message may still be in the queue
            if part.resends >= MAX_PARTITION_RESENDS:
                fail(
                    owner,
                    f"{label} {part.number} 中断后已重新发送 {part.resends} 次仍未完成，"
                    "本批次已终止；已完成的分区保留，请排查后重新发起",
                )
                given_up.add(owner)
                counts["failed"] += 1
                continue
            type(part).objects.filter(pk=part.pk).update(
                sent_at=now, started_at=None, resends=F("resends") + 1
            )
        finally:
            lock_release(part.pk, lock_space)
        logger.warning("%s %s of %s orphaned: sending it again", label, part.number, owner)
        task_send(task, owner, part.number)
        counts["resent"] += 1
    return counts


def people_recompute(
    *,
    people: QuerySet,
    since: dt.date,
    reason: str,
    kind: str = DecisionRun.Kind.CORRECTION,
    partitions: int = 1,
    until_year: int | None = None,
    dispatch: bool = False,
) -> list[DecisionRun]:
    """Recompute `people`'s claims from the year of `since` to this year (an identity change
    that reaches back, a corrected claim). Later claims of the year get new decisions in date
    order; settled ones get adjustments for the next settlement. The beneficiaries app calls
    this after a roster change that reaches back."""
    until_year = until_year or max(timezone.localdate().year, since.year)
    runs = []
    for year in range(since.year, until_year + 1):
        run = run_create(kind=kind, year=year, people=people, reason=reason, partitions=partitions)
        if dispatch:
            run_dispatch(run=run)
        else:
            run_execute(run=run)
        runs.append(run)
    return runs


def year_recompute_start(*, year: int, county=None, reason: str, job=None, by=None) -> DecisionRun:
    """Recompute a whole year (a new pack version, a corrected parameter): every person with a
    claim that year, partitioned. This service is the only way in: `by`, the person starting
    it, must hold `claims.start_recompute` (None: the system itself — a task, the bench)."""
    if by is not None and not by.has_perm("claims.start_recompute"):
        raise ClaimsError("没有发起救助重算的权限", code="permission_denied")
    claims = Claim.objects.filter(discharged__year=year)
    if county is not None:
        claims = claims.filter(county=county)
    people = claims.order_by().values("person_id").distinct()
    return run_create(
        kind=DecisionRun.Kind.RECOMPUTE, year=year, people=people, reason=reason, job=job
    )
