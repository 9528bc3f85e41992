"""The national platform's person number (`Person.psn_no`) recorded from the (person, psn_no)
pairs another app's platform files carry: a settlement list names both its person (by certno)
and the platform's number. Set-based: the pairs are loaded into a work table and one UPDATE
fills the people who have no number yet. A number already held by someone else, or a person
who already holds another number, is left as it is (the identity import refuses such lines)."""

from collections.abc import Iterable

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
            cursor.execute(
                f"""UPDATE {person} SET psn_no = u.psn_no, updated_at = %s
                    FROM (SELECT person_id, MIN(psn_no) AS psn_no FROM {_WORK}
                          GROUP BY person_id HAVING MIN(psn_no) = MAX(psn_no)) u
                    WHERE {person}.id = u.person_id AND {person}.psn_no IS NULL
                      AND u.psn_no NOT IN (SELECT psn_no FROM {_WORK}
                          GROUP BY psn_no HAVING MIN(person_id) <> MAX(person_id))
                      AND NOT EXISTS (SELECT 1 FROM {person} o WHERE o.psn_no = u.psn_no)""",
                [timezone.now()],
            )
            count = max(cursor.rowcount, 0)
        cursor.execute(f"DROP TABLE {_WORK}")
    return count
