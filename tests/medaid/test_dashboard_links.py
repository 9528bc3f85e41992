"""Every count of the front page, for every staff role, equals the number of rows of the list it
links to, followed with the test client as that user (issue 15: "the dashboard links each count
to exactly the rows it counts")."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.utils import timezone

from beneficiaries.models import (
    Department,
    FeedCheck,
    IllnessPovertyApplication,
    Person,
    RosterImport,
)
from claims.models import Application, Claim, Hospital, Warning
from funds.models import Deadline, SettlementRun
from medaid.core.models import Job
from medaid.dashboard import panels_for
from tests.medaid.conftest import make_user

ROLES = ("counter_clerk", "supervisor", "finance", "auditor", "city_administrator")


def _person(county, n):
    return Person.objects.create(
        id_number=f"53050219900101{n:04d}",
        name=f"人{n}",
        sex="M",
        birth_date=dt.date(1990, 1, 1),
        county=county,
    )


def _county_rows(county, n, clerk, *, today):
    """One county's share: rows in every state each panel counts, and rows beside them that it
    must not count (another state, an old year, long ago)."""
    hospital = Hospital.objects.create(code=f"H{n}", name=f"医院{n}", level=2, county=county)
    people = [_person(county, n * 100 + i) for i in range(8)]
    for i, state in enumerate(["draft", "draft", "returned", "submitted", "second_review"]):
        Application.objects.create(
            number=f"A{n}{i}",
            person=people[i],
            county=county,
            applied=today,
            state=state,
            created_by=clerk if i == 0 else None,
        )
    for i, status in enumerate(["submitted", "submitted", "approved"]):
        IllnessPovertyApplication.objects.create(
            person=people[i],
            county=county,
            applied_on=today,
            household_size=3,
            household_income=Decimal("1000"),
            financial_assets=Decimal("0"),
            cost_90_days=Decimal("5000"),
            created_by=clerk,
            status=status,
        )
    for i, status in enumerate(["review", "review", "accepted"]):
        Claim.objects.create(
            person=people[i],
            county=county,
            hospital=hospital,
            source="declaration",
            external_ref=f"E{n}{i}",
            kind="inpatient",
            admitted=today - dt.timedelta(days=9),
            discharged=today - dt.timedelta(days=5),
            total_cost=100,
            in_policy_cost=100,
            status=status,
        )
    department = Department.objects.create(county=county, kind="civil_affairs", name=f"民政{n}")
    imports = [("staged", 2), ("staged", 0), ("staged", 0), ("received", 0), ("failed", 0)]
    imports += [("rejected", 0), ("applied", 0)]
    for i, (status, errors) in enumerate(imports):
        RosterImport.objects.create(
            department=department,
            county=county,
            kind="roster",
            period=today.replace(day=1),
            stated_date=today,
            delivered_at=timezone.now(),
            channel="admin",
            file=f"rosters/{n}-{i}.csv",
            file_name=f"{n}-{i}.csv",
            file_format="csv",
            content_hash=f"{n}-{i}",
            status=status,
            rows_error=errors,
        )
    for i, (status, year) in enumerate(
        [("late", today.year), ("missing", today.year), ("on_time", today.year), ("late", 2019)]
    ):
        FeedCheck.objects.create(
            county=county,
            department=department,
            period=dt.date(year, 1 + i, 1),
            due=dt.date(year, 1 + i, 10),
            status=status,
        )
    warnings = [
        ("key", today.year, today),
        ("key", today.year, today - dt.timedelta(days=90)),
        ("other", today.year, today - dt.timedelta(days=3)),
        ("key", today.year - 1, today - dt.timedelta(days=2)),
    ]
    for i, (group, year, found) in enumerate(warnings):
        Warning.objects.create(
            person=people[i],
            county=county,
            year=year,
            kind="annual_burden",
            group=group,
            amount=Decimal("30000"),
            threshold=Decimal("20000"),
            policy_code="baoshan",
            found_on=found,
        )
    deadlines = [(-3, None), (-1, None), (2, None), (30, None), (-10, today)]
    for i, (days, done) in enumerate(deadlines):
        Deadline.objects.create(
            kind="county_matching",
            pooling_area=county.pooling_area,
            county=county,
            year=today.year,
            document_ref=f"D{n}{i}",
            starts_on=today - dt.timedelta(days=60),
            due_on=today + dt.timedelta(days=days),
            rule_ref="第二十条",
            completed_on=done,
        )
    for month, status in ((1, "running"), (2, "failed"), (3, "failed"), (4, "succeeded")):
        SettlementRun.objects.create(county=county, year=today.year, month=month, status=status)


def _jobs(user, county):
    now = timezone.now()
    jobs = [
        ("pending", now, None),
        ("running", now, None),
        ("succeeded", now, now),
        ("succeeded", now - dt.timedelta(days=20), now - dt.timedelta(days=20)),
        ("failed", now - dt.timedelta(days=1), now),
        ("failed", now - dt.timedelta(days=30), now - dt.timedelta(days=30)),
    ]
    for status, created, finished in jobs:
        job = Job.objects.create(kind="report.test", status=status, created_by=user, county=county)
        Job.objects.filter(pk=job.pk).update(created_at=created, finished_at=finished)
    # Someone else's job: not "mine".
    Job.objects.create(kind="report.test", status="running", county=county)


@pytest.fixture
def world(county_a, county_b):
    today = timezone.localdate()
    users = {}
    for role in ROLES:
        bound = role in {"counter_clerk", "supervisor", "finance"}
        users[role] = make_user(f"dash_{role}", role, county=county_a if bound else None)
    clerk_b = make_user("dash_clerk_b", "counter_clerk", county=county_b)
    _county_rows(county_a, 1, users["counter_clerk"], today=today)
    _county_rows(county_b, 2, clerk_b, today=today)
    for user in users.values():
        _jobs(user, user.county)
    return users


def _shown_rows(client, url) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    assert "?e=1" not in response.get("Location", ""), url
    return response.context["cl"].result_count


@pytest.mark.parametrize("role", ROLES)
def test_each_count_is_the_number_of_rows_its_link_shows(client, world, role):
    user = world[role]
    client.force_login(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    compared = {}
    for panel in panels_for(request):
        for item in panel.items:
            if not isinstance(item.value, int) or not item.url or "/change/" in item.url:
                continue
            assert "/admin/" in item.url, (panel.key, item.label)
            assert _shown_rows(client, item.url) == item.value, (panel.key, item.label, item.url)
            compared[(panel.key, item.label)] = item.value
    # The world has rows behind every count, so a link that lost its filter shows up as a
    # different number, and a count of nothing proves nothing.
    panels = {key for key, _ in compared}
    expected = {
        "counter_clerk": {"applications", "imports", "warnings", "jobs"},
        "supervisor": {"approvals", "imports", "warnings", "deadlines", "jobs"},
        "finance": {"deadlines", "settlements", "jobs"},
        "auditor": {"warnings", "deadlines", "jobs"},
        "city_administrator": {"approvals", "imports", "warnings", "deadlines", "settlements"},
    }[role]
    assert expected <= panels, panels
    for key in panels:
        assert sum(v for (k, _), v in compared.items() if k == key) > 0, key
    assert all(value > 0 for value in compared.values()), compared
