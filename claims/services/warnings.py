"""Monitoring and early warning (监测预警): burdens over the pack's threshold, the lists sent to
departments and their answers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from claims import selectors
from claims.models import (
    Warning,
    WarningDispatch,
)
from claims.services.checks import counties_by_policy, policy_covers
from claims.services.errors import ClaimsError

# --- monitoring and early warning (监测预警) ---------------------------------------------------

DEFAULT_WARNING_DEPARTMENTS = ("civil_affairs", "rural_revitalization", "health")
ANSWER_WORKING_DAYS = 5


def burdens_monitor(*, today: dt.date | None = None, year: int | None = None) -> int:
    """Find the people over their pack's monitoring threshold this year and record a warning for
    each (idempotent: one annual warning per person and year, one per stay). Nightly."""
    from beneficiaries.models import County

    today = today or timezone.localdate()
    year = year or today.year
    created = 0
    for code, county_ids in counties_by_policy(
        County, on=min(today, dt.date(year, 12, 31))
    ).items():
        if not policy_covers(code, min(today, dt.date(year, 12, 31))):
            continue
        rule = selectors.monitoring_rule(policy_code=code, day=min(today, dt.date(year, 12, 31)))
        if rule is None or (rule.key_threshold is None and rule.other_threshold is None):
            continue
        floor = min(t for t in (rule.key_threshold, rule.other_threshold) if t is not None)
        candidates = selectors.burden_candidates(
            county_ids=county_ids, year=year, basis=rule.basis, floor=floor
        )
        if not candidates:
            continue
        held = selectors.identities_held(person_ids={c.person_id for c in candidates}, year=year)
        warnings = []
        for c in candidates:
            codes = held.get(c.person_id, {})
            if c.claim_id is not None:
                codes = {k for k, (start, end) in codes.items() if start <= c.day <= end}
            else:
                codes = set(codes)
            threshold = rule.threshold_for(frozenset(codes), rural=True)
            if threshold is None or c.amount <= threshold:
                continue
            warnings.append(
                Warning(
                    person_id=c.person_id,
                    county_id=c.county_id,
                    year=year,
                    kind=Warning.Kind.STAY_SELF_PAY if c.claim_id else Warning.Kind.ANNUAL_BURDEN,
                    group=Warning.Group.KEY
                    if threshold == rule.key_threshold and codes
                    else Warning.Group.OTHER,
                    claim_id=c.claim_id,
                    amount=c.amount,
                    threshold=threshold,
                    policy_code=code,
                    found_on=today,
                )
            )
        created += _warnings_save(warnings)
    return created


def _warnings_save(warnings: list) -> int:
    """Insert new warnings; an annual warning already recorded gets its amount brought up to date
    (the list a department receives shows the burden as it is now)."""
    annual = [w for w in warnings if w.claim_id is None]
    stays = [w for w in warnings if w.claim_id is not None]
    created = 0
    with transaction.atomic():
        existing = {
            (p, y): (pk, amount)
            for pk, p, y, amount in Warning.objects.filter(
                kind=Warning.Kind.ANNUAL_BURDEN,
                person_id__in=[w.person_id for w in annual],
            ).values_list("id", "person_id", "year", "amount")
        }
        new = []
        for w in annual:
            found = existing.get((w.person_id, w.year))
            if found is None:
                new.append(w)
            elif found[1] != w.amount:
                Warning.objects.filter(pk=found[0]).update(amount=w.amount, threshold=w.threshold)
        seen = set(
            Warning.objects.filter(claim_id__in=[w.claim_id for w in stays]).values_list(
                "claim_id", flat=True
            )
        )
        new += [w for w in stays if w.claim_id not in seen]
        Warning.objects.bulk_create(new)
        created = len(new)
    return created


def warning_lists_send(*, today: dt.date | None = None) -> list[dict]:
    """Push every warning not yet sent to each department its pack names (民政, 乡村振兴, 卫体 …)
    with a deadline of 5 working days, and write one list per county and department. Monthly,
    before the 10th."""
    from beneficiaries.models import Department
    from claims.exports import warning_list_file
    from medaid.core.workdays import add_working_days

    today = today or timezone.localdate()
    due = add_working_days(today, ANSWER_WORKING_DAYS)
    departments_by_county: dict[int, list] = defaultdict(list)
    for dep in Department.objects.all():
        departments_by_county[dep.county_id].append(dep)
    kinds_by_policy: dict[str, tuple[str, ...]] = {}
    dispatches = []
    pending = (
        Warning.objects.select_related("county__pooling_area")
        .only("id", "county_id", "policy_code")
        .order_by("id")
    )
    sent = set(WarningDispatch.objects.values_list("warning_id", "department_id"))
    for warning in pending.iterator(chunk_size=5000):
        kinds = kinds_by_policy.get(warning.policy_code)
        if kinds is None:
            rule = selectors.monitoring_rule(policy_code=warning.policy_code, day=today)
            kinds = tuple(rule.departments) if rule and rule.departments else ()
            kinds = kinds or DEFAULT_WARNING_DEPARTMENTS
            kinds_by_policy[warning.policy_code] = kinds
        for dep in departments_by_county.get(warning.county_id, ()):
            if dep.kind in kinds and (warning.id, dep.id) not in sent:
                dispatches.append(
                    WarningDispatch(
                        warning_id=warning.id, department=dep, sent_on=today, due_on=due
                    )
                )
    WarningDispatch.objects.bulk_create(dispatches, ignore_conflicts=True)
    files = []
    for dep_id in sorted({d.department.pk for d in dispatches}):
        dep = Department.objects.get(pk=dep_id)
        path = warning_list_file(department=dep, sent_on=today)
        files.append({"department": dep.pk, "file": str(path)})
    return files


def warning_answer(*, dispatch: WarningDispatch, by, outcome: str, answer: str, on=None):
    """A department's answer to a warning it was sent. Lock: the dispatch row (taken here)."""
    if outcome not in WarningDispatch.Outcome.values:
        raise ClaimsError("处理结果无法识别", code="bad_outcome")
    if not answer:
        raise ClaimsError("答复内容不能为空", code="answer_required")
    with transaction.atomic():
        d = WarningDispatch.objects.select_for_update().get(pk=dispatch.pk)
        if by.department_id and by.department_id != d.department_id:
            raise PermissionDenied("只能答复推送给本部门的预警")
        d.outcome = outcome
        d.answer = answer[:1000]
        d.answered_on = on or timezone.localdate()
        d.answered_by = by
        d.save()
    return d
