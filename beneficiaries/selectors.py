"""Reads of the registry, and the engine's frozen facts built from rows (no query per person)."""

import bisect
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from django.db.models import Q
from django.db.models.functions import Substr

from beneficiaries.models import (
    County,
    Household,
    Identity,
    Person,
    PoolingArea,
    PoolingAreaPolicy,
)
from medaid.policy import Case, IdentityPeriod, PersonFacts


@dataclass(frozen=True, slots=True)
class AreaPolicy:
    """The pack that decides a pooling area's claims over a stretch of days, with the area's
    own figures as the pack's parameters (`Case.parameters` form). `start` None: the area's
    `policy_code`, in force before its first dated assignment."""

    start: date | None
    code: str
    parameters: tuple[tuple[str, str], ...] = ()


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
    dated: dict[int, list[AreaPolicy]] = defaultdict(list)
    for area_id, start, code, parameters in rows.values_list(
        "pooling_area_id", "start", "policy_code", "parameters"
    ):
        dated[area_id].append(AreaPolicy(start, code, Case.overrides(parameters or {})))
    return {
        area_id: AreaSchedule([AreaPolicy(None, code), *dated.get(area_id, ())])
        for area_id, code in areas.values_list("id", "policy_code")
    }


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


_TAIL = re.compile(r"^(?:\d{3}|\d{5})[\dX]$")


def people_search(queryset, term: str):
    """The people of `queryset` a counter's search names: a full ID number (18 characters), its
    last 6 or last 4 characters (the check character may be X), or a name (exact, or its
    beginning). Each form is read off an index (Person.Meta.indexes: the ID number's unique
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
    return queryset.filter(Q(name__startswith=term) | Q(household__in=households))
