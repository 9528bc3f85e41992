"""The registry's reports of the report centre: 救助对象名册 and 资助参保名册."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Sum

from beneficiaries import services
from beneficiaries.models import ContributionYear, Identity, Person, SubsidyLine, SubsidyRoster
from medaid.core.models import User
from medaid.core.reports import ReportRequestError, report_job_start
from tests.beneficiaries.conftest import make_id
from tests.report_support import column, run_report, total

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return User.objects.create_superuser("boss", password="x" * 12)


def _person(county, n, name, *identities):
    person = Person.objects.create(
        id_number=make_id(n),
        name=name,
        sex="F",
        birth_date=dt.date(1980, 1, 1),
        county=county,
    )
    for code, start, end in identities:
        Identity.objects.create(person=person, code=code, start=start, end=end)
    return person


@pytest.fixture
def registry(county, other_county):
    old = dt.date(2023, 1, 1)
    _person(county, 1, "甲", ("tekun", old, None))
    _person(county, 2, "乙", ("dibao", old, None), ("severe_disability", old, None))
    _person(county, 3, "丙", ("dibao", old, dt.date(2023, 6, 30)))  # ended: no current identity
    _person(county, 4, "丁", ("dibao_edge", old, None))
    _person(other_county, 5, "戊", ("tekun", old, None))


def test_person_roster_lists_the_county_with_current_identities(
    admin, county, registry, django_capture_on_commit_callbacks
):
    job, sheets = run_report(
        django_capture_on_commit_callbacks, kind="person_roster", user=admin, county=county
    )
    assert job.result["filename"].startswith("救助对象名册_隆阳区_")
    rows = sheets["名册"]
    names = column(rows, "姓名")
    assert names == ["甲", "乙", "丙", "丁"]
    held = dict(zip(names, column(rows, "现有身份"), strict=True))
    assert held["甲"] == "特困人员" and held["丙"] == ""
    assert "低保对象" in held["乙"] and "、" in held["乙"]
    today = dt.date.today()
    current = Identity.objects.filter(person__county=county, start__lte=today, end__isnull=True)
    assert total(rows, "身份数") == current.count() == 4
    # The superuser may see full numbers.
    assert make_id(1) in column(rows, "公民身份号码")


def test_person_roster_masks_ids_without_the_permission(
    county, registry, django_capture_on_commit_callbacks
):
    clerk = User.objects.create_user("clerk", password="x" * 12, county=county)
    clerk.user_permissions.add(Permission.objects.get(codename="view_person"))
    clerk = User.objects.get(pk=clerk.pk)
    _, sheets = run_report(
        django_capture_on_commit_callbacks, kind="person_roster", user=clerk, county=county
    )
    numbers = column(sheets["名册"], "公民身份号码")
    assert len(numbers) == 4 and all("*" in n and n not in (make_id(1),) for n in numbers)


def test_person_roster_of_another_county_is_refused(county, other_county, registry):
    clerk = User.objects.create_user("clerk", password="x" * 12, county=county)
    clerk.user_permissions.add(Permission.objects.get(codename="view_person"))
    clerk = User.objects.get(pk=clerk.pk)
    with pytest.raises(ReportRequestError):
        report_job_start(kind="person_roster", user=clerk, county=other_county)


@pytest.fixture
def contribution(area):
    return ContributionYear.objects.create(
        pooling_area=area,
        year=2024,
        individual_contribution=Decimal("380.00"),
        collection_start=dt.date(2023, 9, 1),
        collection_end=dt.date(2023, 12, 31),
        parameters={"premium.dibao.amount": "200"},
    )


def test_subsidy_roster_totals_equal_the_roster(
    admin, county, registry, contribution, django_capture_on_commit_callbacks
):
    roster = services.subsidy_roster_build(
        county=county, year=2024, decision_date=dt.date(2023, 9, 1)
    )
    job, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="subsidy_roster",
        user=admin,
        county=county,
        year=2024,
    )
    assert job.result["filename"] == "资助参保名册_隆阳区_2024.xlsx"
    (rows,) = sheets.values()
    db = SubsidyLine.objects.filter(roster=roster).aggregate(s=Sum("amount"))["s"]
    assert total(rows, "资助金额") == db == roster.total
    assert len(column(rows, "姓名")) == roster.lines.count()


def test_subsidy_roster_not_yet_built_is_a_trial_that_writes_nothing(
    admin, county, registry, contribution, django_capture_on_commit_callbacks
):
    job, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="subsidy_roster",
        user=admin,
        county=county,
        year=2024,
    )
    assert "试算" in job.result["filename"]
    (rows,) = sheets.values()
    assert "试算" in rows[0][0]
    assert total(rows, "资助金额") > 0
    assert not SubsidyRoster.objects.exists() and not SubsidyLine.objects.exists()
    # The trial is what building gives.
    roster = services.subsidy_roster_build(
        county=county, year=2024, decision_date=dt.date(2024, 12, 31)
    )
    assert total(rows, "资助金额") == roster.total


def test_subsidy_roster_without_a_contribution_year_says_so(admin, county, registry):
    from medaid.core.reports import REPORTS

    with pytest.raises(ReportRequestError, match="个人缴费标准"):
        REPORTS["subsidy_roster"].builder(user=admin, county=county, parameters={"year": 2024})
