"""The claims reports of the report centre: 救助明细台账 and 预警名单 for a county and month."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from claims import imports, services
from claims.models import Claim, Decision, Warning, WarningDispatch
from medaid.core.models import User
from tests.claims.conftest import committed, line, make_person, make_user
from tests.claims.test_monitoring import decide
from tests.claims.test_recompute import manual_claim
from tests.report_support import column, run_report, total

D = Decimal


@pytest.fixture
def admin(db):
    return User.objects.create_superuser("boss", password="x" * 12)


@pytest.fixture
def declared(county, hospital, tekun, dibao):
    with committed():
        imports.declaration_from_rows(
            rows=[
                line(tekun, "A1"),
                line(dibao, "A2", admitted="2024-03-11", discharged="2024-03-12"),
            ],
            year=2024,
            month=3,
            hospital=hospital,
        )


@pytest.mark.django_db
def test_claims_register_totals_equal_the_current_decisions(
    admin, county, declared, django_capture_on_commit_callbacks
):
    job, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="claims_register",
        user=admin,
        county=county,
        period="2024-03",
    )
    assert job.result["filename"] == "救助明细台账_平顺县_2024-03.xlsx"
    (rows,) = sheets.values()
    march = Claim.objects.filter(discharged__month=3)
    assert sorted(column(rows, "结算单号")) == ["A1", "A2"]
    decisions = Decision.objects.filter(claim__in=march, is_current=True)
    assert total(rows, "救助合计") == decisions.aggregate(s=Sum("total"))["s"]
    assert total(rows, "医疗总费用") == march.aggregate(s=Sum("total_cost"))["s"]
    assert total(rows, "医院申报救助金额") == march.aggregate(s=Sum("declared_assistance"))["s"]
    # Chinese labels, not codes, and masked ID numbers for a user without the permission.
    assert set(column(rows, "救助项目")) == {"住院"}


@pytest.mark.django_db
def test_claims_register_masks_id_numbers_and_keeps_to_the_users_county(
    county, declared, django_capture_on_commit_callbacks
):
    clerk = make_user("reader", county, ["claims.view_claim"])
    _, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="claims_register",
        user=clerk,
        county=county,
        period="2024-03",
    )
    (rows,) = sheets.values()
    numbers = column(rows, "公民身份号码")
    assert len(numbers) == 2 and all("*" in number for number in numbers)


@pytest.fixture
def warned(county, hospital):
    person = make_person(county, None, name="其他")
    manual_claim(person, hospital, "O1", dt.date(2024, 3, 1), "30000", "0")
    key = make_person(county, "dibao", name="重点")
    manual_claim(
        key,
        hospital,
        "K1",
        dt.date(2024, 3, 1),
        "10000",
        "6000",
        out_of_catalog_cost=D("9000"),
        total_cost=D("19000"),
    )
    decide(person, key)
    services.burdens_monitor(today=dt.date(2024, 9, 28))
    services.warning_lists_send(today=dt.date(2024, 9, 30))


@pytest.mark.django_db
def test_warning_list_one_row_per_warning_with_its_departments(
    admin, county, warned, django_capture_on_commit_callbacks
):
    job, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="warning_list",
        user=admin,
        county=county,
        period="2024-09",
    )
    assert job.result["filename"] == "预警名单_平顺县_2024-09.xlsx"
    (rows,) = sheets.values()
    warnings = Warning.objects.filter(county=county, found_on__month=9)
    assert warnings.count() == 2 and WarningDispatch.objects.count() > 2
    assert sorted(column(rows, "姓名")) == ["其他", "重点"]
    assert total(rows, "个人负担") == warnings.aggregate(s=Sum("amount"))["s"]
    assert all("民政" in d or "卫生" in d for d in column(rows, "推送部门"))
    assert all("待答复" in a or "逾期" in a for a in column(rows, "答复情况"))


@pytest.mark.django_db
def test_warning_list_of_a_month_without_warnings_is_an_empty_list(
    admin, county, warned, django_capture_on_commit_callbacks
):
    _, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="warning_list",
        user=admin,
        county=county,
        period="2024-08",
    )
    (rows,) = sheets.values()
    assert column(rows, "姓名") == [] and total(rows, "个人负担") == 0


@pytest.mark.django_db
def test_a_city_wide_register_of_a_whole_year(admin, declared, django_capture_on_commit_callbacks):
    job, sheets = run_report(
        django_capture_on_commit_callbacks, kind="claims_register", user=admin, year=2024
    )
    assert job.result["filename"] == "救助明细台账_全市_2024.xlsx"
    (rows,) = sheets.values()
    refs = sorted(
        Claim.objects.filter(discharged__year=2024).values_list("external_ref", flat=True)
    )
    assert sorted(column(rows, "结算单号")) == refs and len(refs) >= 2
    current = Decision.objects.filter(is_current=True).aggregate(s=Sum("total"))["s"]
    assert total(rows, "救助合计") == current
