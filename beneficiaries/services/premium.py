"""Premium subsidies (资助参保): the county's yearly subsidy roster, the monthly additions and
refunds, confirming a roster, and the transfer request to the resident insurance fund that the
funds app posts. Each person is decided by the pack's premium rule."""

from datetime import date

from django.db import transaction
from django.db.models import Count, Q, Sum

from beneficiaries import selectors
from beneficiaries.models import (
    ContributionYear,
    County,
    PremiumTransferRequest,
    SubsidyLine,
    SubsidyRoster,
)
from beneficiaries.services.rosters import ImportStateError
from medaid import policy as engine


def _contribution_year(county: County, year: int) -> ContributionYear:
    try:
        return ContributionYear.objects.get(pooling_area_id=county.pooling_area_id, year=year)
    except ContributionYear.DoesNotExist:
        raise ImportStateError(f"未设置{year}年度个人缴费标准（参保缴费年度）") from None


def _decisions(
    *, county, on: date, policy: str, year: int, contribution, parameters, listed=(), paid=()
):
    """(person id, premium decision) for everyone of `county` holding an identity on `on` who
    is not in `listed`; `paid` are those who already paid their contribution. The area's
    approved parameter changes of `policy` hold from their dates."""
    amendments = selectors.amendments_for(pooling_area=county.pooling_area_id, policy_code=policy)
    for person_id, scheme, facts in selectors.premium_facts(county=county, on=on):
        if person_id in listed:
            continue
        request = engine.PremiumRequest(
            year=year,
            individual_contribution=contribution,
            on=on,
            already_paid=person_id in paid,
            scheme=scheme if scheme in ("resident", "employee") else "resident",
        )
        yield (
            person_id,
            engine.decide_premium(
                policy, facts, request, parameters=parameters, amendments=amendments
            ),
        )


def subsidy_roster_build(*, county: County, year: int, decision_date: date, created_by=None):
    """The county's yearly subsidy roster from the identities held on `decision_date`, each
    person decided by the pack's premium rule. Rebuilding a draft replaces its yearly lines;
    a confirmed roster is never rebuilt. Locks the roster row."""
    contribution_year = _contribution_year(county, year)
    policy = selectors.policy_on(pooling_area=county.pooling_area_id, day=decision_date).code
    with transaction.atomic():
        roster, _ = SubsidyRoster.objects.select_for_update().get_or_create(
            county=county,
            year=year,
            defaults={
                "decision_date": decision_date,
                "individual_contribution": contribution_year.individual_contribution,
                "policy_code": policy,
                "created_by": created_by,
            },
        )
        if roster.status == SubsidyRoster.Status.CONFIRMED:
            raise ImportStateError("资助名册已确认，不能重新生成")
        roster.decision_date = decision_date
        roster.individual_contribution = contribution_year.individual_contribution
        roster.policy_code = policy
        roster.lines.filter(kind=SubsidyLine.Kind.INITIAL, transfer__isnull=True).delete()
        lines = []
        version = ""
        decisions = _decisions(
            county=county,
            on=decision_date,
            policy=policy,
            year=year,
            contribution=contribution_year.individual_contribution,
            parameters=contribution_year.parameters,
        )
        for person_id, decision in decisions:
            version = decision.policy_version
            if decision.subsidy <= 0:
                continue
            lines.append(
                SubsidyLine(
                    roster=roster,
                    person_id=person_id,
                    kind=SubsidyLine.Kind.INITIAL,
                    identity=decision.identity,
                    amount=decision.subsidy,
                    decided_on=decision_date,
                    reason="",
                    trace=decision.trace,
                )
            )
        SubsidyLine.objects.bulk_create(lines, batch_size=5000, ignore_conflicts=True)
        roster.policy_version = version
        _roster_totals(roster)
    return roster


def _roster_totals(roster) -> None:
    figures = roster.lines.aggregate(
        total=Sum("amount"),
        headcount=Count("person", distinct=True, filter=~Q(kind=SubsidyLine.Kind.REFUND)),
    )
    roster.total = figures["total"] or 0
    roster.headcount = figures["headcount"] or 0
    roster.save()


def subsidy_additions_run(*, roster, on: date, paid_person_ids=frozenset()) -> int:
    """Monthly additions: people holding an identity on `on` who are not yet on the roster
    (新增一人、标识一人、参保一人). For those who already paid their contribution, the pack's
    refund rule decides whether it is refunded (a refund line). Locks the roster row."""
    contribution_year = _contribution_year(roster.county, roster.year)
    added = 0
    with transaction.atomic():
        roster = SubsidyRoster.objects.select_for_update().get(pk=roster.pk)
        listed = set(roster.lines.values_list("person_id", flat=True))
        lines = []
        decisions = _decisions(
            county=roster.county,
            on=on,
            policy=roster.policy_code,
            year=roster.year,
            contribution=roster.individual_contribution,
            parameters=contribution_year.parameters,
            listed=listed,
            paid=paid_person_ids,
        )
        for person_id, decision in decisions:
            if decision.subsidy <= 0:
                continue
            already_paid = person_id in paid_person_ids
            if already_paid and decision.refund <= 0:
                # 不退不补: a contribution already paid stays paid; nothing to add.
                continue
            kind = SubsidyLine.Kind.REFUND if already_paid else SubsidyLine.Kind.ADDITION
            amount = decision.refund if already_paid else decision.subsidy
            lines.append(
                SubsidyLine(
                    roster=roster,
                    person_id=person_id,
                    kind=kind,
                    identity=decision.identity,
                    amount=amount,
                    decided_on=on,
                    trace=decision.trace,
                )
            )
        SubsidyLine.objects.bulk_create(lines, batch_size=5000, ignore_conflicts=True)
        added = len(lines)
        _roster_totals(roster)
    return added


def subsidy_roster_confirm(*, roster):
    SubsidyRoster.objects.filter(pk=roster.pk).update(status=SubsidyRoster.Status.CONFIRMED)
    roster.refresh_from_db()
    return roster


def premium_transfer_request_create(*, roster, note: str = ""):
    """The not-yet-requested lines of a roster as one transfer request to the resident insurance
    fund (Baoshan Art.8(四)); the funds app posts it. Locks the roster row; a second call with
    nothing new returns None."""
    with transaction.atomic():
        roster = SubsidyRoster.objects.select_for_update().get(pk=roster.pk)
        pending = roster.lines.filter(transfer__isnull=True)
        figures = pending.aggregate(amount=Sum("amount"), headcount=Count("person", distinct=True))
        if not figures["amount"]:
            return None
        transfer = PremiumTransferRequest.objects.create(
            county=roster.county,
            year=roster.year,
            roster=roster,
            amount=figures["amount"],
            headcount=figures["headcount"],
            note=note or f"{roster.county.name}{roster.year}年度资助参保资金划转",
        )
        pending.update(transfer=transfer)
    return transfer


def premium_transfer_request_mark_posted(
    *, request: PremiumTransferRequest, entry_id: int
) -> PremiumTransferRequest:
    """The funds app posted `request` as its entry `entry_id`: the request is closed as posted.
    Called inside the posting's transaction, which holds the request row's lock."""
    request.status = PremiumTransferRequest.Status.POSTED
    request.posted_entry_id = entry_id
    request.save(update_fields=["status", "posted_entry_id"])
    return request
