"""How the claims app reacts to what the other apps tell it through the outbox
(`medaid.core.topics`). Each handler runs inside the transaction that marks its event
delivered, so what it writes and the delivery commit together; each is idempotent."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from claims import services
from claims.models import Claim, DecisionRun
from medaid.core import topics
from medaid.core.errors import Refusal
from medaid.core.jobs import sweeper_register
from medaid.core.outbox import handler_register

logger = logging.getLogger(__name__)


def on_settlement_posted(payload: dict) -> None:
    """The counter applications whose claims the posted statements paid become paid, once."""
    if payload.get("claims"):
        services.applications_mark_paid(claim_ids=payload["claims"])


def on_voucher_reversed(payload: dict) -> None:
    """A reversed payment voucher: its claims are open again (the funds app reopened them with
    the reversal) and their applications are no longer paid."""
    if payload.get("claims"):
        services.applications_payment_reversed(claim_ids=payload["claims"])


# People per partition of an identity recompute: a roster that touches 20,000 people is one
# run of a few partitions, not 20,000 tasks.
PEOPLE_PER_PARTITION = 2_000


def on_identity_changed(payload: dict) -> None:
    """People whose identity changed from some day on: their claims from that day's year are
    decided again, in one partitioned run per year; settled claims get adjustments that the
    next settlement pays or recovers. A year's run stages only the people with a claim in that
    year (a run is made for the first year even when nobody has one)."""
    changed = payload.get("people") or []
    if not changed:
        return
    person_ids = [person_id for person_id, _ in changed]
    since = min(dt.date.fromisoformat(day) for _, day in changed)
    reason = f"身份变动（{payload.get('source', '')}）"[:200]
    for year in range(since.year, max(timezone.localdate().year, since.year) + 1):
        with_claims = (
            Claim.objects.filter(
                person_id__in=person_ids,
                discharged__gte=dt.date(year, 1, 1),
                discharged__lte=dt.date(year, 12, 31),
            )
            .order_by()
            .values("person_id")
            .distinct()
        )
        staged = len(person_ids) if year == since.year else with_claims.count()
        if staged == 0 and year != since.year:
            continue
        partitions = max(1, min(services.DEFAULT_PARTITIONS, staged // PEOPLE_PER_PARTITION))
        services.people_recompute(
            people=with_claims,
            since=max(since, dt.date(year, 1, 1)),
            until_year=year,
            reason=reason,
            kind=DecisionRun.Kind.IDENTITY,
            partitions=partitions,
            dispatch=True,
        )


def on_parameter_changed(payload: dict) -> None:
    """An approved parameter change (or change of the area's pack) whose day has come: every
    person of the area with a claim discharged on or after that day is decided again — one
    partitioned run per year from that day's year (a run is a year's), settled claims getting
    adjustments that the next settlement pays or recovers."""
    since = dt.date.fromisoformat(payload["start"])
    area = payload["pooling_area"]
    reason = f"政策参数变更（变更#{payload.get('change', '')}）"
    for year in range(since.year, max(timezone.localdate().year, since.year) + 1):
        people = (
            Claim.objects.filter(
                county__pooling_area_id=area,
                discharged__gte=max(since, dt.date(year, 1, 1)),
                discharged__lte=dt.date(year, 12, 31),
            )
            .order_by()
            .values("person_id")
            .distinct()
        )
        staged = people.count()
        if staged == 0:
            continue
        partitions = max(1, min(services.DEFAULT_PARTITIONS, staged // PEOPLE_PER_PARTITION))
        services.people_recompute(
            people=people,
            since=max(since, dt.date(year, 1, 1)),
            until_year=year,
            reason=reason,
            kind=DecisionRun.Kind.PARAMETER,
            partitions=partitions,
            dispatch=True,
        )


def on_parameter_change_submitted(payload: dict) -> None:
    """A parameter change waiting for its second person: replay its area's year of the change's
    date with the change as the draft (the approval page links to it). A change the pack cannot
    take starts nothing (its own validation refuses it); the event is not retried for that."""
    from beneficiaries.models import PoolingArea
    from claims.replay import services as replay

    start = dt.date.fromisoformat(payload["start"])
    change = {k: payload.get(k, "") for k in ("parameter", "start", "value", "ref", "key")}
    try:
        replay.replay_start(
            pooling_area=PoolingArea.objects.get(pk=payload["pooling_area"]),
            start=dt.date(start.year, 1, 1),
            end=dt.date(start.year, 12, 31),
            draft=[change],
            title=f"参数变更{payload.get('key', '')}提交审批"[:200],
            parameter_change_id=payload.get("change"),
        )
    except Refusal as exc:
        logger.warning("parameter change %s: no replay (%s)", payload.get("change"), exc.message)


def register() -> None:
    from claims.replay import services as replay_services

    handler_register(topics.IDENTITY_CHANGED, "身份变动后重算救助", on_identity_changed)
    handler_register(topics.SETTLEMENT_POSTED, "救助申请标记已支付", on_settlement_posted)
    handler_register(topics.VOUCHER_REVERSED, "救助申请恢复待支付", on_voucher_reversed)
    handler_register(topics.PARAMETER_CHANGED, "参数变更后重算救助", on_parameter_changed)
    handler_register(
        topics.PARAMETER_CHANGE_SUBMITTED, "参数变更草案模拟测算", on_parameter_change_submitted
    )
    # Partitions whose worker died are sent again by the job sweeper (beat, every minute).
    sweeper_register("claims.partitions", services.partitions_sweep)
    sweeper_register("claims.replays", replay_services.replays_sweep)
