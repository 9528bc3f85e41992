"""Replaying a pooling area's period under a draft, writing no decision.

"Current" is decided again, not read from the stored decisions: a stored decision may predate
a change nobody recomputed yet (a pack version shipped, the area's figures edited), and the
difference must be the draft's alone. It costs one more pass of the engine per person, which is
cheap beside reading the claims (bench/replay.py); reading the stored decisions would cost a
read of as many rows and answer a different question. Both passes load people and claims
through the recompute's loader (`selectors.people_year`, the area's pack by date and its own
figures), so what the replay calls current is what a recompute would write today, approved
parameter changes included once they are part of that loader's rules.

A replay is partitioned by ranges of person ids like a decision run: a partition decides its
people's whole natural year twice (cumulative deductible, caps and tilt need every claim of
the year, of any area) — both years of a period across New Year, in one case per person, the
engine's state restarting on 1 January —, counts only the claims of the replay's area and
period, and keeps its figures on its own row; the last partition merges them
(`replay_finish`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal
from itertools import groupby

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from beneficiaries.models import County, ParameterChange, Person, PoolingArea
from beneficiaries.selectors import change_amendment
from claims import selectors
from claims.replay.models import ReplayChange, ReplayPartition, ReplayRun
from claims.services.errors import ClaimsError
from medaid import policy
from medaid.core import validators
from medaid.core.jobs import (
    PENDING_RESEND_AFTER,
    RESENT,
    job_create,
    lock_release,
    lock_try,
    register_job_kind,
    task_send,
)
from medaid.core.models import Job
from medaid.core.money import ZERO, to_yuan
from medaid.policy.errors import OverrideError, PackError
from medaid.policy.glossary import IDENTITY_LABELS, KIND_LABELS

logger = logging.getLogger(__name__)

PERMISSION = "claims.start_replay"
JOB_KIND = "replay"
PREPARE_TASK = "claims.tasks.replay_prepare"
PARTITION_TASK = "claims.tasks.replay_partition"
# A replay's partition runner holds a PostgreSQL session lock on (space, partition row id).
PARTITION_LOCK_SPACE = 7_203_121
PEOPLE_PER_PARTITION = 4_000
MAX_PARTITIONS = 48
TOP = 20
# Claims kept with both traces per person among the largest changes.
DETAILS_PER_PERSON = 10
DIMENSIONS = ("county", "identity", "kind", "level")
DIMENSION_LABELS = {"county": "区县", "identity": "身份", "kind": "救助项目", "level": "医院级别"}
LEVEL_LABELS = {1: "一级", 2: "二级", 3: "三级"}
AMENDMENT_FIELDS = ("parameter", "start", "value", "ref", "key")

register_job_kind(JOB_KIND, "政策模拟测算")


# --- the draft ------------------------------------------------------------------------------


def draft_amendments(draft: Iterable[dict]) -> tuple[policy.Amendment, ...]:
    """The draft's dated changes as the engine's amendments; a change that lacks a field, or
    whose date or text is not one, is refused in Chinese naming the change."""
    changes = []
    for n, raw in enumerate(draft, 1):
        if not isinstance(raw, dict):
            raise ClaimsError(f"第{n}项参数变更格式不正确", code="invalid_field", field="draft")
        label = raw.get("key") or f"第{n}项"
        missing = [f for f in ("parameter", "start", "value", "ref") if not raw.get(f)]
        if missing:
            names = {"parameter": "参数", "start": "生效日期", "value": "取值", "ref": "依据文件"}
            raise ClaimsError(
                f"参数变更{label}缺少{'、'.join(names[f] for f in missing)}",
                code="required",
                field="draft",
            )
        try:
            start = dt.date.fromisoformat(str(raw["start"]))
        except ValueError:
            raise ClaimsError(
                f"参数变更{label}的生效日期不是有效日期（YYYY-MM-DD）",
                code="invalid_date",
                field="draft",
            ) from None
        changes.append(
            policy.Amendment(
                parameter=validators.text(
                    raw["parameter"], field="draft", label="参数", max_length=128
                ),
                start=start,
                value=validators.text(raw["value"], field="draft", label="取值", max_length=64),
                ref=validators.text(raw["ref"], field="draft", label="依据文件", max_length=200),
                key=str(label)[:32],
            )
        )
    seen = set()
    for change in changes:
        if (change.parameter, change.start) in seen:
            raise ClaimsError(
                f"同一参数 {change.parameter} 在 {change.start} 有两项变更", code="duplicate"
            )
        seen.add((change.parameter, change.start))
    return tuple(changes)


# The parameter changes a replay may take as its draft: entered, not yet decided.
UNAPPROVED_STATES = (ParameterChange.State.DRAFT, ParameterChange.State.SUBMITTED)


def changes_draft(changes: Iterable[ParameterChange]) -> list[dict]:
    """Parameter changes not yet approved as a replay's draft (`draft_amendments`' form), dated
    and cited as the engine will lay them over the pack once approved."""
    draft = []
    for change in changes:
        if change.state not in UNAPPROVED_STATES or change.kind != ParameterChange.Kind.PARAMETER:
            raise ClaimsError(
                f"{change.key}已{change.get_state_display()}，不能作为草案",
                code="invalid_field",
                field="changes",
            )
        amendment = change_amendment(change)
        draft.append(
            {
                "parameter": amendment.parameter,
                "start": amendment.start.isoformat(),
                "value": amendment.value,
                "ref": amendment.ref,
                "key": amendment.key,
            }
        )
    return draft


def _area_packs(area: PoolingArea, start: dt.date, end: dt.date) -> set[str]:
    """The packs that decide `area`'s claims on some day of [start, end]."""
    schedule = selectors.area_schedules(pooling_areas=[area.pk])[area.pk]
    codes = {schedule.on(start).code}
    codes |= {p.code for p in schedule.policies[1:] if start <= p.start <= end}
    return codes


def _check_draft(amendments, pack_code: str, packs: set[str]) -> None:
    if pack_code:
        if pack_code not in policy.available_policies():
            raise ClaimsError(f"没有政策包 {pack_code}", code="unknown_policy", field="pack_code")
        packs = {pack_code}
    for code in sorted(packs):
        try:
            policy.amend_pack(code, amendments)
        except OverrideError as exc:
            raise ClaimsError(
                f"政策包 {code} 不能采用参数变更 {exc.name}：{exc.problem}",
                code=exc.code,
                field="draft",
            ) from exc
        except PackError as exc:
            raise ClaimsError(
                f"采用草案后政策包 {code} 无法计算：{exc}", code="invalid_draft", field="draft"
            ) from exc


# --- start ----------------------------------------------------------------------------------


def replay_start(
    *,
    pooling_area: PoolingArea,
    start: dt.date,
    end: dt.date,
    draft: Iterable[dict] = (),
    pack_code: str = "",
    title: str = "",
    by=None,
    send: bool = True,
    parameter_change_id: int | None = None,
) -> ReplayRun:
    """Start a replay of `pooling_area`'s claims discharged in [start, end] (at most two
    natural years) under the draft: dated changes (`draft`, see `draft_amendments`) and/or
    another pack. `by` must hold `claims.start_replay` (None: the system itself — an event
    handler, the bench).
    Nothing is created when the draft is refused."""
    if by is not None and not by.has_perm(PERMISSION):
        raise ClaimsError("没有发起政策模拟测算的权限", code="permission_denied")
    if start > end:
        raise ClaimsError("期间起不能晚于期间止", code="invalid_period", field="end")
    if end.year - start.year > 1:
        # Each natural year is decided whole (its deductible, caps and tilt restart on
        # 1 January): a period over two years decides two years for each person.
        raise ClaimsError("模拟期间最多跨两个自然年度", code="invalid_period", field="end")
    draft = [{f: str(d.get(f, "") or "") for f in AMENDMENT_FIELDS} for d in draft]
    amendments = draft_amendments(draft)
    if not amendments and not pack_code:
        raise ClaimsError("请填写参数变更草案或选择草案政策包", code="required", field="draft")
    _check_draft(amendments, pack_code, _area_packs(pooling_area, start, end))
    with transaction.atomic():
        replay = ReplayRun.objects.create(
            title=title[:200],
            pooling_area=pooling_area,
            start=start,
            end=end,
            draft=draft,
            pack_code=pack_code,
            requested_by=by,
            parameter_change_id=parameter_change_id,
        )
        job = job_create(
            kind=JOB_KIND,
            parameters={"replay": replay.pk, "area": pooling_area.code},
            created_by=by,
        )
        replay.job = job
        replay.save(update_fields=["job"])
        if send:  # False: the caller runs the steps itself (bench/replay.py's process pool)
            task_send(PREPARE_TASK, replay.pk)
    return replay


def _scoped_claims(replay: ReplayRun):
    return selectors.counted_claims(
        year=replay.start.year,
        until_year=replay.end.year,
        county__pooling_area_id=replay.pooling_area_id,
    ).filter(discharged__gte=replay.start, discharged__lte=replay.end)


def replay_prepare(*, replay_id: int, send: bool = True) -> ReplayRun:
    """Split the replay's people into ranges of person ids and send one task per range. Run
    again (a resent message) it sends only the partitions not done."""
    with transaction.atomic():
        replay = ReplayRun.objects.select_for_update().get(pk=replay_id)
        if replay.status in (ReplayRun.Status.DONE, ReplayRun.Status.FAILED):
            return replay
        if not replay.partition_rows.exists():
            ids = list(
                _scoped_claims(replay)
                .order_by("person_id")
                .values_list("person_id", flat=True)
                .distinct()
            )
            count = max(1, min(MAX_PARTITIONS, -(-len(ids) // PEOPLE_PER_PARTITION)))
            size = -(-len(ids) // count) if ids else 1
            bounds = [ids[i : i + size] for i in range(0, len(ids), size)] or [[0]]
            ReplayPartition.objects.bulk_create(
                ReplayPartition(replay=replay, number=n, first_person=b[0], last_person=b[-1])
                for n, b in enumerate(bounds)
            )
            replay.partitions = len(bounds)
            replay.people = len(ids)
        replay.status = ReplayRun.Status.RUNNING
        replay.save(update_fields=["partitions", "people", "status"])
        if replay.job_id:
            Job.objects.filter(pk=replay.job_id).update(
                status=Job.Status.RUNNING,
                started_at=timezone.now(),
                progress_total=replay.partitions,
                progress_done=replay.partition_rows.filter(done=True).count(),
                stage="模拟测算",
            )
        undone = replay.partition_rows.filter(done=False)
        if send:
            # What the sweeper goes by: sent, and not taken since (`replays_sweep`).
            undone.update(sent_at=timezone.now(), started_at=None)
        for number in undone.values_list("number", flat=True) if send else ():
            task_send(PARTITION_TASK, replay.pk, number)
    return replay


# --- one partition --------------------------------------------------------------------------


def _decided(case) -> dict[int, object]:
    try:
        return {int(d.ref): d for d in policy.decide(case).claims}
    except Exception as exc:  # the engine's refusals are counted, not fatal
        logger.info("replay: engine refused a case: %s", exc)
        return {}


def _decide_both(rows, person, draft_pack_of: Callable, draft_of: Callable):
    """Each claim id → its decision under the rules in force, and under the draft (None: the
    engine refused the person's case), the year decided in one case per pack as a run decides
    it. The draft's case shares the current one's facts, and where the engine shows the draft
    cannot change it (`policy.may_differ`: none of the person's profiles is reached) the
    current decisions stand for both — most people of a draft about one profile."""
    current: dict[int, object] = {}
    draft: dict[int, object] = {}
    if person is None:
        logger.info("replay: no person %s", rows[0].person_id)
        return current, draft
    cases = {}  # first claim id of a current case → (its rows, the case)
    for (code, parameters, amendments), group in groupby(
        rows, key=lambda r: (r.policy_code, r.parameters, r.amendments)
    ):
        group = list(group)
        case = selectors.build_case(
            policy_code=code,
            person=person,
            claims=group,
            parameters=parameters,
            amendments=amendments,
        )
        cases[group[0].id] = (group, case)
        decided = _decided(case)
        for row in group:
            current[row.id] = decided.get(row.id)
    # The draft's cases as the old pass grouped them (a pack the draft names may join two
    # of the current cases into one year); one that is a current case under other
    # amendments is decided again only if those can change it.
    for (code, parameters, amendments), group in groupby(
        rows, key=lambda r: (draft_pack_of(r), r.parameters, draft_of(r))
    ):
        group = list(group)
        same, case = cases.get(group[0].id, ((), None))
        if len(same) == len(group) and same[-1] is group[-1]:
            other = dataclasses.replace(case, policy=code, amendments=amendments)
            if not policy.may_differ(case, other):
                draft.update((row.id, current[row.id]) for row in group)
                continue
        else:
            other = selectors.build_case(
                policy_code=code,
                person=person,
                claims=group,
                parameters=parameters,
                amendments=amendments,
            )
        decided = _decided(other)
        for row in group:
            draft[row.id] = decided.get(row.id)
    return current, draft


def _detail(row, old, new) -> dict:
    return {
        "claim": row.id,
        "discharged": row.facts.discharged.isoformat(),
        "kind": row.facts.kind,
        "current": str(old.total),
        "draft": str(new.total),
        "current_trace": list(old.trace),
        "draft_trace": list(new.trace),
    }


class _Tally:
    """A partition's (and, merged, a replay's) figures: per dimension value [claims, current,
    draft, changed], the people seen and affected, claims refused, and the largest changes."""

    def __init__(self) -> None:
        self.by = {d: defaultdict(lambda: [0, ZERO, ZERO, 0]) for d in DIMENSIONS}
        # (county id, identity, kind, level) → [claims, current, draft, changed]: one cell a
        # claim instead of four, spread over the dimensions once, by `_fold`.
        self.cells: dict[tuple, list] = {}
        self.people = 0
        self.affected = 0
        self.refused = 0
        self.claims = 0
        self.top: list = []  # heap of (|difference|, -person_id, entry)

    def add_person(self, pid: int, scoped, current: dict, draft: dict) -> None:
        self.people += 1
        cells = self.cells
        cur_sum = dr_sum = ZERO
        details = []
        counted = 0
        county = identity = None
        for row in scoped:
            old, new = current.get(row.id), draft.get(row.id)
            if old is None or new is None:
                self.refused += 1
                continue
            counted += 1
            facts = row.facts
            code = old.identity or new.identity or ""
            county = county or row.county_id
            identity = identity or code
            key = (row.county_id, code, facts.kind, facts.hospital_level)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = [0, ZERO, ZERO, 0]
            was = old.total
            now = was if new is old else new.total  # a person the draft cannot reach
            cell[0] += 1
            cell[1] += was
            cell[2] += now
            cur_sum += was
            dr_sum += now
            if now != was:
                cell[3] += 1
                if len(details) < DETAILS_PER_PERSON:
                    details.append((row, old, new))
        self.claims += len(scoped)
        if not details:
            return
        self.affected += 1
        difference = dr_sum - cur_sum
        entry = {
            "person": pid,
            "county": county,
            "identity": identity or "",
            "claims": counted,
            "current": str(cur_sum),
            "draft": str(dr_sum),
            "difference": str(difference),
            "details": details,
        }
        self._push((abs(difference), -pid, entry))

    def _fold(self) -> None:
        for (county, identity, kind, level), (n, cur, dr, changed) in self.cells.items():
            for dim, key in zip(DIMENSIONS, (str(county), identity, kind, str(level)), strict=True):
                cell = self.by[dim][key]
                cell[0] += n
                cell[1] += cur
                cell[2] += dr
                cell[3] += changed
        self.cells = {}

    def _push(self, item) -> None:
        # A person is in one partition only: (|difference|, -person id) never ties. Traces are
        # rendered (the engine renders them lazily) only for a person who makes the list.
        if len(self.top) >= TOP and item[:2] <= self.top[0][:2]:
            return
        entry = item[2]
        entry["details"] = [d if isinstance(d, dict) else _detail(*d) for d in entry["details"]]
        if len(self.top) < TOP:
            heapq.heappush(self.top, item)
        else:
            heapq.heapreplace(self.top, item)

    def as_json(self) -> dict:
        self._fold()
        return {
            "by": {
                d: {k: [v[0], str(v[1]), str(v[2]), v[3]] for k, v in cells.items()}
                for d, cells in self.by.items()
            },
            "people": self.people,
            "affected": self.affected,
            "refused": self.refused,
            "claims": self.claims,
            "top": [item[2] for item in self.top],
        }

    def merge(self, data: dict) -> None:
        for dim, cells in data["by"].items():
            for key, (n, cur, dr, changed) in cells.items():
                cell = self.by[dim][key]
                cell[0] += n
                cell[1] += Decimal(cur)
                cell[2] += Decimal(dr)
                cell[3] += changed
        self.people += data["people"]
        self.affected += data["affected"]
        self.refused += data["refused"]
        self.claims += data["claims"]
        for entry in data["top"]:
            self._push((abs(Decimal(entry["difference"])), -entry["person"], entry))

    def ranked(self) -> list[dict]:
        return [item[2] for item in sorted(self.top, key=lambda i: i[:2], reverse=True)]


def partition_tally(replay: ReplayRun, first: int, last: int) -> _Tally:
    """Decide the people of [first, last] twice (current rules; current + draft) and count
    their claims of the replay's area and period. Reads only."""
    area_id, start, end = replay.pooling_area_id, replay.start, replay.end
    amendments = draft_amendments(replay.draft)
    draft_pack = replay.pack_code

    def draft_pack_of(row):
        return draft_pack if draft_pack and row.area_id == area_id else row.policy_code

    def draft_of(row):
        # The area's approved changes (the loader's, on each row), the draft laid over them.
        return (*row.amendments, *amendments) if row.area_id == area_id else row.amendments

    # The range itself, not the people with a claim in scope: an index range scan instead of
    # a second pass over the year's claims to find them (someone without one is skipped below).
    people = Person.objects.filter(pk__gte=first, pk__lte=last).values("pk")
    persons, by_person = selectors.people_year(people=people, year=start.year, until_year=end.year)
    tally = _Tally()
    for pid, rows in by_person:
        scoped = [r for r in rows if r.area_id == area_id and start <= r.facts.discharged <= end]
        if not scoped:
            continue
        current, draft = _decide_both(rows, persons.get(pid), draft_pack_of, draft_of)
        tally.add_person(pid, scoped, current, draft)
    return tally


def replay_partition(*, replay_id: int, number: int) -> ReplayPartition:
    """Decide one partition (idempotent: a done partition, or one another worker holds, is
    left alone), then close the replay if it was the last."""
    part = ReplayPartition.objects.get(replay_id=replay_id, number=number)
    if not lock_try(part.pk, PARTITION_LOCK_SPACE):
        return part
    try:
        replay = ReplayRun.objects.get(pk=replay_id)
        if part.done or replay.status != ReplayRun.Status.RUNNING:
            return part
        ReplayPartition.objects.filter(pk=part.pk, done=False).update(started_at=timezone.now())
        try:
            tally = partition_tally(replay, part.first_person, part.last_person)
        except Exception as exc:
            replay_fail(replay_id=replay_id, error=f"分区 {number} 计算失败：{exc}")
            raise
        with transaction.atomic():
            done = ReplayPartition.objects.filter(pk=part.pk, done=False).update(
                done=True, claims=tally.claims, result=tally.as_json()
            )
            if done and replay.job_id:
                Job.objects.filter(pk=replay.job_id).update(progress_done=F("progress_done") + 1)
    finally:
        lock_release(part.pk, PARTITION_LOCK_SPACE)
    replay_finish(replay_id=replay_id)
    part.refresh_from_db()
    return part


def replay_fail(*, replay_id: int, error: str) -> None:
    now = timezone.now()
    replay = ReplayRun.objects.get(pk=replay_id)
    ReplayRun.objects.filter(pk=replay_id).exclude(status=ReplayRun.Status.DONE).update(
        status=ReplayRun.Status.FAILED, error=error[:4000], finished_at=now
    )
    if replay.job_id:
        Job.objects.filter(pk=replay.job_id).exclude(status=Job.Status.SUCCEEDED).update(
            status=Job.Status.FAILED, error=error[:4000], finished_at=now
        )


def replays_sweep(*, now=None) -> dict:
    """The job sweeper's part for replays (every minute): a partition whose worker died is sent
    again as a decision run's is (`recompute.orphans_resend`: its lock free, sent a while ago,
    taken since or no longer queued; after three resends the replay fails), and a replay still
    pending long after it was started (its prepare message lost) has it sent once more."""
    from claims.services import recompute

    now = now or timezone.now()
    counts = recompute.orphans_resend(
        stale=ReplayPartition.objects.filter(replay__status=ReplayRun.Status.RUNNING),
        parent="replay",
        lock_space=PARTITION_LOCK_SPACE,
        task=PARTITION_TASK,
        fail=lambda replay_id, error: replay_fail(replay_id=replay_id, error=error),
        label="测算分区",
        now=now,
    )
    lost = ReplayRun.objects.filter(
        status=ReplayRun.Status.PENDING,
        created_at__lt=now - PENDING_RESEND_AFTER,
        job__status=Job.Status.PENDING,
    ).exclude(job__stage=RESENT)
    for replay in lost:
        Job.objects.filter(pk=replay.job_id).update(stage=RESENT)
        logger.warning("replay %s still pending: sending its prepare again", replay.pk)
        task_send(PREPARE_TASK, replay.pk)
        counts["resent"] = counts.get("resent", 0) + 1
    return counts


# --- the merge ------------------------------------------------------------------------------


def _label(dim: str, key: str, counties: dict[int, str]) -> str:
    if dim == "county":
        return counties.get(int(key), key)
    if dim == "identity":
        return IDENTITY_LABELS.get(key, key) if key else "无救助身份"
    if dim == "kind":
        return KIND_LABELS.get(key, key)
    return LEVEL_LABELS.get(int(key), key) if key.isdigit() else key


def replay_finish(*, replay_id: int) -> bool:
    """Once every partition is done: merge their figures into `results`, keep the 20 largest
    changes per person (`ReplayChange`) and close the job. Idempotent."""
    with transaction.atomic():
        replay = ReplayRun.objects.select_for_update().get(pk=replay_id)
        if replay.status != ReplayRun.Status.RUNNING:
            return replay.status == ReplayRun.Status.DONE
        parts = list(replay.partition_rows.all())
        if not parts or any(not p.done for p in parts):
            return False
        tally = _Tally()
        for part in parts:
            tally.merge(part.result)
        counties = dict(
            County.objects.filter(pooling_area_id=replay.pooling_area_id).values_list("id", "name")
        )
        by = {}
        for dim in DIMENSIONS:
            by[dim] = [
                {
                    "key": key,
                    "label": _label(dim, key, counties),
                    "claims": n,
                    "current": str(to_yuan(cur)),
                    "draft": str(to_yuan(dr)),
                    "difference": str(to_yuan(dr - cur)),
                    "changed": changed,
                }
                for key, (n, cur, dr, changed) in sorted(tally.by[dim].items())
            ]
        current = sum((Decimal(r["current"]) for r in by["county"]), ZERO)
        draft = sum((Decimal(r["draft"]) for r in by["county"]), ZERO)
        replay.results = {
            "totals": {
                "claims": tally.claims,
                "decided": sum(r["claims"] for r in by["county"]),
                "refused": tally.refused,
                "changed": sum(r["changed"] for r in by["county"]),
                "people": tally.people,
                "people_affected": tally.affected,
                "current": str(current),
                "draft": str(draft),
                "difference": str(draft - current),
            },
            "by": by,
        }
        ReplayChange.objects.filter(replay=replay).delete()
        ReplayChange.objects.bulk_create(
            ReplayChange(
                replay=replay,
                rank=rank,
                person_id=entry["person"],
                county_id=entry["county"],
                identity=entry["identity"],
                claims=entry["claims"],
                current_total=Decimal(entry["current"]),
                draft_total=Decimal(entry["draft"]),
                difference=Decimal(entry["difference"]),
                details=entry["details"],
            )
            for rank, entry in enumerate(tally.ranked(), 1)
        )
        replay.claims = tally.claims
        replay.status = ReplayRun.Status.DONE
        replay.finished_at = timezone.now()
        replay.save(update_fields=["results", "claims", "status", "finished_at"])
        ReplayPartition.objects.filter(replay=replay).update(result={})
        if replay.job_id:
            Job.objects.filter(pk=replay.job_id).update(
                status=Job.Status.SUCCEEDED,
                finished_at=timezone.now(),
                stage="",
                result={
                    "replay": replay.pk,
                    **{k: replay.results["totals"][k] for k in ("claims", "people_affected")},
                    "difference": replay.results["totals"]["difference"],
                },
            )
    return True


def claims_in_scope(replay: ReplayRun) -> int:
    """How many claims the replay counts (for its page while it runs)."""
    return _scoped_claims(replay).count()


__all__ = [
    "PERMISSION",
    "claims_in_scope",
    "draft_amendments",
    "partition_tally",
    "replay_fail",
    "replay_finish",
    "replay_partition",
    "replay_prepare",
    "replay_start",
    "replays_sweep",
]
