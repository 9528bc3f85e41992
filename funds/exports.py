"""Workbooks finance staff print and sign: the settlement statement per hospital and per county
(医疗救助结算单), the fund's receipts and payments with balances (基金收支明细表), and the
year-end overspend sharing (年终决算超支分担表). All through `medaid.xlsx`; every 合计 there is
computed from the rows written, and the rows are the database's own figures."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from funds.models import Account, SettlementRun, SettlementStatement, YearEndClose
from funds.selectors import ledger_rows
from medaid.scoping import mask_id_number
from medaid.xlsx import Column, Report, write_report, write_workbook

SIGNATURES = ("制表人：", "审核人：", "经办机构（盖章）：")


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
        sheet_name=(statement.hospital.code if statement.hospital else "个人支付")[:31],
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
    statements = list(run.statements.select_related("hospital", "county", "run"))
    summary = Report(
        title=f"{run.county.name}{run.period}医疗救助结算汇总表",
        sheet_name="汇总",
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
                st.number,
                st.hospital.name if st.hospital else "救助对象个人支付批次",
                st.claim_count,
                st.claims_total,
                st.declared_total,
                st.adjustments_total,
                st.total,
                "已入账" if st.posted_at else "未入账",
            )
            for st in statements
        ],
        footer=SIGNATURES,
    )
    reports = [summary, *(statement_report(st, user=user) for st in statements)]
    return write_workbook(target, reports, engine="openpyxl")


def write_ledger(target, account: Account, *, start: dt.date, end: dt.date):
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
    return write_report(
        target,
        title=f"{account.name}基金收支明细表",
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
        engine="openpyxl",
    )


def write_year_end(target, closes: QuerySet[YearEndClose] | list[YearEndClose], *, year: int):
    return write_report(
        target,
        title=f"{year}年度医疗救助基金年终决算及超支分担表",
        columns=(
            Column("区县", 14),
            Column("支出预算", 16, "money"),
            Column("实际支出", 16, "money"),
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
        footer=SIGNATURES,
        engine="openpyxl",
    )
