"""Workbooks finance staff print and sign: the settlement statement per hospital and per county
(医疗救助结算单), the fund's receipts and payments with balances (基金收支明细表), and the
year-end overspend sharing (年终决算超支分担表). All through `medaid.core.xlsx`; every 合计 there is
computed from the rows written, and the rows are the database's own figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet

from beneficiaries.models import County, PoolingArea
from funds.models import (
    INTERNAL_KINDS,
    Account,
    AccountKind,
    SettlementRun,
    SettlementStatement,
    YearEndClose,
    statement_number,
)
from funds.selectors import ledger_rows, statement_summary_values
from medaid.core.errors import Rollback
from medaid.core.reports import (
    ReportBuild,
    ReportRequestError,
    county_required,
    period_of,
    register_report,
    year_of,
)
from medaid.core.scoping import mask_id_number, scope_to_user
from medaid.core.xlsx import Column, Report, report_filename, sheet_title, write_workbook

# Before the signature line every report ends with (medaid.core.xlsx: 制表人/复核人/负责人/日期).
SIGNATURES = ("经办机构（盖章）：",)


def statement_report(statement: SettlementStatement, *, user=None) -> Report:
    """One statement with its lines (per claim and per adjustment)."""
    run = statement.run
    who = statement.hospital.name if statement.hospital else "救助对象个人支付批次"
    lines = statement.lines.select_related("claim", "person").order_by("claim__discharged", "pk")
    rows = (
        (
            line.claim.external_ref,
            line.person.name,
            mask_id_number(line.person.id_number, user),
            line.claim.get_kind_display(),
            line.claim.discharged,
            "结算调整" if line.adjustment_id else "本期救助",
            line.declared,
            line.amount,
        )
        for line in lines
    )
    return Report(
        title=f"医疗救助结算单（{who}）",
        sheet_name=sheet_title(statement.hospital.name if statement.hospital else "个人支付"),
        county=statement.county.name,
        period=str(run.period),
        meta=(
            f"结算单号：{statement.number}",
            f"结算区县：{statement.county.name}",
            f"结算期间：{run.period}",
            f"结算人次：{statement.claim_count}　调整笔数：{statement.adjustment_count}",
        ),
        columns=(
            Column("结算单号", 20),
            Column("姓名", 10),
            Column("公民身份号码", 20),
            Column("救助项目", 12),
            Column("出院（就诊）日期", 14, "date"),
            Column("类别", 10),
            Column("医院申报救助金额", 16, "money"),
            Column("应付金额", 14, "money"),
        ),
        rows=rows,
        footer=SIGNATURES,
    )


def write_statement(target, statement: SettlementStatement, *, user=None):
    return write_workbook(target, [statement_report(statement, user=user)], engine="openpyxl")


def write_county_statement(target, run: SettlementRun, *, user=None):
    """The county's month: a summary sheet (one row per statement) and one sheet each."""
    return write_workbook(target, county_statement_reports(run, user=user), engine="openpyxl")


def county_statement_reports(run: SettlementRun, *, user=None) -> list[Report]:
    statements = list(
        run.statements.select_related("hospital", "county", "run").order_by("hospital__code", "pk")
    )
    summary = county_statement_summary(run)
    return [summary, *(statement_report(st, user=user) for st in statements)]


def county_statement_summary(run: SettlementRun, statements=None) -> Report:
    """The county's month summary sheet (汇总): one row per statement. `statements`: the run's
    value rows of `statement_summary_values` (read here when omitted)."""
    if statements is None:
        statements = statement_summary_values(run.statements.all())
    return Report(
        title=f"{run.county.name}{run.period}医疗救助结算汇总表",
        sheet_name="汇总",
        county=run.county.name,
        period=str(run.period),
        meta=(f"结算区县：{run.county.name}", f"结算期间：{run.period}"),
        columns=(
            Column("结算单号", 22),
            Column("收款方", 28),
            Column("结算人次", 10, "int", total=True),
            Column("本期救助金额", 16, "money"),
            Column("医院申报救助金额", 16, "money"),
            Column("追补（扣减）金额", 16, "money"),
            Column("应付合计", 16, "money"),
            Column("入账状态", 10),
        ),
        rows=[
            (
                statement_number(st["run__year"], st["run__month"], st["county__code"], st["pk"]),
                st["hospital__name"] or "救助对象个人支付批次",
                st["claim_count"],
                st["claims_total"],
                st["declared_total"],
                st["adjustments_total"],
                st["total"],
                "已入账" if st["posted_at"] else "未入账",
            )
            for st in statements
        ],
        footer=SIGNATURES,
    )


def write_ledger(target, account: Account, *, start: dt.date, end: dt.date):
    return write_workbook(target, [ledger_report(account, start=start, end=end)], engine="openpyxl")


def ledger_report(
    account: Account, *, start: dt.date, end: dt.date, sheet_name: str = "收支明细"
) -> Report:
    """基金收支明细表: opening balance, each receipt and payment, running balance."""
    opening, rows = ledger_rows(account=account, start=start, end=end)
    body = [("", "", "期初余额", "", None, None, opening)]
    for posting, balance in rows:
        entry = posting.entry
        body.append(
            (
                entry.date,
                entry.document_ref,
                entry.get_kind_display() + ("（冲销）" if entry.reverses_id else ""),
                entry.memo or entry.get_source_display(),
                posting.amount if posting.amount > 0 else None,
                -posting.amount if posting.amount < 0 else None,
                balance,
            )
        )
    return Report(
        title=f"{account.name}基金收支明细表",
        sheet_name=sheet_name,
        county=account.county.name if account.county_id else None,
        period=f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}",
        meta=(f"账户：{account.name}（{account.code}）", f"期间：{start} 至 {end}"),
        columns=(
            Column("记账日期", 12, "date"),
            Column("单据文号", 24),
            Column("业务类型", 22),
            Column("摘要", 36),
            Column("收入", 16, "money"),
            Column("支出", 16, "money"),
            Column("余额", 16, "money", total=False),
        ),
        rows=body,
        footer=SIGNATURES,
    )


def write_year_end(target, closes: QuerySet[YearEndClose] | list[YearEndClose], *, year: int):
    return write_workbook(target, [year_end_report(closes, year=year)], engine="openpyxl")


def year_end_report(
    closes: QuerySet[YearEndClose] | list[YearEndClose], *, year: int, trial: bool = False
) -> Report:
    """年终决算及超支分担表, one row per county close. 实际支出 is the county's spending from the
    ledger, premium subsidies included (`funds.services.county_spending_parts`: a premium
    transfer the city pays on the county's behalf is the county's spending); the two columns
    after it split it, so that 其中：医疗救助支付 is what the county's accounts paid out and
    其中：资助参保 what went to the resident insurance fund for its people. The 合计 row carries a
    value in every figure column — 超支比例 is Σ超支 / Σ预算 — so that no column after an empty
    cell can be read one column off."""
    closes = list(closes)
    budget = sum((c.budget for c in closes), Decimal("0.00"))
    overspend = sum((c.overspend for c in closes), Decimal("0.00"))
    ratio = (overspend / budget).quantize(Decimal("0.000001")) if budget else Decimal("0")
    return Report(
        title=f"{year}年度医疗救助基金年终决算及超支分担表" + ("（试算）" if trial else ""),
        sheet_name="超支分担",
        county=closes[0].county.name if len({c.county_id for c in closes}) == 1 else None,
        period=f"{year}年度",
        meta=(("尚未决算：按当前账面数试算，正式数以年终决算为准。",) if trial else ()),
        columns=(
            Column("区县", 14),
            Column("支出预算", 16, "money"),
            Column("实际支出", 16, "money"),
            Column("其中：医疗救助支付", 18, "money"),
            Column("其中：资助参保", 16, "money"),
            Column("超支金额", 16, "money"),
            Column("超支比例", 10, "percent"),
            Column("滚存结余弥补", 16, "money"),
            Column("市级承担", 16, "money"),
            Column("县级承担", 16, "money"),
            Column("待定", 14, "money"),
            Column("当年结余（结转下年）", 18, "money"),
            Column("县级账户年末余额", 18, "money"),
            Column("计算说明", 60),
        ),
        rows=[
            (
                c.county.name,
                c.budget,
                c.actual,
                c.actual - c.premium_subsidies,
                c.premium_subsidies,
                c.overspend,
                c.overspend_ratio,
                c.from_surplus,
                c.city_share,
                c.county_share,
                c.unallocated,
                c.surplus,
                c.closing_balance,
                "".join(c.explanation),
            )
            for c in closes
        ],
        totals_values={"超支比例": ratio},
        footer=SIGNATURES,
    )


# --- the report centre's reports (medaid.core.reports) -------------------------------------------


@register_report(
    "settlement_statement",
    "医疗救助结算单",
    needs=("county", "period"),
    permission="funds.view_settlementrun",
    description="区县当月结算汇总及各定点医疗机构（含个人支付批次）结算单；"
    "可按医疗机构编码（hospital）只导出一家。",
)
def settlement_statement_build(*, user, county, parameters) -> ReportBuild:
    county = county_required(county, "医疗救助结算单")
    year, month = period_of(parameters)
    run = (
        scope_to_user(SettlementRun.objects.select_related("county"), user)
        .filter(county=county, year=year, month=month)
        .first()
    )
    if run is None:
        raise ReportRequestError(f"{county.name}{year}年{month}月尚未结算，没有结算单")
    period = f"{year}-{month:02d}"
    hospital = (parameters or {}).get("hospital")
    if hospital:
        statement = (
            run.statements.select_related("hospital", "county", "run")
            .filter(hospital__code=hospital)
            .first()
        )
        if statement is None:
            raise ReportRequestError(f"{run}没有医疗机构 {hospital} 的结算单")
        return ReportBuild(
            filename=report_filename(
                f"医疗救助结算单-{statement.hospital.name}", county=county.name, period=period
            ),
            reports=[statement_report(statement, user=user)],
        )
    return ReportBuild(
        filename=report_filename("医疗救助结算单", county=county.name, period=period),
        reports=county_statement_reports(run, user=user),
    )


LEDGER_SHEETS = {AccountKind.FISCAL: "财政专户", AccountKind.EXPENDITURE: "支出户"}


@register_report(
    "fund_ledger",
    "基金收支明细表",
    needs=("county", "year"),
    permission="funds.view_account",
    description="区县医疗救助基金财政专户、支出户全年收支及逐笔余额；可按账户编码（account）只导出一户。",
)
def fund_ledger_build(*, user, county, parameters) -> ReportBuild:
    county = county_required(county, "基金收支明细表")
    year = year_of(parameters)
    accounts = scope_to_user(Account.objects.filter(kind__in=INTERNAL_KINDS), user).filter(
        county=county
    )
    if (parameters or {}).get("account"):
        accounts = accounts.filter(code=parameters["account"])
    accounts = list(accounts.order_by("kind", "code"))
    if not accounts:
        raise ReportRequestError(f"{county.name}没有可导出的基金账户")
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return ReportBuild(
        filename=report_filename("基金收支明细表", county=county.name, period=str(year)),
        reports=[
            ledger_report(a, start=start, end=end, sheet_name=LEDGER_SHEETS.get(a.kind, "账户"))
            for a in accounts
        ],
    )


def year_end_trial(*, user, year: int) -> list[YearEndClose]:
    """What closing `year` now would give, computed by the closing service itself inside a
    savepoint that is rolled back: one set of rules, nothing written. `user=None`: every
    county (the reconciliation, which runs as nobody)."""
    from funds.services import FundsError, year_end_close

    counties = County.objects.all()
    if user is not None:
        counties = scope_to_user(counties, user, county_field="pk")
    areas = PoolingArea.objects.filter(
        counties__in=counties.filter(fund_budgets__year=year)
    ).distinct()
    closes: list[YearEndClose] = []
    try:
        with transaction.atomic():
            for area in areas.order_by("code"):
                try:
                    with transaction.atomic():
                        closes += year_end_close(pooling_area=area, year=year)
                except FundsError:
                    continue  # an area already closed is reported from its rows
            raise Rollback
    except Rollback:
        pass
    visible = set(counties.values_list("pk", flat=True))
    return [c for c in closes if c.county_id in visible]


@register_report(
    "year_end_sharing",
    "年度超支分担表",
    needs=("year",),
    permission="funds.view_yearendclose",
    description="各区县年度预算执行、超支金额及市县分担；未决算的年度按当前账面数试算。",
)
def year_end_sharing_build(*, user, county, parameters) -> ReportBuild:
    year = year_of(parameters)
    closes = scope_to_user(YearEndClose.objects.select_related("county"), user).filter(year=year)
    if county is not None:
        closes = closes.filter(county=county)
    closes = list(closes.order_by("county__code"))
    trial = not closes
    if trial:
        closes = year_end_trial(user=user, year=year)
        if county is not None:
            closes = [c for c in closes if c.county_id == county.pk]
    if not closes:
        raise ReportRequestError(f"{year}年度没有区县预算，无法编制超支分担表")
    return ReportBuild(
        filename=report_filename(
            "年度超支分担表" + ("-试算" if trial else ""),
            county=county.name if county else None,
            period=str(year),
        ),
        reports=[year_end_report(closes, year=year, trial=trial)],
    )
