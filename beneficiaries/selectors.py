"""Reads of the registry, and the engine's frozen facts built from rows (no query per person)."""

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from django.db.models import Q

from beneficiaries.models import County, Identity, Person
from medaid.policy import IdentityPeriod, PersonFacts


def identities_held_on(*, on: date):
    return Identity.objects.filter(start__lte=on).filter(Q(end__isnull=True) | Q(end__gte=on))


def person_facts(*, person_ids) -> dict[int, PersonFacts]:
    """Every identity period of each person (history included: the engine decides by date)."""
    periods: dict[int, list[IdentityPeriod]] = defaultdict(list)
    births: dict[int, date] = dict(
        Person.objects.filter(pk__in=person_ids).values_list("pk", "birth_date")
    )
    rows = (
        Identity.objects.filter(person_id__in=person_ids)
        .order_by("person_id", "start")
        .values_list("person_id", "code", "start", "end")
    )
    for person_id, code, start, end in rows:
        periods[person_id].append(IdentityPeriod(code=code, start=start, end=end))
    return {
        pk: PersonFacts(identities=tuple(periods.get(pk, ())), birth_date=birth)
        for pk, birth in births.items()
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
        facts = person_facts(person_ids=part)
        for pk in part:
            yield pk, schemes[pk], facts[pk]
