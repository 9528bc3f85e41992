"""The funds reports of the report centre: 医疗救助结算单, 基金收支明细表, 年度超支分担表."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Sum

from funds import services
from funds.models import AccountKind, Posting, SettlementStatement, YearEndClose
from medaid.core.models import User
from medaid.core.reports import ReportRequestError, report_job_start
from tests.funds.conftest import fund, make_claim
from tests.money_support import settle
from tests.report_support import column, run_report, total


@pytest.fixture
def admin(db):
    return User.objects.create_superuser("boss", password="x" * 12)


@pytest.fixture
def settled(county, hospitals, accounts):
    fund(accounts, county, 1000)
    make_claim(county, hospitals[0], "100.10", declared=Decimal("101"))
    make_claim(county, hospitals[1], "200.20")
    make_claim(county, hospitals[1], "0.05")
    make_claim(county, hospitals[1], "30.30", settlement="application")
    return settle(county=county, year=2024, month=5)


def test_settlement_statement_totals_equal_the_statements(
    admin, county, settled, django_capture_on_commit_callbacks
):
    job, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="settlement_statement",
        user=admin,
        county=county,
        period="2024-05",
    )
    assert job.result["filename"] == "医疗救助结算单_隆阳区_2024-05.xlsx"
    db = SettlementStatement.objects.filter(run=settled).aggregate(t=Sum("total"))["t"]
    assert total(sheets["汇总"], "应付合计") == db == Decimal("330.65")
    assert set(sheets) == {"汇总", "医院1", "医院2", "个人支付"}  # named, not by code
    for st in settled.statements.select_related("hospital"):
        sheet = sheets[st.hospital.name if st.hospital else "个人支付"]
        assert total(sheet, "应付金额") == st.total
        assert len(column(sheet, "应付金额")) == st.lines.count()


def test_one_hospitals_statement(
    admin, county, hospitals, settled, django_capture_on_commit_callbacks
):
    job, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="settlement_statement",
        user=admin,
        county=county,
        period="2024-05",
        hospital="H002",
    )
    assert "医院2" in job.result["filename"]
    (rows,) = sheets.values()
    assert total(rows, "应付金额") == Decimal("200.25")


def test_a_malformed_month_is_refused_before_a_job(admin, county, settled):
    from medaid.core.models import Job

    with pytest.raises(ReportRequestError, match="期间"):
        report_job_start(
            kind="settlement_statement", user=admin, county=county, parameters={"period": "2024-13"}
        )
    assert not Job.objects.filter(kind__startswith="report.").exists()


def test_a_county_user_cannot_export_another_county(county, other_county, settled):
    finance = User.objects.create_user("fin", password="x" * 12, county=other_county)
    finance.user_permissions.add(*Permission.objects.filter(codename="view_settlementrun"))
    finance = User.objects.get(pk=finance.pk)
    with pytest.raises(ReportRequestError, match="其他区县"):
        report_job_start(
            kind="settlement_statement",
            user=finance,
            county=county,
            parameters={"period": "2024-05"},
        )


def test_fund_ledger_sheets_total_to_the_postings_of_the_year(
    admin, county, accounts, settled, django_capture_on_commit_callbacks
):
    job, sheets = run_report(
        django_capture_on_commit_callbacks,
        kind="fund_ledger",
        user=admin,
        county=county,
        year=2024,
    )
    assert job.result["filename"] == "基金收支明细表_隆阳区_2024.xlsx"
    for kind, sheet in ((AccountKind.EXPENDITURE, "支出户"), (AccountKind.FISCAL, "财政专户")):
        account = accounts[(county.pk, kind)]
        postings = Posting.objects.filter(account=account, entry__date__year=2024)
        receipts = postings.filter(amount__gt=0).aggregate(s=Sum("amount"))["s"] or 0
        payments = -(postings.filter(amount__lt=0).aggregate(s=Sum("amount"))["s"] or 0)
        assert total(sheets[sheet], "收入") == Decimal(receipts).quantize(Decimal("0.01"))
        assert total(sheets[sheet], "支出") == Decimal(payments).quantize(Decimal("0.01"))
        balances = [b for b in column(sheets[sheet], "余额") if b != ""]
        assert Decimal(str(balances[-1])).quantize(Decimal("0.01")) == account.balance(
            until=dt.date(2024, 12, 31)
        )
    assert total(sheets["支出户"], "支出") == Decimal("330.65")


def test_year_end_sharing_from_the_close_rows(
    admin, area, county, settled, django_capture_on_commit_callbacks
):
    services.budget_set(county=county, year=2024, amount=300)
    services.year_end_close(pooling_area=area, year=2024)
    job, sheets = run_report(
        django_capture_on_commit_callbacks, kind="year_end_sharing", user=admin, year=2024
    )
    assert job.result["filename"] == "年度超支分担表_全市_2024.xlsx"
    (rows,) = sheets.values()
    db = YearEndClose.objects.filter(year=2024).aggregate(o=Sum("overspend"), a=Sum("actual"))
    assert total(rows, "超支金额") == db["o"] == Decimal("30.65")
    assert total(rows, "实际支出") == db["a"]


def test_year_end_sharing_before_the_close_is_a_trial_that_writes_nothing(
    admin, area, county, settled, django_capture_on_commit_callbacks
):
    services.budget_set(county=county, year=2024, amount=300)
    job, sheets = run_report(
        django_capture_on_commit_callbacks, kind="year_end_sharing", user=admin, year=2024
    )
    assert "试算" in job.result["filename"]
    (rows,) = sheets.values()
    assert "试算" in rows[0][0]
    assert total(rows, "超支金额") == Decimal("30.65")
    assert not YearEndClose.objects.exists()


def test_a_month_not_settled_ends_the_job_with_the_reason(
    admin, county, settled, django_capture_on_commit_callbacks
):
    from medaid.core.models import Job

    with django_capture_on_commit_callbacks(execute=True):
        job = report_job_start(
            kind="settlement_statement",
            user=admin,
            county=county,
            parameters={"period": "2024-06"},
        )
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "隆阳区2024年6月尚未结算，没有结算单"
    assert not job.result_file
