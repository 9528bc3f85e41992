"""Reads of the registry, and the engine's frozen facts built from rows (no query per person)."""

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Max, Q
from django.db.models.functions import Substr

from beneficiaries.models import (
    County,
    Household,
    Identity,
    IdentityTypeMapping,
    ParameterChange,
    Person,
    PoolingArea,
    PoolingAreaPolicy,
)
from medaid.policy import Amendment, Case, IdentityPeriod, PersonFacts


@dataclass(frozen=True, slots=True)
class AreaPolicy:
    """The pack that decides a pooling area's claims over a stretch of days, with the area's
    own figures as the pack's parameters (`Case.parameters` form). `start` None: the area's
    `policy_code`, in force before its first dated assignment."""

    start: date | None
    code: str
    parameters: tuple[tuple[str, str], ...] = ()
    #: The approved parameter changes of the area laid over this pack (`Case.amendments`).
    amendments: tuple[Amendment, ...] = ()


class AreaSchedule:
    """One pooling area's packs by date (`PoolingAreaPolicy` rows over its `policy_code`)."""

    __slots__ = ("_starts", "policies")

    def __init__(self, policies: list[AreaPolicy]) -> None:
        self.policies = policies  # the default first, then by start
        self._starts = [p.start for p in policies[1:]]

    def on(self, day: date) -> AreaPolicy:
        return self.policies[bisect.bisect_right(self._starts, day)]


def area_schedules(*, pooling_areas: Iterable[int] | None = None) -> dict[int, AreaSchedule]:
    """Every (or the given) pooling area's schedule of packs: two queries, whatever the count."""
    areas = PoolingArea.objects.all()
    rows = PoolingAreaPolicy.objects.order_by("pooling_area_id", "start")
    if pooling_areas is not None:
        areas = areas.filter(id__in=pooling_areas)
        rows = rows.filter(pooling_area_id__in=pooling_areas)
    approved = approved_amendments()
    dated: dict[int, list[AreaPolicy]] = defaultdict(list)
    for area_id, start, code, parameters in rows.values_list(
        "pooling_area_id", "start", "policy_code", "parameters"
    ):
        changes = approved.get((area_id, code), ())
        dated[area_id].append(AreaPolicy(start, code, Case.overrides(parameters or {}), changes))
    return {
        area_id: AreaSchedule(
            [AreaPolicy(None, code, (), approved.get((area_id, code), ())), *dated.get(area_id, ())]
        )
        for area_id, code in areas.values_list("id", "policy_code")
    }


def change_amendment(change: ParameterChange) -> Amendment:
    """A parameter change as the engine lays it over the pack."""
    return Amendment(
        parameter=change.parameter,
        start=change.effective_date,
        value=change.value,
        ref=change.citation,
        key=change.key,
    )


# The approved changes by (pooling area, pack), cached per process and read again only when
# the approved set moved: one aggregate query per call, never a query per person. Approved is
# final (a change is never un-approved), so the count and the last approval name the set.
_APPROVED: dict[str, object] = {"token": None, "changes": {}}


def approved_amendments() -> dict[tuple[int, str], tuple[Amendment, ...]]:
    approved = ParameterChange.objects.filter(
        state=ParameterChange.State.APPROVED, kind=ParameterChange.Kind.PARAMETER
    )
    token = tuple(approved.aggregate(n=Count("id"), last=Max("decided_at"), top=Max("id")).values())
    if _APPROVED["token"] != token:
        found: dict[tuple[int, str], list[Amendment]] = defaultdict(list)
        for change in approved.order_by("effective_date", "id"):
            found[(change.pooling_area_id, change.policy_code)].append(change_amendment(change))
        _APPROVED["changes"] = {key: tuple(value) for key, value in found.items()}
        _APPROVED["token"] = token
    return _APPROVED["changes"]  # type: ignore[return-value]


def amendments_for(
    *, pooling_area: PoolingArea | int, policy_code: str, drafts: Iterable[ParameterChange] = ()
) -> tuple[Amendment, ...]:
    """The approved changes of the area's pack `policy_code` (what decides its claims), with
    `drafts` — changes not yet approved, e.g. a replay's — laid over them too (a draft of the
    same parameter and day replaces the approved one)."""
    area_id = pooling_area if isinstance(pooling_area, int) else pooling_area.pk
    approved = approved_amendments().get((area_id, policy_code), ())
    extra = tuple(change_amendment(c) for c in drafts if c.kind == ParameterChange.Kind.PARAMETER)
    replaced = {(a.parameter, a.start) for a in extra}
    return tuple(a for a in approved if (a.parameter, a.start) not in replaced) + extra


def policy_on(*, pooling_area: PoolingArea | int, day: date) -> AreaPolicy:
    """The pack (and the area's own figures) deciding the area's claims of `day`."""
    area_id = pooling_area if isinstance(pooling_area, int) else pooling_area.pk
    return area_schedules(pooling_areas=[area_id])[area_id].on(day)


def identities_held_on(*, on: date):
    return Identity.objects.filter(start__lte=on).filter(Q(end__isnull=True) | Q(end__gte=on))


def person_facts(*, people) -> dict[int, PersonFacts]:
    """Each person's identity periods (history included: the engine decides by date) and birth
    date, as the engine wants them. `people`: ids, or a one-column queryset of ids. The one
    builder of a person's facts: the recompute, the premium subsidy and the reconciliation use
    it alike."""
    periods: dict[int, list[IdentityPeriod]] = defaultdict(list)
    identities = (
        Identity.objects.filter(person_id__in=people)
        .order_by("person_id", "start", "id")
        .values_list("person_id", "code", "start", "end")
    )
    for person_id, code, start, end in identities.iterator(chunk_size=5000):
        periods[person_id].append(IdentityPeriod(code=code, start=start, end=end))
    births = Person.objects.filter(id__in=people).values_list("id", "birth_date")
    return {
        person_id: PersonFacts(identities=tuple(periods.get(person_id, ())), birth_date=birth)
        for person_id, birth in births.iterator(chunk_size=5000)
    }


def premium_facts(*, county: County, on: date, chunk: int = 5000) -> Iterator[tuple]:
    """(person id, insurance scheme, facts) for everyone of the county holding any identity on
    `on`, in chunks of people: two queries per chunk."""
    held = (
        identities_held_on(on=on)
        .filter(person__county=county)
        .values_list("person_id", flat=True)
        .distinct()
        .order_by("person_id")
    )
    ids = list(held)
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        schemes = dict(Person.objects.filter(pk__in=part).values_list("pk", "insurance_scheme"))
        facts = person_facts(people=part)
        for pk in part:
            yield pk, schemes[pk], facts[pk]


@dataclass(frozen=True, slots=True)
class HistoryValue:
    start: date
    value: object
    unit: str
    ref: str
    source: str  # "原政策包" or "变更#N"
    superseded_by: str = ""  # a YAML value a change of the same day replaced


@dataclass(frozen=True, slots=True)
class HistoryRow:
    name: str
    description: str
    values: tuple[HistoryValue, ...]
    changed: bool


def parameter_history(*, pooling_area: PoolingArea, policy_code: str) -> list[HistoryRow]:
    """Each parameter of the pack `policy_code` as it decides `pooling_area`, over time: the
    shipped YAML values with the area's approved changes overlaid, each with its citation and
    whether it is the pack's own (原政策包) or a change (变更#N)."""
    from medaid.policy import load_pack
    from medaid.policy.parameters import describe

    pack = load_pack(policy_code)
    approved = ParameterChange.objects.filter(
        pooling_area=pooling_area,
        policy_code=policy_code,
        kind=ParameterChange.Kind.PARAMETER,
        state=ParameterChange.State.APPROVED,
    ).order_by("effective_date", "id")
    by_name: dict[str, list[ParameterChange]] = defaultdict(list)
    for change in approved:
        by_name[change.parameter].append(change)
    rows = []
    for name, param in sorted(pack.parameters.items()):
        changes = by_name.get(name, [])
        starts = {c.effective_date: c.key for c in changes}
        values = [
            HistoryValue(v.start, v.value, v.unit, v.ref, "原政策包", starts.get(v.start, ""))
            for v in param.values
        ]
        for change in changes:
            before = param.at(change.effective_date)
            values.append(
                HistoryValue(
                    change.effective_date,
                    change.value,
                    before.unit if before is not None else "yuan",
                    f"{change.citation}；{change.effective_rule}",
                    change.key,
                )
            )
        values.sort(key=lambda v: (v.start, v.source != "原政策包"))
        rows.append(HistoryRow(name, describe(pack, name), tuple(values), bool(changes)))
    return rows


def identity_type_mappings() -> dict[str, list[tuple]]:
    """The platform's 人员身份类别 codes (`IdentityTypeMapping`), each with its dated rows
    (valid_from, valid_to or None, our identity or "" for a code outside assistance, label)."""
    rows: dict[str, list[tuple]] = {}
    for code, start, end, identity, label in IdentityTypeMapping.objects.order_by(
        "code", "valid_from"
    ).values_list("code", "valid_from", "valid_to", "identity", "label"):
        rows.setdefault(code, []).append((start, end, identity, label))
    return rows


def premium_transfer_holder(request) -> str:
    """Who a premium transfer request waits for: finance proposing the transfer (posted only
    when a second person checks it, in the fund's 资金变动复核), or nobody."""
    from beneficiaries.models import PremiumTransferRequest

    if request.status == PremiumTransferRequest.Status.REQUESTED:
        return "财务：提交资助参保划转，经第二人复核后记账"
    return "已办结"


_TAIL = re.compile(r"^(?:\d{3}|\d{5})[\dX]$")


def people_search(queryset, term: str):
    """The people of `queryset` a counter's search names: a full ID number (18 characters), its
    last 6 or last 4 characters (the check character may be X), a name (exact, or its
    beginning), a household code or the platform's person number (psn_no). Each form is read
    off an index (Person.Meta.indexes: the ID number's unique
    index, its last-6 and last-4 expression indexes, (county, name)), on PostgreSQL and SQLite.
    Full-width digits, a lower-case x and spaces are normalised first."""
    from beneficiaries.id_numbers import normalise

    term = (term or "").strip()
    number = normalise(term).upper()
    if len(number) == 18 and number[:17].isdigit():
        return queryset.filter(id_number=number)
    if _TAIL.match(number):
        if len(number) == 6:
            return queryset.alias(_last6=Substr("id_number", 13, 6)).filter(_last6=number)
        return queryset.alias(_last4=Substr("id_number", 15, 4)).filter(_last4=number)
    if not term:
        return queryset
    households = Household.objects.filter(code=term).values("pk")
    return queryset.filter(Q(name__startswith=term) | Q(household__in=households) | Q(psn_no=term))
