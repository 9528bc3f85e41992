"""A day's work in each of the demo's five jurisdictions, in a real browser at 1,280×800: the
clerk receives an application, two different supervisors approve it (the second approval),
finance proposes the month's settlement and a second finance officer approves it, the citizen's
notice is printed and the county's statement is exported. Each world is built by the demo
command itself (`manage.py demo --areas <pack> --registry-only`), so the browser walks what
`make demo` shows. Screenshots of every step: out/screens/<jurisdiction>/NN-step.png."""

import datetime as dt
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from tests.browser.conftest import Screenshots, log_in, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = Path(__file__).resolve().parents[2] / "out" / "screens"
PASSWORD = "medaid-demo-2026"
TODAY = dt.date.today()
WIDTH, HEIGHT = 1280, 800


# The words a person sees for an application's state, in one place: the screens are asserted
# against these (extend here when the states gain words such as 待初审 / 待复审).
def _fund(county) -> None:
    """The registry-only world holds no money: the county's fund receives this month's
    allocation as the books would show it (a receipt into the 专户, moved to the 支出户 where the
    pack pays from there), so the settlement can pay."""
    from funds.models import Account, AccountKind, EntryKind, FundSource
    from funds.services import receipt_post, transfer_post
    from funds.settlement import paying_account

    payer = paying_account(county, TODAY)
    fiscal = payer
    if payer.kind != AccountKind.FISCAL:
        fiscal = Account.objects.filter(kind=AccountKind.FISCAL, county=county).first()
    amount = "5000000.00"
    receipt_post(
        account=fiscal,
        source=FundSource.CENTRAL_PROVINCIAL,
        amount=amount,
        date=TODAY,
        document_ref=f"浏览器测试拨款{county.code}",
    )
    if payer != fiscal:
        transfer_post(
            kind=EntryKind.TRANSFER,
            from_account=fiscal,
            to_account=payer,
            amount=amount,
            date=TODAY,
            document_ref=f"浏览器测试划拨{county.code}",
            county=county,
        )


STATE_WORDS = {
    "draft": "草稿",
    "submitted": "待初审",
    "second_review": "待复审",
    "approved": "已批准",
    "paid": "已支付",
}
# Internal identifiers that must never reach the citizen's notice.
INTERNAL_CODES = (
    "tekun",
    "dibao",
    "fanpin",
    "baoshan",
    "kunming",
    "yunnan",
    "pingshun",
    "zhangye",
)
HASH = re.compile(r"\b(?=[0-9a-f]*[a-f])[0-9a-f]{16,}\b")  # hex with a letter: not an ID number

# (pack, the login suffix, the day of the stay): Kunming's pack ends 2022-06-30, so its walk is
# a stay of June 2022; the others' a stay of this week.
JURISDICTIONS = [
    ("baoshan", "longyang", None),
    ("yunnan", "qilin", None),
    ("kunming", "wuhua", dt.date(2022, 6, 10)),
    ("pingshun", "pingshun", None),
    ("zhangye", "ganzhou", None),
]


def _fits(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{page.url} scrolls sideways: {width}px"


def _yuan(amount: Decimal) -> str:
    return f"{amount:.2f}"


@pytest.fixture
def world(request, settings):
    from django.core.management import call_command

    from beneficiaries.demo import JURISDICTIONS as SPECS
    from beneficiaries.models import County, Identity, Person
    from claims.models import Hospital

    key, suffix, stay = request.param
    # Every application of the walk needs the second approval.
    settings.SECOND_APPROVAL_THRESHOLD = "1000.00"
    call_command(
        "demo",
        areas=key,
        registry_only=True,
        people_per_county=8,
        stdout=StringIO(),
    )
    spec = SPECS[key]
    county = County.objects.get(code=spec.counties[0][0])
    discharged = stay or TODAY - dt.timedelta(days=1)
    person = Person.objects.create(
        id_number=f"{county.code}19600315{request.node.callspec.indices['world']:03d}1",
        name="杨志强",
        sex="M",
        birth_date=dt.date(1960, 3, 15),
        county=county,
    )
    Identity.objects.create(person=person, code="tekun", start=dt.date(2020, 1, 1))
    hospital = Hospital.objects.get(code=f"{county.code}H3")
    return {
        "key": key,
        "suffix": suffix,
        "county": county,
        "person": person,
        "hospital": hospital,
        "discharged": discharged,
        "applied": discharged + dt.timedelta(days=10) if stay else TODAY,
    }


@pytest.mark.parametrize("world", JURISDICTIONS, indirect=True, ids=[j[0] for j in JURISDICTIONS])
def test_a_day_of_work_in_each_jurisdiction(browser, live_server, world):
    from claims.models import Application, Decision
    from funds.models import MoneyMove, SettlementRun

    context = browser.new_context(
        locale="zh-CN", accept_downloads=True, viewport={"width": WIDTH, "height": HEIGHT}
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    shots = Screenshots(page, world["key"])
    shots.folder = SCREENS / world["key"]
    shots.folder.mkdir(parents=True, exist_ok=True)
    for old in shots.folder.glob("*.png"):
        old.unlink()
    suffix, county = world["suffix"], world["county"]
    try:
        # The clerk receives the application at the counter; medaid decides it at once.
        log_in(page, live_server, f"clerk_{suffix}", PASSWORD)
        page.goto(f"{live_server.url}/admin/claims/application/add/")
        page.fill("#id_id_number", world["person"].id_number)
        page.fill("#id_applied", world["applied"].isoformat())
        page.select_option("#id_r-0-hospital", label=world["hospital"].name)
        page.select_option("#id_r-0-kind", "inpatient")
        page.fill("#id_r-0-admitted", (world["discharged"] - dt.timedelta(days=8)).isoformat())
        page.fill("#id_r-0-discharged", world["discharged"].isoformat())
        page.fill("#id_r-0-in_policy_cost", "150000.00")
        page.fill("#id_r-0-basic_insurance_paid", "60000.00")
        page.fill("#id_r-0-receipt_numbers", "PJ0001")
        _fits(page)
        shots.take("clerk-counter")
        submit(page, "input[type=submit]")
        page.wait_for_url("**/change/")
        shots.take("clerk-received")
        application = Application.objects.get(person=world["person"])
        decision = Decision.objects.get(claim__application=application, is_current=True)
        # The engine's figure, to the cent, is what the clerk is told.
        assert application.total == decision.total > Decimal("1000.00")
        assert (
            f"救助合计 {_yuan(application.total)} 元" in page.locator("ul.messagelist").inner_text()
        )

        page.goto(f"{live_server.url}/admin/claims/application/")
        page.check(f"input[name=_selected_action][value='{application.pk}']")
        page.select_option("select[name=action]", "submit_selected")
        submit(page, "button[name=index]")
        shots.take("clerk-submitted")
        application.refresh_from_db()
        assert application.state == "submitted"

        # Two different supervisors approve: after the first it still waits.
        for n, supervisor in enumerate((f"supervisor_{suffix}", f"supervisor2_{suffix}")):
            log_in(page, live_server, supervisor, PASSWORD)
            page.goto(f"{live_server.url}/admin/claims/application/{application.pk}/decide/")
            body = page.locator("#content").inner_text()
            assert STATE_WORDS["submitted" if n == 0 else "second_review"] in body
            assert _yuan(application.total) in body
            _fits(page)
            shots.take(f"supervisor{n + 1}-decide")
            page.check("input[value=approve]")
            submit(page, "input[type=submit]")
            page.wait_for_url("**/change/")
            shots.take(f"supervisor{n + 1}-approved")
            application.refresh_from_db()
            assert application.state == ("second_review" if n == 0 else "approved")
        assert STATE_WORDS["approved"] in page.locator("#content").inner_text()

        _fund(county)
        # Finance settles this month; the posting is proposed, then approved by a second person.
        log_in(page, live_server, f"finance_{suffix}", PASSWORD)
        page.goto(f"{live_server.url}/admin/funds/settlementrun/start/")
        page.select_option("#id_county", str(county.pk))
        page.fill("#id_year", str(TODAY.year))
        page.fill("#id_month", str(TODAY.month))
        shots.take("finance-start")
        submit(page, "input[type=submit]")
        run = SettlementRun.objects.get(county=county, year=TODAY.year, month=TODAY.month)
        assert run.status == SettlementRun.Status.STAGED, run.error
        page.goto(f"{live_server.url}/admin/funds/settlementrun/")
        page.check(f"input[name=_selected_action][value='{run.pk}']")
        page.select_option("select[name=action]", "propose_posting")
        submit(page, "button[name=index]")
        page.fill("textarea[name=maker_reason]", "本月结算单已与医院核对")
        shots.take("finance-propose")
        submit(page, "input[value=提交复核]")
        assert "待复核" in page.locator("ul.messagelist").inner_text()
        move = MoneyMove.objects.get(settlement_run=run)

        log_in(page, live_server, f"finance2_{suffix}", PASSWORD)
        page.goto(f"{live_server.url}/admin/funds/moneymove/{move.pk}/decide/")
        page.fill("textarea[name=checker_reason]", "金额与账户无误")
        shots.take("finance2-decide")
        submit(page, "input[name=approve]")
        run.refresh_from_db()
        assert run.status == SettlementRun.Status.SUCCEEDED, run.error
        application.refresh_from_db()
        assert application.state == "paid"

        # The citizen's notice: the person, the amount, no internal identifier.
        page.goto(f"{live_server.url}/admin/claims/application/{application.pk}/notice/")
        notice = page.locator("body").inner_text()
        shots.take("notice")
        assert world["person"].name in notice
        assert _yuan(application.total) in notice
        for code in INTERNAL_CODES:
            assert code not in notice, f"the notice shows the internal code {code!r}"
        assert not HASH.search(notice), "the notice shows a parameter fingerprint"
        _fits(page)

        # The county's statement in Excel: its 合计 is the approved amount.
        page.goto(f"{live_server.url}/admin/funds/settlementrun/")
        page.check(f"input[name=_selected_action][value='{run.pk}']")
        page.select_option("select[name=action]", "export_statements")
        with page.expect_download() as download_info:
            page.click("button[name=index]")
        download = download_info.value
        assert download.suggested_filename == (
            f"医疗救助结算单_{county.name}_{TODAY.year}-{TODAY.month:02d}.xlsx"
        )
        saved = shots.folder / download.suggested_filename
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
        assert grand.quantize(Decimal("0.01")) == application.total
    finally:
        shots.take("final")
        context.close()
