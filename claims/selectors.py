"""Reads. Rows become the engine's frozen facts here (Saleor's fetch.py): one query for a
partition's people, one for their identities and one for their claims, never a query per row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import groupby

from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from beneficiaries.models import Identity, Person
from beneficiaries.selectors import AreaSchedule, area_schedules, person_facts
from claims.models import DECISION_FIGURES, Claim, Decision, ReviewReason, RunPerson
from medaid.core.money import CENT, ZERO, to_yuan
from medaid.core.scoping import is_city_wide, scope_to_user, user_county_id
from medaid.policy.facts import Case, ClaimFacts, PersonFacts
from medaid.policy.parameters import Amendment


@dataclass(slots=True)
class ClaimRow:
    """A claim as a run needs it: its facts for the engine and what the run decides with them."""

    id: int
    person_id: int
    policy_code: str
    status: str
    source: str
    declared_assistance: Decimal | None
    review_reason: str
    facts: ClaimFacts
    # The pooling area's own figures the pack takes for the claim's date (`Case.parameters`).
    parameters: tuple[tuple[str, str], ...] = ()
    # The area's approved parameter changes laid over that pack (`Case.amendments`).
    amendments: tuple = ()
    # The pooling area of the claim's county (a replay lays its draft over that area's only).
    area_id: int | None = None
    county_id: int | None = None


@dataclass(frozen=True, slots=True)
class CurrentDecision:
    """A claim's current decision, as much of it as a recompute compares (`_CURRENT_FIGURES`)."""

    id: int
    eligible: bool
    reason: str
    identity: str
    policy_version: str
    parameters_hash: str
    policy_self_pay: Decimal
    deductible_applied: Decimal
    ratio: Decimal | None
    assistance: Decimal
    tilted_assistance: Decimal
    total: Decimal


# The decision's figures a recompute compares with the engine's new ones (all but the pack's
# code, which the comparison leaves out): the fields of `CurrentDecision` after its id.
_CURRENT_FIGURES = tuple(f for f in DECISION_FIGURES if f != "policy_code")


# Claims that count toward a person's year: everything except what was refused.
# The claims the fund owes (accepted) or has paid (settled): what the finance charts count.
SPENDING_STATUSES = (Claim.Status.ACCEPTED, Claim.Status.SETTLED)
COUNTED_STATUSES = (
    Claim.Status.PENDING,
    Claim.Status.ACCEPTED,
    Claim.Status.REVIEW,
    Claim.Status.SETTLED,
)

_CLAIM_COLUMNS = (
    "id",
    "person_id",
    "county__pooling_area_id",
    "county_id",
    "status",
    "source",
    "declared_assistance",
    "review_reason",
    "kind",
    "admitted",
    "discharged",
    "hospital__level",
    "hospital__fee_class",
    "hospital__in_area",
    "hospital__in_province",
    "referred",
    "follow_up",
    "emergency",
    "major_disease",
    "chronic_category",
    "settlement",
    "applied",
    "in_policy_cost",
    "out_of_catalog_cost",
    "total_cost",
    "basic_insurance_paid",
    "critical_illness_paid",
    "other_paid",
)


def _claim_row(values: tuple, schedules: dict[int, AreaSchedule]) -> ClaimRow:
    (
        claim_id,
        person_id,
        area_id,
        county_id,
        status,
        source,
        declared,
        review_reason,
        kind,
        admitted,
        discharged,
        level,
        fee_class,
        in_area,
        in_province,
        referred,
        follow_up,
        emergency,
        major_disease,
        chronic_category,
        settlement,
        applied,
        in_policy,
        out_of_catalog,
        total,
        basic,
        critical,
        other,
    ) = values
    facts = ClaimFacts(
        ref=str(claim_id),
        kind=kind,
        discharged=discharged,
        admitted=admitted,
        hospital_level=level,
        hospital_fee_class=fee_class or None,
        in_area=in_area,
        in_province=in_province,
        referred=referred,
        follow_up=follow_up,
        emergency=emergency,
        major_disease=major_disease,
        chronic_category=chronic_category,
        settlement=settlement,
        applied=applied,
        in_policy_cost=in_policy,
        out_of_catalog_cost=out_of_catalog,
        total_cost=total,
        basic_insurance_paid=basic,
        critical_illness_paid=critical,
        other_paid=other,
    )
    # Which pack decides is dated data of the pooling area (beneficiaries.PoolingAreaPolicy).
    area_policy = schedules[area_id].on(discharged)
    return ClaimRow(
        id=claim_id,
        person_id=person_id,
        policy_code=area_policy.code,
        parameters=area_policy.parameters,
        amendments=area_policy.amendments,
        status=status,
        source=source,
        declared_assistance=declared,
        review_reason=review_reason,
        facts=facts,
        area_id=area_id,
        county_id=county_id,
    )


# Claims outside the year though their status counts: a stay another hospital already declared
# (until reviewed), and a settlement the platform reversed (until a run withdraws it).
_OUTSIDE_THE_YEAR = (ReviewReason.OVERLAP_OTHER_HOSPITAL, ReviewReason.PLATFORM_REVERSAL)


# Where a declaration's county is: its hospital's, or — a platform file from the province
# covering several hospitals, with no hospital of its own — that of any claim it holds.
DECLARATION_COUNTY_PATHS = ("hospital__county", "claims__county")


def declaration_is_own_county(*, declaration, user) -> bool:
    """Whether `user` sees the whole of `declaration` (city-wide, its hospital's own account,
    or its hospital lies in the user's county), rather than only their county's part of it."""
    county_id = user_county_id(user)
    if is_city_wide(user) or user.hospital_id or county_id is None:
        return True
    return declaration.hospital_id is not None and declaration.hospital.county_id == county_id


def declaration_lines_seen(*, declaration, user) -> QuerySet:
    """The lines of `declaration` that `user` may read: all of them, or for a county user on a
    declaration of another county's (or no) hospital, the lines naming people of their county."""
    lines = declaration.lines.all()
    if declaration_is_own_county(declaration=declaration, user=user):
        return lines
    people = Person.objects.filter(county_id=user_county_id(user)).values("id_number")
    return lines.filter(id_number__in=people)


@dataclass(frozen=True, slots=True)
class CountyPart:
    claims: int
    declared: Decimal
    computed: Decimal


def declaration_county_part(*, declaration, user) -> CountyPart:
    """The claims of `declaration` that `user` may see (their county's, scoped as every claims
    list is), with their declared and currently computed totals."""
    claims = scope_to_user(
        Claim.objects.filter(declaration=declaration), user, hospital_field="hospital"
    )
    figures = claims.aggregate(n=Count("id"), declared=Sum("declared_assistance"))
    computed = Decision.objects.filter(claim__in=claims, is_current=True).aggregate(s=Sum("total"))[
        "s"
    ]
    return CountyPart(
        claims=figures["n"], declared=figures["declared"] or ZERO, computed=computed or ZERO
    )


def counted_claims(*, year: int, until_year: int | None = None, **filters) -> QuerySet:
    """The claims discharged in `year` (to `until_year`, for a span of years) that count toward
    a person's year (`filters` narrow them: people, counties)."""
    return Claim.objects.filter(
        discharged__gte=date(year, 1, 1),
        discharged__lte=date(until_year or year, 12, 31),
        status__in=COUNTED_STATUSES,
        **filters,
    ).exclude(review_reason__in=_OUTSIDE_THE_YEAR)


@dataclass(frozen=True, slots=True)
class ReversedClaim:
    """A claim the platform reversed, waiting for the run that withdraws it, with its current
    decision (None if it never had one)."""

    id: int
    person_id: int
    status: str
    decision_id: int | None
    identity: str
    policy_code: str
    policy_version: str
    parameters_hash: str
    policy_self_pay: Decimal
    total: Decimal


def reversed_claims(*, people: QuerySet | Iterable[int], year: int) -> list[ReversedClaim]:
    """The reversed claims of `people` discharged in `year` that no run has withdrawn yet (still
    of a counted status), with their current decisions: two queries, whatever their number."""
    claims = list(
        Claim.objects.filter(
            discharged__gte=date(year, 1, 1),
            discharged__lte=date(year, 12, 31),
            status__in=COUNTED_STATUSES,
            review_reason=ReviewReason.PLATFORM_REVERSAL,
            person_id__in=people,
        )
        .order_by("person_id", "discharged", "id")
        .values_list("id", "person_id", "status")
    )
    if not claims:
        return []
    figures = ("identity", "policy_code", "policy_version", "parameters_hash", "policy_self_pay")
    current = {
        row[0]: row[1:]
        for row in Decision.objects.filter(
            claim_id__in=[pk for pk, _, _ in claims], is_current=True
        ).values_list("claim_id", "id", *figures, "total")
    }
    none = (None, "", "", "", "", ZERO, ZERO)
    return [
        ReversedClaim(pk, person_id, status, *current.get(pk, none))
        for pk, person_id, status in claims
    ]


def year_claims(
    *, people: QuerySet | Iterable[int], year: int, until_year: int | None = None
) -> Iterable[ClaimRow]:
    """The counted claims of `people` discharged in `year` (to `until_year`), by person, then
    date, then id (the order the engine decides them in), streamed."""
    rows = (
        counted_claims(year=year, until_year=until_year, person_id__in=people)
        .order_by("person_id", "discharged", "id")
        .values_list(*_CLAIM_COLUMNS)
    )
    schedules = area_schedules()
    for values in rows.iterator(chunk_size=5000):
        yield _claim_row(values, schedules)


def people_year(
    *, people: QuerySet | Iterable[int], year: int, until_year: int | None = None
) -> tuple[dict[int, PersonFacts], list[tuple[int, list[ClaimRow]]]]:
    """What every pass over a partition decides from (a run, its dry run, a replay): the
    engine's facts of `people` and their counted claims of `year` (to `until_year`: a replay
    across New Year; the engine keeps one year state per natural year, so the cumulative
    figures restart on 1 January), by person, in the order the engine decides them."""
    persons = person_facts(people=people)
    rows = year_claims(people=people, year=year, until_year=until_year)
    return persons, [(pid, list(g)) for pid, g in groupby(rows, key=lambda r: r.person_id)]


def current_decisions(
    *, claim_ids: QuerySet | Iterable[int] | None = None, people=None, year: int | None = None
) -> dict[int, CurrentDecision]:
    """The current decisions of `claim_ids`, or of every claim of `people` discharged in `year`
    (a join on the database: no list of ids sent back and forth). A partition that has its
    claims loaded already passes their ids as a list."""
    if isinstance(claim_ids, list) and connection.vendor == "postgresql":
        # One array parameter probing the "one current decision" index, not a join that scans
        # the year's claims again nor thousands of placeholders compiled one by one.
        decisions = Decision.objects.filter(
            claim_id__in=RawSQL("SELECT unnest(%s::bigint[])", (claim_ids,)), is_current=True
        )
    elif isinstance(claim_ids, list):
        # SQLite caps the placeholders of one statement.
        found: dict[int, CurrentDecision] = {}
        for start in range(0, len(claim_ids), 900):
            found.update(current_decisions(claim_ids=tuple(claim_ids[start : start + 900])))
        return found
    elif claim_ids is not None:
        decisions = Decision.objects.filter(claim_id__in=claim_ids, is_current=True)
    else:
        decisions = Decision.objects.filter(
            is_current=True,
            claim__person_id__in=people,
            claim__discharged__gte=date(year, 1, 1),
            claim__discharged__lte=date(year, 12, 31),
        )
    rows = decisions.values_list("claim_id", "id", *_CURRENT_FIGURES)
    return {row[0]: CurrentDecision(*row[1:]) for row in rows.iterator(chunk_size=5000)}


def run_people(*, run_id: int, partition: int) -> QuerySet:
    return RunPerson.objects.filter(run_id=run_id, partition=partition).values("person_id")


def build_case(
    *,
    policy_code: str,
    person: PersonFacts,
    claims: list[ClaimRow],
    parameters: tuple[tuple[str, str], ...] = (),
    amendments: tuple[Amendment, ...] = (),
) -> Case:
    return Case(
        policy=policy_code,
        person=person,
        claims=tuple(c.facts for c in claims),
        parameters=parameters,
        amendments=amendments,
    )


def claims_overlapping(*, person_id: int, kind: str, admitted: date, discharged: date):
    """Claims of the same person and kind whose stay overlaps [admitted, discharged]."""
    return Claim.objects.filter(
        Q(person_id=person_id, kind=kind, admitted__lte=discharged, discharged__gte=admitted)
        & ~Q(status=Claim.Status.REJECTED)
    )


# --- monitoring -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BurdenCandidate:
    person_id: int
    county_id: int
    amount: Decimal
    claim_id: int | None = None
    day: date | None = None


def monitoring_rule(*, policy_code: str, day: date):
    """The pack's early-warning rule in force on `day` (engine), or None if it has none."""
    from medaid import policy

    try:
        return policy.monitoring_thresholds(policy_code, day)
    except (LookupError, ValueError):
        return None


def _burden_expression():
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce

    return (
        F("total_cost")
        - F("basic_insurance_paid")
        - F("critical_illness_paid")
        - F("other_paid")
        - Coalesce(F("current__total"), Value(Decimal("0")))
    )


def _monitored_claims(*, county_ids, year: int):
    from django.db.models import FilteredRelation

    current = FilteredRelation("decisions", condition=Q(decisions__is_current=True))
    return counted_claims(year=year, county_id__in=county_ids).annotate(current=current)


def burden_candidates(*, county_ids, year: int, basis: str, floor: Decimal):
    """Set-based: people (annual basis) or stays (single-stay basis) whose personal burden after
    the three schemes is above the lowest threshold; the caller applies each person's own."""
    from django.db.models import Sum

    claims = _monitored_claims(county_ids=county_ids, year=year).annotate(
        burden=_burden_expression()
    )
    if basis == "single_stay":
        rows = claims.filter(kind="inpatient", burden__gt=floor).values_list(
            "person_id", "county_id", "burden", "id", "discharged"
        )
        return [BurdenCandidate(p, c, Decimal(b).quantize(CENT), i, d) for p, c, b, i, d in rows]
    rows = (
        claims.order_by()
        .values("person_id")
        .annotate(total=Sum("burden"))
        .filter(total__gt=floor)
        .values_list("person_id", "total")
    )
    people = dict(rows)
    counties = dict(Person.objects.filter(id__in=list(people)).values_list("id", "county_id"))
    return [
        BurdenCandidate(pid, counties[pid], Decimal(total).quantize(CENT))
        for pid, total in people.items()
    ]


def identities_held(*, person_ids, year: int) -> dict[int, dict[str, tuple[date, date]]]:
    """Per person, the identity codes held at some time in `year` with the span held."""
    out: dict[int, dict[str, tuple[date, date]]] = defaultdict(dict)
    first, last = date(year, 1, 1), date(year, 12, 31)
    rows = Identity.objects.filter(person_id__in=list(person_ids), start__lte=last).filter(
        Q(end__isnull=True) | Q(end__gte=first)
    )
    for pid, code, start, end in rows.values_list("person_id", "code", "start", "end"):
        span = out[pid].get(code)
        end = end or date.max
        out[pid][code] = (min(start, span[0]), max(end, span[1])) if span else (start, end)
    return out


def dispatches_overdue(*, today: date):
    from claims.models import WarningDispatch

    return WarningDispatch.objects.filter(answered_on__isnull=True, due_on__lt=today)


def application_notice(*, application, user) -> dict:
    """Everything the printed decision notice (救助决定通知书) shows the citizen: the county,
    the person (ID masked as the reader's role requires), each claim's amounts and the
    articles that decided it, the steps by date — no internal code, fingerprint or login."""
    from medaid.core.scoping import mask_id_number
    from medaid.policy.trace import CLOSING_PREFIX, cited, for_people

    rows = []
    for claim in application.claims.select_related("hospital").order_by("discharged", "id"):
        decision = claim.decisions.filter(is_current=True).first()
        trace = decision.trace if decision else []
        rows.append(
            {
                "claim": claim,
                "decision": decision,
                "steps": [s for s in for_people(trace) if not s.startswith(CLOSING_PREFIX)],
                "articles": cited(trace),
            }
        )
    county = application.county
    return {
        "application": application,
        "county": county,
        "issuer": f"{county.name}医疗保障局",
        "person": application.person,
        "id_number": mask_id_number(application.person.id_number, user),
        "rows": rows,
        "total": application.total,
        "transitions": application.transitions.all(),
    }


# --- counter applications: who holds one now, and each supervisor's queue ------------------


def staff_name(user) -> str:
    """A member of staff as colleagues read them (None: the system)."""
    return "系统" if user is None else user.display_name


def application_holder(application) -> str:
    """Who the application waits for now, in words: the role (and person) that acts next."""
    from claims.models import Application

    State = Application.State
    state = application.state
    if state == State.DRAFT:
        return f"窗口经办（{staff_name(application.created_by)}）：补齐材料后提交"
    if state == State.RETURNED:
        return f"窗口经办（{staff_name(application.created_by)}）：补正后重新提交"
    if state == State.SUBMITTED:
        return "审核审批：初审（受理人、提交人以外的审批人）"
    if state == State.SECOND_REVIEW:
        first = ", ".join(
            staff_name(a.approver) for a in application.approvals.select_related("approver")
        )
        return f"审核审批：复审（{first}以外的另一位审批人）"
    if state == State.APPROVED:
        return "财务：月度结算支付"
    return "已办结"


def applications_first_review(queryset: QuerySet, user) -> QuerySet:
    """待我初审: waiting for a first approval, neither registered nor submitted by `user`."""
    from claims.models import Application

    return (
        queryset.filter(state=Application.State.SUBMITTED)
        .exclude(submitted_by=user)
        .exclude(created_by=user)
    )


def applications_second_review(queryset: QuerySet, user) -> QuerySet:
    """待我复审: approved once, waiting for a second supervisor who is not `user` (not the
    first approver, not the clerk who registered or submitted it)."""
    from claims.models import Application

    return (
        queryset.filter(state=Application.State.SECOND_REVIEW)
        .exclude(approvals__approver=user)
        .exclude(submitted_by=user)
        .exclude(created_by=user)
    )


def assistance_by(*, year: int, by: str, user) -> list[tuple[str, Decimal]]:
    """救助金额 by `by` ("identity": the identity the current decision applied; "kind": the
    claim's kind) over the claims discharged in `year` that were accepted for payment or settled
    (what the fund owes or paid; a claim waiting for review is not spending yet) and that
    `user` may see: the sums of their current decisions' totals, largest first, one grouped
    query."""
    column = {"identity": "identity", "kind": "claim__kind"}[by]
    decisions = Decision.objects.filter(
        is_current=True,
        claim__discharged__gte=date(year, 1, 1),
        claim__discharged__lte=date(year, 12, 31),
        claim__status__in=SPENDING_STATUSES,
    )
    rows = (
        scope_to_user(
            decisions, user, county_field="claim__county", hospital_field="claim__hospital"
        )
        .values(column)
        .annotate(s=Sum("total"))
        .order_by("-s", column)
    )
    return [(row[column], to_yuan(row["s"] or 0)) for row in rows]
