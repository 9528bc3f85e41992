"""The counter's working day across roles, in a real browser: a clerk submits a counter
application, a supervisor approves it, finance settles the month and downloads the 结算单, whose
合计 equals the approved amount."""

import datetime as dt
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook

from tests.browser.conftest import ARTIFACTS, log_in, submit
from tests.medaid.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The month being settled is the current one: a settlement counts decisions made before its
# cutoff, and the application is decided today.
TODAY = dt.date.today()
YEAR, MONTH = TODAY.year, TODAY.month


@pytest.fixture
def counter_world():
    from beneficiaries.models import County, Identity, Person
    from claims.models import Hospital
    from funds.demo import demo_funds_create

    demo_funds_create(seed=7, year=YEAR)
    county = County.objects.get(code="530502")
    person = Person.objects.create(
        id_number="530502195804021234",
        name="杨保山",
        sex="M",
        birth_date="1958-04-02",
        county=county,
    )
    Identity.objects.create(person=person, code="dibao", start=dt.date(YEAR - 1, 1, 1))
    Hospital.objects.create(code="H530502", name="保山市人民医院", level=3, county=county)
    make_user("clerk", "counter_clerk", county=county, last_name="王")
    make_user("supervisor", "supervisor", county=county, last_name="李")
    make_user("finance", "finance", county=county, last_name="赵")
    make_user("finance2", "finance", county=county, last_name="钱")
    return {"county": county, "person": person}


def test_register_submit_approve_settle_and_download_the_statement(
    page, live_server, counter_world
):
    from claims.models import Application

    # The clerk registers the application on the counter screen; medaid decides at once.
    log_in(page, live_server, "clerk")
    page.goto(f"{live_server.url}/admin/claims/application/add/")
    page.fill("#id_id_number", counter_world["person"].id_number)
    page.fill("#id_applied", TODAY.isoformat())
    page.select_option("#id_r-0-hospital", label="保山市人民医院")
    page.select_option("#id_r-0-kind", "inpatient")
    page.fill("#id_r-0-admitted", (TODAY - dt.timedelta(days=6)).isoformat())
    page.fill("#id_r-0-discharged", (TODAY - dt.timedelta(days=1)).isoformat())
    page.fill("#id_r-0-in_policy_cost", "12000.00")
    page.fill("#id_r-0-basic_insurance_paid", "6000.00")
    page.fill("#id_r-0-receipt_numbers", "PJ0001")
    page.shots.take("clerk-counter-filled")
    submit(page, "input[type=submit]")
    page.wait_for_url("**/change/")
    page.shots.take("clerk-registered")
    application = Application.objects.get(person=counter_world["person"])
    assert application.total > 0
    assert f"救助合计 {application.total} 元" in page.locator("ul.messagelist").inner_text()

    # The clerk submits it for approval.
    page.goto(f"{live_server.url}/admin/claims/application/")
    page.check(f"input[name=_selected_action][value='{application.pk}']")
    page.select_option("select[name=action]", "submit_selected")
    submit(page, "button[name=index]")
    page.shots.take("clerk-submitted")
    application.refresh_from_db()
    assert application.state == Application.State.SUBMITTED

    # The supervisor approves it.
    log_in(page, live_server, "supervisor")
    page.shots.take("supervisor-dashboard")
    assert "救助申请待我初审" in page.locator("#panel-approvals").inner_text()
    page.goto(f"{live_server.url}/admin/claims/application/{application.pk}/decide/")
    page.shots.take("supervisor-decide")
    page.check("input[value=approve]")
    submit(page, "input[type=submit]")
    page.shots.take("supervisor-approved")
    application.refresh_from_db()
    assert application.state == Application.State.APPROVED

    # Finance settles the month and downloads the county statement.
    log_in(page, live_server, "finance")
    page.goto(f"{live_server.url}/admin/funds/settlementrun/start/")
    page.select_option("#id_county", str(counter_world["county"].pk))
    page.fill("#id_year", str(YEAR))
    page.fill("#id_month", str(MONTH))
    page.shots.take("finance-start")
    submit(page, "input[type=submit]")
    page.shots.take("finance-settled")
    from funds.models import MoneyMove, SettlementRun

    # The run stages its statements and waits: its posting is proposed with a reason …
    run = SettlementRun.objects.get(county=counter_world["county"], year=YEAR, month=MONTH)
    assert run.status == SettlementRun.Status.STAGED, run.error
    page.goto(f"{live_server.url}/admin/funds/settlementrun/")
    page.check(f"input[name=_selected_action][value='{run.pk}']")
    page.select_option("select[name=action]", "propose_posting")
    submit(page, "button[name=index]")
    page.shots.take("finance-confirm-posting")
    page.fill("textarea[name=maker_reason]", "本月结算单已与医院核对")
    submit(page, "input[value=提交复核]")
    assert "待复核" in page.locator("ul.messagelist").inner_text()
    move = MoneyMove.objects.get(settlement_run=run)

    # … and a second person of finance approves it; only then is the month paid.
    log_in(page, live_server, "finance2")
    page.goto(f"{live_server.url}/admin/funds/moneymove/{move.pk}/decide/")
    page.shots.take("finance2-decide")
    page.fill("textarea[name=checker_reason]", "金额与账户无误")
    submit(page, "input[name=approve]")
    run.refresh_from_db()
    assert run.status == SettlementRun.Status.SUCCEEDED, run.error
    page.goto(f"{live_server.url}/admin/funds/settlementrun/")
    page.check(f"input[name=_selected_action][value='{run.pk}']")
    page.select_option("select[name=action]", "export_statements")
    with page.expect_download() as download_info:
        page.click("button[name=index]")
    download = download_info.value
    assert download.suggested_filename == f"医疗救助结算单_隆阳区_{YEAR}-{MONTH:02d}.xlsx"
    saved = ARTIFACTS / "statement.xlsx"
    download.save_as(saved)
    book = CalamineWorkbook.from_path(str(saved))
    totals = [
        row
        for name in book.sheet_names
        for row in book.get_sheet_by_name(name).to_python()
        if row and row[0] == "合计"
    ]
    assert totals, "the statement has no 合计 row"
    grand = max(Decimal(str(v)) for v in totals[-1][1:] if isinstance(v, int | float))
    assert grand == application.total
