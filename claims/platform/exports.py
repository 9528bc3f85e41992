"""The platform comparison's workbooks, registered with the report centre: the per-hospital,
per-month mismatch report, and the monthly 清算 summary per hospital in the platform's style."""

from __future__ import annotations

from django.utils import timezone

from claims.platform import selectors
from claims.platform.models import PlatformSettlement
from medaid.core.reports import ReportBuild, period_of, register_report
from medaid.core.scoping import scope_to_user
from medaid.core.xlsx import Column, Report, report_filename

MISMATCH_COLUMNS = (
    Column("机构编码", 14),
    Column("医疗机构", 26),
    Column("申报月份", 10),
    Column("比对笔数", 10, "int"),
    Column("不一致笔数", 10, "int"),
    Column("待复核", 8, "int"),
    Column("差额合计（平台−本系统）", 18, "money"),
    Column("主要原因", 60),
)
CLEARING_COLUMNS = (
    Column("清算期", 10),
    Column("机构编码", 14),
    Column("医疗机构", 26),
    Column("清算类别", 10),
    Column("医疗类别", 16),
    Column("人次", 8, "int"),
    Column("医疗总费用", 16, "money"),
    Column("医疗救助基金支出", 16, "money"),
    Column("其中：倾斜救助", 16, "money"),
)


def _settlements(user, county):
    settlements = scope_to_user(
        PlatformSettlement.objects.all(),
        user,
        county_field="claim__county",
        hospital_field="claim__hospital",
    )
    return settlements.filter(claim__county=county) if county else settlements


def mismatch_rows(report_rows) -> list[list]:
    return [
        [
            r.hospital_code,
            r.hospital,
            f"{r.year}-{r.month:02d}",
            r.compared,
            r.count,
            r.open,
            r.difference,
            r.top_reasons,
        ]
        for r in report_rows
    ]


@register_report(
    "platform_mismatches",
    "平台医疗救助金额比对差异",
    needs=("county", "period"),
    permission="claims.view_platformsettlement",
    description="平台结算清单的医疗救助基金支出（maf_pay）与本系统计算不一致的笔数、差额合计及"
    "主要原因，按医疗机构、申报月份。",
)
def platform_mismatches_build(*, user, county, parameters) -> ReportBuild:
    year, month = period_of(parameters)
    settlements = _settlements(user, county).filter(
        declaration__year=year, declaration__month=month
    )
    rows = mismatch_rows(selectors.mismatch_report(settlements))
    where = county.name if county else "全市"
    period = f"{year}-{month:02d}"
    return ReportBuild(
        filename=report_filename(
            "平台救助金额比对差异", county=county and county.name, period=period
        ),
        reports=[
            Report(
                title=f"{where}平台结算清单医疗救助金额比对差异（{year}年{month}月）",
                columns=MISMATCH_COLUMNS,
                rows=rows,
                row_count=len(rows),
                sheet_name="比对差异",
                meta=(f"区县：{where}", f"导出时间：{timezone.localtime():%Y-%m-%d %H:%M}"),
            )
        ],
    )


def clearing_rows(report_rows, *, year: int, month: int) -> list[list]:
    return [
        [
            f"{year}{month:02d}",
            r.hospital_code,
            r.hospital,
            f"{r.clr_type} {r.clr_label}",
            f"{r.med_type} {r.med_label}",
            r.visits,
            r.total_cost,
            r.assistance,
            r.tilted,
        ]
        for r in report_rows
    ]


@register_report(
    "platform_clearing",
    "医疗救助清算汇总（平台格式）",
    needs=("county", "period"),
    permission="claims.view_platformsettlement",
    description="按医疗机构、清算类别、医疗类别汇总当月清算的人次、医疗总费用、医疗救助基金支出"
    "和倾斜救助，格式同医保信息平台清算表。",
)
def platform_clearing_build(*, user, county, parameters) -> ReportBuild:
    year, month = period_of(parameters)
    summary = selectors.clearing_summary(_settlements(user, county), year=year, month=month)
    rows = clearing_rows(summary, year=year, month=month)
    where = county.name if county else "全市"
    return ReportBuild(
        filename=report_filename(
            "医疗救助清算汇总", county=county and county.name, period=f"{year}-{month:02d}"
        ),
        reports=[
            Report(
                title=f"{where}医疗救助清算汇总表（清算期 {year}{month:02d}）",
                columns=CLEARING_COLUMNS,
                rows=rows,
                row_count=len(rows),
                sheet_name="清算汇总",
                meta=(
                    f"清算期：{year}年{month}月",
                    f"区县：{where}",
                    f"导出时间：{timezone.localtime():%Y-%m-%d %H:%M}",
                ),
                county=where,
                period=f"{year}年{month}月",
            )
        ],
    )
