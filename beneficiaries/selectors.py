"""Reads of the registry, and the engine's frozen facts built from rows (no query per person)."""

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from django.db.models import Q

from beneficiaries.models import County, Identity, Person
from medaid.policy import IdentityPeriod, PersonFacts


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
