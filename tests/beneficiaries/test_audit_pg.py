"""On PostgreSQL: a bulk merge leaves the same audit trail the row triggers would."""

from datetime import date

import pytest
from django.apps import apps
from django.db import connection

from beneficiaries import merge, services
from beneficiaries.models import Identity, Person
from tests.beneficiaries.conftest import HEADERS, csv_upload, make_id

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def apply_feed(department, rows, *, stated: date, headers=HEADERS):
    """Receive, validate and apply a change feed over the API channel."""
    batch, _ = services.roster_import_receive(
        department=department,
        kind="feed",
        upload=csv_upload(rows, headers=headers),
        file_name=f"feed-{stated}.csv",
        stated_date=stated,
        channel="api",
    )
    services.roster_import_validate(batch=batch)
    summary = services.roster_import_apply(batch=batch)
    return batch, summary


def test_bulk_merge_is_audited_and_triggers_still_fire_for_single_rows(civil):
    assert connection.vendor == "postgresql", "integration tests need DATABASE_URL=postgres://…"
    PersonEvent = apps.get_model("beneficiaries", "PersonEvent")
    IdentityEvent = apps.get_model("beneficiaries", "IdentityEvent")
    rows = [
        ["新增", make_id(n), f"甲{chr(0x4E00 + n)}", "低保对象", "", "2024-01-01", ""]
        for n in range(1, 6)
    ]
    batch, _ = apply_feed(civil, rows, stated=date(2024, 3, 5))
    assert PersonEvent.objects.filter(pgh_label="insert").count() == 5
    assert IdentityEvent.objects.filter(pgh_label="insert").count() == 5
    context = IdentityEvent.objects.first().pgh_context
    assert context.metadata["roster_import"] == batch.pk
    # Each event is the snapshot of the row it belongs to.
    second = Person.objects.get(id_number=make_id(2))
    event = PersonEvent.objects.get(pgh_obj_id=second.pk)
    assert (event.id_number, event.name, event.county_id, event.birth_date) == (
        second.id_number,
        second.name,
        second.county_id,
        second.birth_date,
    )
    assert IdentityEvent.objects.get(pgh_obj_id=second.identities.get().pk).person_id == second.pk
    # The exit goes through the ordinary update trigger.
    exit_line = ["退出", make_id(1), rows[0][2], "低保对象", "", "", "2024-02-29"]
    apply_feed(civil, [exit_line], stated=date(2024, 3, 6))
    assert IdentityEvent.objects.filter(pgh_label="update").count() == 1
    # A change closes one period (an update) and opens another (an insert, written in bulk).
    change_line = ["变更", make_id(2), rows[1][2], "特困人员", "低保对象", "2024-04-01", ""]
    apply_feed(civil, [change_line], stated=date(2024, 4, 6))
    assert IdentityEvent.objects.filter(pgh_label="update").count() == 2
    opened = Identity.objects.get(person=second, code="tekun")
    assert IdentityEvent.objects.get(pgh_obj_id=opened.pk).pgh_label == "insert"
    # Outside a bulk merge the insert trigger is active.
    person = Person.objects.create(
        id_number=make_id(9), name="乙", sex="M", birth_date=date(1980, 1, 1), county=civil.county
    )
    Identity.objects.create(person=person, code="dibao", start=date(2024, 1, 1))
    assert PersonEvent.objects.filter(pgh_obj_id=person.pk).count() == 1
    assert IdentityEvent.objects.filter(pgh_label="insert").count() == 7


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-keys", "row-triggers"])
def test_bulk_inserts_keep_their_keys_with_and_without_row_key_checks(
    civil, township, monkeypatch, trusted
):
    """The merge's inserts skip the per-row key triggers only where the role may do so; either
    way the registry ends up the same and every key holds."""
    assert connection.vendor == "postgresql", "integration tests need DATABASE_URL=postgres://…"
    original = merge.TrustedKeys.__init__
    seen = []

    def init(self, cursor):
        original(self, cursor)
        self.enabled = self.enabled and trusted
        seen.append(self.enabled)

    monkeypatch.setattr(merge.TrustedKeys, "__init__", init)
    headers = [*HEADERS, "户编号", "乡镇（街道）"]
    rows = [
        ["新增", make_id(n), f"丙{chr(0x4E00 + n)}", "低保对象", "", "2024-01-01", ""]
        for n in range(1, 7)
    ]
    rows = [[*row, f"H{n // 2}", township.name] for n, row in enumerate(rows, start=1)]
    _batch, summary = apply_feed(civil, rows, stated=date(2024, 3, 5), headers=headers)
    assert seen and all(s is trusted for s in seen)
    assert summary["counts"] == {"added": 6}
    people = Person.objects.filter(county=civil.county)
    assert people.count() == 6
    assert set(people.values_list("township_id", flat=True)) == {township.pk}
    assert people.values("household_id").distinct().count() == 4
    assert Identity.objects.filter(person__in=people, department=civil).count() == 6
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
        # Every key the merge wrote points at a row that exists.
        cursor.execute(
            """SELECT COUNT(*) FROM beneficiaries_identity i
               LEFT JOIN beneficiaries_person p ON p.id = i.person_id WHERE p.id IS NULL"""
        )
        assert cursor.fetchone()[0] == 0
