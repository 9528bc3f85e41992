"""The reports' totals rows against their rows, the database and the ledger."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Sum

from funds.models import (
    Budget,
    SettlementStatement,
    YearEndClose,
)
from funds.reconciliation.base import ReconcileResult, Row, Scope, add_difference, as_money, differs
from funds.reconciliation.year_end import spending_by_county_year
from funds.selectors import statement_summary_values
from medaid.core.money import ZERO
from medaid.core.xlsx import totals_row


def check_reports(result: ReconcileResult, scope: Scope, runs, *, full: bool) -> None:
    """The 合计 rows of the reports the exports build, against the database and the ledger."""
    from funds import exports

    figures = {
        r["run_id"]: r
        for r in SettlementStatement.objects.filter(run__in=scope.runs())
        .values("run_id")
        .annotate(
            n=Sum("claim_count"),
            claims=Sum("claims_total"),
            declared=Sum("declared_total"),
            adjustments=Sum("adjustments_total"),
            total=Sum("total"),
        )
        .order_by()
    }
    # Every statement of the scope in one query, as plain value rows, handed to each run's
    # summary sheet.
    by_run: dict[int, list[dict]] = defaultdict(list)
    for st in statement_summary_values(SettlementStatement.objects.filter(run__in=scope.runs())):
        by_run[st["run_id"]].append(st)
    # Sampled: each run's smallest statement (its sheet's 合计 row is built the same way as
    # every other's, and reading it builds a handful of rows, not the month's thousands);
    # in full, every statement. Only these are read as statements, in one query.
    sheets: dict[int, list[int]] = {}
    for run_id, statements in by_run.items():
        ordered = sorted(
            statements, key=lambda st: (st["claim_count"] + st["adjustment_count"], st["pk"])
        )
        sheets[run_id] = [st["pk"] for st in (ordered if full else ordered[:1])]
    sampled = SettlementStatement.objects.select_related("hospital", "county", "run").in_bulk(
        [pk for pks in sheets.values() for pk in pks]
    )
    for run in runs:
        if run.pk not in figures:
            continue
        db = figures[run.pk]
        statements = by_run[run.pk]
        summary = exports.county_statement_summary(run, statements)
        totals = totals_row(summary)
        period = result.period(run.county_id, run.year, run.month)
        # The month's own vouchers: what the ledger shows less the reversals dated this month.
        ledger = (
            period.ledger_total
            + period.reversed_total
            + period.paid_late_total
            - period.paid_for_closed_total
        )
        rows = (
            [
                Row(
                    "funds.SettlementRun",
                    run.pk,
                    int(db["n"] or 0),
                    int(totals["结算人次"]),
                    "汇总表“结算人次”合计",
                )
            ]
            if int(totals["结算人次"]) != int(db["n"] or 0)
            else []
        )
        for header, expected in (
            ("本期救助金额", db["claims"]),
            ("医院申报救助金额", db["declared"]),
            ("追补（扣减）金额", db["adjustments"]),
            ("应付合计", db["total"]),
        ):
            if differs(totals[header], expected):
                rows.append(
                    Row(
                        "funds.SettlementRun",
                        run.pk,
                        as_money(expected),
                        as_money(totals[header]),
                        f"汇总表“{header}”合计与结算单合计不符",
                    )
                )
        if differs(totals["应付合计"], ledger) and all(st["posted_at"] for st in statements):
            rows.append(
                Row(
                    "funds.SettlementRun",
                    run.pk,
                    ledger,
                    as_money(totals["应付合计"]),
                    "汇总表“应付合计”与本月支付凭证合计不符",
                )
            )
        for st in (sampled[pk] for pk in sheets[run.pk]):
            report = exports.statement_report(st)
            total = totals_row(report)["应付金额"]
            if differs(total, st.total):
                rows.append(
                    Row(
                        "funds.SettlementStatement",
                        st.pk,
                        st.total,
                        as_money(total),
                        f"结算单“{report.title}”的“应付金额”合计与结算单应付合计不符",
                    )
                )
        if rows:
            add_difference(
                result,
                "report_totals",
                run.county_id,
                run.year,
                run.month,
                f"{run}医疗救助结算单（汇总表及结算单）的合计行与数据不符。",
                rows,
            )
    if scope.month:
        return
    check_year_end_report(result, scope)


def check_year_end_report(result: ReconcileResult, scope: Scope) -> None:
    from funds import exports

    budgets = scope.county(Budget.objects.all(), "county_id")
    if scope.year:
        budgets = budgets.filter(year=scope.year)
    years = sorted(set(budgets.values_list("year", flat=True)))
    for year in years:
        closes = list(
            scope.county(YearEndClose.objects.filter(year=year), "county_id")
            .select_related("county")
            .order_by("county__code")
        )
        trial = not closes
        if trial:
            closes = exports.year_end_trial(user=None, year=year)
            if scope.county_id:
                closes = [c for c in closes if c.county_id == scope.county_id]
        if not closes:
            continue
        report = exports.year_end_report(closes, year=year, trial=trial)
        totals = totals_row(report)
        spending = spending_by_county_year(scope, {year})
        if trial:
            # The trial's rows are the ledger's figures: its totals must be the ledger's.
            medical = sum(
                (spending.get((c.county_id, year), (ZERO, ZERO))[0] for c in closes), ZERO
            )
            premium = sum(
                (spending.get((c.county_id, year), (ZERO, ZERO))[1] for c in closes), ZERO
            )
            sources = (
                "账簿中各区县当年医疗救助支付与资助参保之和",
                "账簿中各区县当年医疗救助支付之和",
                "账簿中各区县当年资助参保划转之和",
            )
        else:
            # A close's row against the ledger is `year_end_actual`'s and `year_end_premium`'s
            # (per county, once); the sheet's 合计 must be the sum of the rows it shows.
            premium = sum((c.premium_subsidies for c in closes), ZERO)
            medical = sum((c.actual for c in closes), ZERO) - premium
            sources = ("各区县决算行之和",) * 3
        rows = []
        for header, expected, why in (
            ("实际支出", medical + premium, sources[0]),
            ("其中：医疗救助支付", medical, sources[1]),
            ("其中：资助参保", premium, sources[2]),
            ("支出预算", sum((c.budget for c in closes), ZERO), "各区县决算行之和"),
            ("超支金额", sum((c.overspend for c in closes), ZERO), "各区县决算行之和"),
            ("待定", sum((c.unallocated for c in closes), ZERO), "各区县决算行之和"),
            ("当年结余（结转下年）", sum((c.surplus for c in closes), ZERO), "各区县决算行之和"),
            (
                "县级账户年末余额",
                sum((c.closing_balance for c in closes), ZERO),
                "各区县决算行之和",
            ),
        ):
            if differs(totals[header], expected):
                rows.append(
                    Row(
                        "funds.YearEndClose",
                        None,
                        as_money(expected),
                        as_money(totals[header]),
                        f"超支分担表“{header}”合计应等于{why}",
                    )
                )
        if trial:
            for c in closes:
                got = spending.get((c.county_id, year), (ZERO, ZERO))
                if differs(c.actual, got[0] + got[1]):
                    rows.append(
                        Row(
                            "funds.YearEndClose",
                            None,
                            got[0] + got[1],
                            c.actual,
                            f"试算表{c.county.name}“实际支出”应等于账簿支出",
                        )
                    )
        if rows:
            add_difference(
                result,
                "report_totals",
                scope.county_id,
                year,
                None,
                f"{year}年度超支分担表" + ("（试算）" if trial else "") + "的合计行与数据不符。",
                rows,
            )
