"""Identity periods one at a time: opened at the counter or by an approved 因病致贫
application (the roster merge writes its periods in bulk, `beneficiaries.merge`). History is
kept: a period is closed by its end date, and the Person and Identity triggers audit every
change.
"""

from datetime import date

from django.db import transaction

from beneficiaries.models import Department, Identity, Person


def identity_open(
    *,
    person: Person,
    code: str,
    start: date,
    department: Department | None = None,
    certified_on: date | None = None,
    end: date | None = None,
    source_line: str = "",
) -> Identity:
    """Open a period unless one of the same identity already covers `start`. Caller holds no
    lock; the person row is locked here so two clerks cannot open overlapping periods."""
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()
        overlapping = Identity.objects.filter(person=person, code=code, start__lte=end or date.max)
        overlapping = overlapping.exclude(end__lt=start)
        existing = overlapping.first()
        if existing is not None:
            return existing
        return Identity.objects.create(
            person=person,
            code=code,
            start=start,
            end=end,
            department=department,
            certified_on=certified_on,
            source_line=source_line,
        )
