"""Identity periods one at a time: opened at the counter or by an approved 因病致贫
application, and edited or deleted on the admin's person and identity pages.

Every such change goes through `identities_change` (the roster merge writes its periods in
bulk, `beneficiaries.merge`). History is kept: a period is closed by its end date, and the
Person and Identity triggers audit every change.
"""

from collections.abc import Iterable
from contextlib import nullcontext
from datetime import date

from django.db import transaction
from django.utils import timezone

from beneficiaries.audit import history_context
from beneficiaries.models import Department, Identity, Person
from medaid.core import topics, validators
from medaid.core.outbox import event_emit


def identity_check(
    *,
    start: date | None,
    end: date | None = None,
    certified_on: date | None = None,
    birth_date: date | None = None,
    today: date | None = None,
) -> None:
    """The dates of one identity period, as a roster line's are checked: start and end within
    the planning horizon, certification not after today, none before the person's birth, the
    end not before the start. The admin's forms call it too, to show a refusal in place."""
    today = today or timezone.localdate()
    since = {"earliest": birth_date, "earliest_label": "出生日期"} if birth_date else {}
    validators.day(start, field="start", label="起始日期", today=today, ahead="planned", **since)
    validators.day(end, field="end", label="终止日期", today=today, ahead="planned", **since)
    validators.period(start, end, field="end", start_label="起始日期", end_label="终止日期")
    validators.day(certified_on, field="certified_on", label="认定日期", today=today, **since)


def identities_change(
    *,
    person: Person,
    save: Iterable[Identity] = (),
    delete: Iterable[Identity] = (),
    changed_by=None,
) -> None:
    """Delete, then save, identity periods of `person` in one transaction, audited under
    `changed_by` when given. The periods are saved as they are (the caller validated them).
    Caller holds no lock; the person row is locked here, as `identity_open` does. Refuses
    (changing nothing) a period whose dates `identity_check` refuses."""
    context = history_context(user=changed_by.pk) if changed_by is not None else nullcontext()
    save, delete = list(save), list(delete)
    for identity in save:
        identity_check(
            start=identity.start,
            end=identity.end,
            certified_on=identity.certified_on,
            birth_date=person.birth_date,
        )
    with transaction.atomic(), context:
        Person.objects.select_for_update().filter(pk=person.pk).first()
        # What the periods said before the change counts too: a start moved from March to May
        # changes what March's claims are owed.
        touched = [i.pk for i in [*save, *delete] if i.pk]
        days = [
            day
            for start, end in Identity.objects.filter(pk__in=touched).values_list("start", "end")
            for day in (start, end)
            if day
        ]
        days += [day for i in save for day in (i.start, i.end) if day]
        for identity in delete:
            identity.delete()
        for identity in save:
            identity.save()
        if days:
            event_emit(
                topics.IDENTITY_CHANGED,
                {"people": [[person.pk, min(days).isoformat()]], "source": "身份编辑"},
                key=f"county:{person.county_id}",
            )


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
        identity = Identity(
            person=person,
            code=code,
            start=start,
            end=end,
            department=department,
            certified_on=certified_on,
            source_line=source_line,
        )
        identities_change(person=person, save=[identity])
    return identity
