"""The national platform's person number (`Person.psn_no`) recorded from the (person, psn_no)
pairs another app's platform files carry: a settlement list names both its person (by certno)
and the platform's number. Set-based: the pairs are loaded into a work table and one UPDATE
fills the people who have no number yet. A number already held by someone else, or a person
who already holds another number, is left as it is (the identity import refuses such lines).
The people's audit events are written set-based too (the row trigger stands aside)."""

from collections.abc import Iterable

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from beneficiaries.models import Person
from medaid.core.bulk import insert_rows

_WORK = "medaid_psn_no_pairs"


def people_psn_no_record(*, pairs: Iterable[tuple[int, str]]) -> int:
    """Record `psn_no` on each person id of `pairs` that has none; returns how many were set.
    A pair list naming one person with two numbers, or one number for two people, records
    neither of them."""
    person = Person._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_WORK}")
        cursor.execute(f"CREATE TEMP TABLE {_WORK} (person_id BIGINT, psn_no VARCHAR(32))")
        loaded = insert_rows(
            _WORK, ("person_id", "psn_no"), ((p, n) for p, n in pairs if p and n), plain=True
        )
        count = 0
        if loaded:
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {_WORK}")
            # Anti-joins, not `NOT IN (subquery)`: over a temporary table the planner knows
            # nothing of, that was a subplan rescanned per person (44 s for 20 000 pairs).
            now = timezone.now()
            audited = connection.vendor == "postgresql"
            if audited:
                # A trigger per person (its context looked up in a subtransaction each time)
                # was 34 s of 36 for 17 000 people inside a declaration's transaction.
                cursor.execute("SELECT set_config('medaid.bulk_audit', 'on', true)")
            cursor.execute(
                f"""UPDATE {person} SET psn_no = u.psn_no, updated_at = %s
                    FROM (SELECT person_id, MIN(psn_no) AS psn_no FROM {_WORK}
                          GROUP BY person_id HAVING MIN(psn_no) = MAX(psn_no)) u
                    WHERE {person}.id = u.person_id AND {person}.psn_no IS NULL
                      AND NOT EXISTS (SELECT 1 FROM {_WORK} s
                          WHERE s.psn_no = u.psn_no AND s.person_id <> u.person_id)
                      AND NOT EXISTS (SELECT 1 FROM {person} o WHERE o.psn_no = u.psn_no)""",
                [now],
            )
            count = max(cursor.rowcount, 0)
            if audited:
                cursor.execute("SELECT set_config('medaid.bulk_audit', 'off', true)")
                if count:
                    _audit_updates(cursor, now)
        cursor.execute(f"DROP TABLE {_WORK}")
    return count


def _audit_updates(cursor, now) -> None:
    """The "update" events the trigger would have written, for the people this call numbered
    (those of the work table stamped `now`), under the pghistory context of the request or job
    if there is one."""
    event = apps.get_model("beneficiaries", "PersonEvent")
    columns = [f.column for f in event._meta.concrete_fields if not f.column.startswith("pgh_")]
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(f'p."{c}"' for c in columns)
    # Once, not per row: the function opens a subtransaction each call, which in a
    # declaration's transaction (its deferred key checks queued) cost 23 s for 17 000 rows.
    cursor.execute("SELECT _pgh_attach_context()")
    (context_id,) = cursor.fetchone()
    cursor.execute(
        f"""INSERT INTO {event._meta.db_table}
                (pgh_created_at, pgh_label, pgh_obj_id, pgh_context_id, {names})
            SELECT %s, 'update', p.id, %s, {values}
            FROM {Person._meta.db_table} p
            WHERE p.updated_at = %s AND p.id IN (SELECT person_id FROM {_WORK})""",
        [now, context_id, now],
    )
