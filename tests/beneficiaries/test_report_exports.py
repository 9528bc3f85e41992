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
    people = [v for v in column(rows, "姓名") if not str(v).startswith("小计")]
    assert len(people) == roster.lines.count()


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


def _roster_book(job):
    import io

    import openpyxl
    from django.core.files.storage import default_storage

    with default_storage.open(job.result_file.name, "rb") as f:
        return openpyxl.load_workbook(io.BytesIO(f.read()))


def test_subsidy_roster_has_a_subtotal_per_identity_and_a_grand_total_to_the_cent(
    county, registry, contribution, django_capture_on_commit_callbacks
):
    roster = services.subsidy_roster_build(
        county=county, year=2024, decision_date=dt.date(2023, 9, 1)
    )
    finance = User.objects.create_user("fin", password="x" * 12, county=county)
    finance.user_permissions.add(Permission.objects.get(codename="view_subsidyroster"))
    finance = User.objects.get(pk=finance.pk)
    job, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="subsidy_roster",
        user=finance,
        county=county,
        year=2024,
    )
    assert list(sheets) == ["资助参保名册"]
    rows = sheets["资助参保名册"]
    by_identity = {
        row["identity"]: (row["s"], row["n"])
        for row in SubsidyLine.objects.filter(roster=roster)
        .values("identity")
        .annotate(s=Sum("amount"), n=models_count("id"))
    }
    assert len(by_identity) >= 2  # 特困 full and 低保 a fixed amount
    head = next(r for r in rows if "资助金额" in r)
    amount_at, identity_at = head.index("资助金额"), head.index("资助身份")
    subtotals = [r for r in rows if str(r[0]).startswith("小计")]
    assert len(subtotals) == len(by_identity)
    from beneficiaries.models import IdentityCode

    words = dict(IdentityCode.choices)
    for code, (amount, count) in by_identity.items():
        row = next(r for r in subtotals if r[0] == f"小计：{words[code]}（{count}人）")
        assert Decimal(str(row[amount_at])).quantize(Decimal("0.01")) == amount
    assert total(rows, "资助金额") == roster.total == sum(a for a, _ in by_identity.values())
    # Identities in glossary words, the subsidy class named, the ID masked for this role.
    end = next(i for i, r in enumerate(rows) if r[0] == "合计")
    body = [r for r in rows[rows.index(head) + 1 : end] if not str(r[0]).startswith("小计")]
    assert {r[identity_at] for r in body} <= set(words.values())
    classes = {r[head.index("资助类别")] for r in body}
    assert classes <= {"全额资助", "定额资助", "按比例资助"} and "全额资助" in classes
    assert all("*" in r[head.index("公民身份号码")] for r in body)

    ws = _roster_book(job)["资助参保名册"]
    first = rows.index(head) + 2  # 1-based row of the first data row
    year_cell = ws.cell(first, head.index("参保年度") + 1)
    assert year_cell.value == 2024 and year_cell.number_format == "0"
    date_cell = ws.cell(first, head.index("认定日期") + 1)
    assert isinstance(date_cell.value, dt.datetime) and date_cell.number_format == "yyyy-mm-dd"
    assert ws.cell(first, amount_at + 1).number_format == "#,##0.00"
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == f"$1:${rows.index(head) + 1}"
    assert ws.oddHeader.left.text == "区县：隆阳区"
    assert ws.oddHeader.right.text == "期间：2024年度"
    assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert [c for c in rows[-1] if c] == ["制表人：", "复核人：", "负责人：", "日期："]


def models_count(field):
    from django.db.models import Count

    return Count(field)


def test_subsidy_class_is_read_from_the_engines_explanation():
    from beneficiaries.exports import subsidy_class

    assert subsidy_class(["身份：特困人员", "全额资助 380.00 元"]) == "全额资助"
    assert subsidy_class(["定额资助 200.00 元（不超过个人缴费）"]) == "定额资助"
    assert subsidy_class(["380.00 元 × 80% = 304.00 元，低于 280.00 元"]) == "按比例资助"
    assert subsidy_class([]) == ""


@pytest.mark.parametrize("may_start", [True, False])
def test_finance_exports_the_roster_from_the_list_as_a_report_job(
    client, county, registry, contribution, may_start, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from medaid.core.models import Job

    roster = services.subsidy_roster_build(
        county=county, year=2024, decision_date=dt.date(2023, 9, 1)
    )
    user = User.objects.create_user("fin", password="x" * 12, county=county, is_staff=True)
    codenames = ["view_subsidyroster"] + (["start_report"] if may_start else [])
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:beneficiaries_subsidyroster_changelist"),
            {"action": "export_xlsx", "_selected_action": [roster.pk]},
        )
    jobs = Job.objects.filter(kind="report.subsidy_roster")
    if not may_start:
        assert not jobs.exists()  # the action is not offered without the permission
        return
    job = jobs.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:medaid_job_change", args=[job.pk])
    assert job.status == Job.Status.SUCCEEDED and job.parameters["year"] == 2024
    assert job.result["totals"]["资助参保名册"]["资助金额"] == f"{roster.total:.2f}"
