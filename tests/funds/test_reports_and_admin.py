import datetime as dt
import io
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook

from claims.models import Claim, Decision
from funds import exports, reconciliation, selectors, services
from funds.demo import demo_funds_create
from funds.models import (
    Account,
    AccountKind,
    Deadline,
    Entry,
    FundSource,
    MoneyMove,
    SettlementLine,
    SettlementRun,
)
from medaid.core.models import User
from tests.funds.conftest import fund, make_claim
from tests.money_support import settle


def _sheets(buffer):
    buffer.seek(0)
    book = CalamineWorkbook.from_filelike(buffer)
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


def _total_row(rows, header):
    head = next(r for r in rows if header in r)
    col = head.index(header)
    total = next(r for r in rows if r and r[0] == "合计")
    return Decimal(str(total[col])).quantize(Decimal("0.01"))


@pytest.fixture
def settled(county, hospitals, accounts):
    fund(accounts, county, 1000)
    make_claim(county, hospitals[0], "100.10", declared=Decimal("101"))
    make_claim(county, hospitals[1], "200.20")
    make_claim(county, hospitals[1], "30.30", settlement="application")
    return settle(county=county, year=2024, month=5)


def test_reconciliation_of_a_clean_month_lists_only_declaration_gaps(county, settled):
    result = reconciliation.reconcile_settlement(county=county, year=2024, month=5)
    assert result.statements_total == result.ledger_total == Decimal("330.60")
    assert [d.code for d in result.differences] == ["declared_differs"]
    assert result.balanced


def test_reconciliation_lists_what_went_wrong(county, hospitals, settled):
    claim = Claim.objects.filter(settlement="direct").first()
    Decision.objects.filter(claim=claim).update(total=Decimal("1.00"))  # recomputed, no adjustment
    # Missed: accepted, decided and unchanged since before the run staged the month.
    missed = make_claim(county, hospitals[2], "9.99", discharged=dt.date(2024, 4, 1))
    Claim.objects.filter(pk=missed.pk).update(updated_at=settled.staged_at - dt.timedelta(hours=1))
    Claim.objects.filter(settlement="application").update(status="accepted")
    st = settled.statements.get(hospital=hospitals[1])
    services.entry_reverse(entry=st.entry, date=dt.date(2024, 6, 1), document_ref="退票")

    def codes():
        return {
            d.code
            for d in reconciliation.reconcile_settlement(
                county=county, year=2024, month=5
            ).differences
        }

    assert {"decision_changed", "unsettled", "line_not_settled"} <= codes()
    # A voucher reversed through the service reopens its lines for the next run: that is not
    # a difference. One reversed behind its back (its lines still standing) is.
    assert "entry_reversed" not in codes()
    SettlementLine.objects.filter(statement=st).update(reopened=False)
    assert "entry_reversed" in codes()


def test_county_statement_workbook_totals_equal_the_database(county, settled, tmp_path):
    buffer = io.BytesIO()
    exports.write_county_statement(buffer, settled)
    sheets = _sheets(buffer)
    assert _total_row(sheets["汇总"], "应付合计") == Decimal("330.60")
    assert "个人支付" in sheets
    individual = sheets["个人支付"]
    assert _total_row(individual, "应付金额") == Decimal("30.30")
    assert any("5305**" in str(c) and "*" in str(c) for r in individual for c in r)  # masked ID


def test_ledger_workbook_has_running_balances(county, accounts, settled):
    exp = accounts[(county.pk, AccountKind.EXPENDITURE)]
    buffer = io.BytesIO()
    exports.write_ledger(buffer, exp, start=dt.date(2024, 1, 1), end=dt.date(2024, 12, 31))
    (rows,) = _sheets(buffer).values()
    assert _total_row(rows, "收入") == Decimal("1000.00")
    assert _total_row(rows, "支出") == Decimal("330.60")
    balances = [r[6] for r in rows if r and isinstance(r[6], float)]
    assert (
        Decimal(str(balances[-1])).quantize(Decimal("0.01")) == exp.balance() == Decimal("669.40")
    )


def test_year_end_workbook(area, county, settled):
    services.budget_set(county=county, year=2024, amount=300)
    closes = services.year_end_close(pooling_area=area, year=2024)
    buffer = io.BytesIO()
    exports.write_year_end(buffer, closes, year=2024)
    (rows,) = _sheets(buffer).values()
    assert _total_row(rows, "超支金额") == Decimal("30.60")


def test_demo_funds_can_pay_and_opens_deadlines(db):
    result = demo_funds_create(seed=1, year=2024)
    assert result["created"]
    again = demo_funds_create(seed=1, year=2024)
    assert not again["created"]
    balances = {
        a.code: a.balance_value
        for a in selectors.accounts_with_balances().filter(kind=AccountKind.EXPENDITURE)
    }
    assert all(v > 1_000_000 for k, v in balances.items() if k != "530500:expenditure")
    states = {
        (d.kind, d.county.code if d.county else None): d.state
        for d in selectors.deadlines_with_status(today=dt.date(2024, 10, 8))
    }
    assert states[("remittance", "530523")] == "done"  # late, but done
    late = Deadline.objects.get(kind="remittance", county__code="530523")
    assert late.completed_on > late.due_on
    assert states[("county_matching", "530524")] == "overdue"
    assert states[("county_matching", "530502")] == "done"
    assert Account.objects.get(code="530500:fiscal").balance() > 0


@pytest.fixture
def finance(db, county):
    user = User.objects.create_superuser("caiwu", password="x" * 12)
    return user


def test_admin_pages_open(client, finance, settled, county, accounts):
    client.force_login(finance)
    for name in (
        "account",
        "entry",
        "deadline",
        "budget",
        "settlementrun",
        "settlementstatement",
        "yearendclose",
    ):
        assert client.get(f"/admin/funds/{name}/").status_code == 200, name
    assert client.get(f"/admin/funds/settlementrun/{settled.pk}/change/").status_code == 200
    page = client.get(f"/admin/funds/settlementrun/{settled.pk}/reconcile/")
    assert page.status_code == 200 and "医院申报与核定差额" in page.content.decode()
    assert client.get("/admin/funds/settlementrun/start/").status_code == 200
    assert client.get("/admin/funds/entry/add/").status_code == 200


@pytest.mark.parametrize(
    ("day", "words"), [("2099-01-01", "不能晚于今天"), ("1899-01-01", "不能早于")]
)
def test_a_manual_entry_dated_past_the_bounds_is_refused_on_its_form(
    client, finance, accounts, day, words
):
    """Found by bench/bad_input_check.py: a date past the validators' bounds was a server
    error on the manual entry page (the date check's refusal was not a FundsError)."""
    client.force_login(finance)
    fiscal = accounts[(None, AccountKind.FISCAL)]
    data = {
        "kind": "receipt",
        "source": FundSource.LOTTERY,
        "to_account": fiscal.pk,
        "amount": "88.80",
        "date": day,
        "document_ref": "保民福〔2024〕2号",
    }
    page = client.post("/admin/funds/entry/add/", data)
    assert page.status_code == 200 and words in page.content.decode()
    assert not MoneyMove.objects.exists()


def test_admin_proposes_a_receipt_on_a_confirmation_page_and_a_second_person_posts_it(
    client, finance, accounts
):
    client.force_login(finance)
    fiscal = accounts[(None, AccountKind.FISCAL)]
    data = {
        "kind": "receipt",
        "source": FundSource.LOTTERY,
        "to_account": fiscal.pk,
        "amount": "88.80",
        "date": "2024-04-01",
        "document_ref": "保民福〔2024〕1号",
        "related_ref": "",
        "memo": "",
    }
    page = client.post("/admin/funds/entry/add/", data)
    text = page.content.decode()
    assert (
        page.status_code == 200 and "提交复核" in text and "88.80" in text and fiscal.name in text
    )
    page = client.post("/admin/funds/entry/add/", {**data, "confirm": "1", "maker_reason": ""})
    assert page.status_code == 200 and not MoneyMove.objects.exists()
    response = client.post(
        "/admin/funds/entry/add/", {**data, "confirm": "1", "maker_reason": "福彩公益金到账"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    move = MoneyMove.objects.get()
    assert move.state == "pending" and fiscal.balance() == 0
    decide = f"/admin/funds/moneymove/{move.pk}/decide/"
    page = client.post(decide, {"checker_reason": "自己批", "approve": "1"})
    assert "复核人不能是制单人" in page.content.decode() and fiscal.balance() == 0
    second = User.objects.create_superuser("fuhe", password="x" * 12)
    client.force_login(second)
    response = client.post(decide, {"checker_reason": "已核对到账通知", "approve": "1"})
    assert response.status_code == 302
    assert fiscal.balance() == Decimal("88.80")
    entry = Entry.objects.get(move=move)
    printed = client.get(f"/admin/funds/entry/{entry.pk}/print/").content.decode()
    for text in ("caiwu", "福彩公益金到账", "fuhe", "已核对到账通知", "88.80"):
        assert text in printed, text


def test_admin_reversal_asks_for_a_reason_on_a_confirmation_page(client, finance, accounts):
    fiscal = accounts[(None, AccountKind.FISCAL)]
    entry = services.receipt_post(
        account=fiscal,
        source=FundSource.DONATION,
        amount=5,
        date=dt.date(2024, 4, 1),
        document_ref="捐1",
    )
    client.force_login(finance)
    form = {"action": "reverse_entries", "_selected_action": [entry.pk]}
    page = client.post("/admin/funds/entry/", form)
    assert page.status_code == 200 and "制单事由" in page.content.decode()
    assert not MoneyMove.objects.exists()
    client.post("/admin/funds/entry/", {**form, "confirm": "1", "maker_reason": "捐赠退回"})
    move = MoneyMove.objects.get()
    assert (move.kind, move.target_entry, move.maker_reason) == ("reversal", entry, "捐赠退回")
    assert fiscal.balance() == 5


def test_settlement_run_page_shows_the_period_it_covers(client, finance, settled):
    client.force_login(finance)
    page = client.get(f"/admin/funds/settlementrun/{settled.pk}/change/").content.decode()
    assert "出院（就诊）日期截至 2024-05-31" in page


def test_county_clerk_sees_only_their_county(client, county, other_county, accounts):
    clerk = User.objects.create_user("clerk", password="x" * 12, county=county, is_staff=True)
    clerk.user_permissions.add(
        *__import__(
            "django.contrib.auth.models", fromlist=["Permission"]
        ).Permission.objects.filter(content_type__app_label="funds")
    )
    client.force_login(clerk)
    page = client.get("/admin/funds/account/").content.decode()
    assert "隆阳区医疗救助基金支出户" in page and "施甸县" not in page


def test_settlement_run_list_shows_progress(client, finance, settled):
    client.force_login(finance)
    page = client.get("/admin/funds/settlementrun/").content.decode()
    assert "3/3（100%）" in page
    assert SettlementRun.objects.get().status == "succeeded"
