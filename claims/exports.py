"""Workbooks out: the claims register (救助明细台账), early-warning lists (预警名单) and a
declaration's refused lines — all through `medaid.core.xlsx`, registered with the report centre
(`medaid.core.reports`) where staff ask for them by county and month."""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import connection, connections
from django.db.models import F, FilteredRelation, Q
from django.utils import timezone

from claims.models import Claim, Declaration, LineError, Warning, WarningDispatch
from claims.platform.models import LINE_NOTES
from medaid.core.reports import (
    ReportBuild,
    county_required,
    period_of,
    register_report,
    year_of,
)
from medaid.core.scoping import (
    mask_id_number,
    may_see_full_id_number,
    scope_to_user,
    user_county_id,
)
from medaid.core.workdays import month_range
from medaid.core.xlsx import Column, Report, report_filename, write_report, write_workbook

# --- claims register ------------------------------------------------------------------------

REGISTER_COLUMNS = (
    Column("结算单号", 20),
    Column("姓名", 10),
    Column("公民身份号码", 20),
    Column("区县", 10),
    Column("医疗机构", 26),
    Column("机构级别", 8),
    Column("救助项目", 12),
    Column("入院日期", 12, "date"),
    Column("出院（就诊）日期", 14, "date"),
    Column("来源", 10),
    Column("结算方式", 10),
    Column("医疗总费用", 14, "money"),
    Column("政策范围内费用", 14, "money"),
    Column("基本医保统筹支付", 14, "money"),
    Column("大病保险支付", 14, "money"),
    Column("其他保障支付", 14, "money"),
    Column("政策范围内个人自付", 14, "money"),
    Column("适用身份", 16),
    Column("起付标准", 12, "money"),
    Column("救助比例", 8),
    Column("医疗救助", 14, "money"),
    Column("倾斜救助", 14, "money"),
    Column("救助合计", 14, "money"),
    Column("医院申报救助金额", 14, "money"),
    Column("状态", 8),
    Column("票据号", 24),
)
REGISTER_HEADERS = [c.header for c in REGISTER_COLUMNS]
REGISTER_MONEY = [i for i, c in enumerate(REGISTER_COLUMNS) if c.kind == "money"]


def register_queryset(*, user, county_id=None, year=None, month=None, status=None):
    qs = scope_to_user(Claim.objects.all(), user, hospital_field="hospital")
    if county_id:
        qs = qs.filter(county_id=county_id)
    if year:
        start, end = (
            month_range(year, month) if month else (dt.date(year, 1, 1), dt.date(year, 12, 31))
        )
        qs = qs.filter(discharged__range=(start, end))
    if status:
        qs = qs.filter(status=status)
    return qs.annotate(
        current=FilteredRelation("decisions", condition=Q(decisions__is_current=True))
    ).order_by("county_id", "discharged", "id")


def register_rows(queryset, user) -> Iterable[list]:
    from beneficiaries.models import IdentityCode

    kinds = dict(Claim._meta.get_field("kind").choices)
    sources = dict(Claim.Source.choices)
    settlements = dict(Claim.Settlement.choices)
    statuses = dict(Claim.Status.choices)
    identities = dict(IdentityCode.choices)
    values = queryset.values_list(
        "external_ref",
        "person__name",
        "person__id_number",
        "county__name",
        "hospital__name",
        "hospital__level",
        "kind",
        "admitted",
        "discharged",
        "source",
        "settlement",
        "total_cost",
        "in_policy_cost",
        "basic_insurance_paid",
        "critical_illness_paid",
        "other_paid",
        F("current__policy_self_pay"),
        F("current__identity"),
        F("current__deductible_applied"),
        F("current__ratio"),
        F("current__assistance"),
        F("current__tilted_assistance"),
        F("current__total"),
        "declared_assistance",
        "status",
        "receipt_numbers",
    )
    # Per-row work is what a million-row register costs: the permission is asked once, and
    # the few distinct levels and ratios are formatted once each.
    mask = None if may_see_full_id_number(user) else mask_id_number
    levels: dict = {}
    ratios: dict = {None: ""}
    for v in _stream(values):
        v = list(v)
        if mask is not None:
            v[2] = mask(v[2])
        level = v[5]
        v[5] = levels.get(level) or levels.setdefault(level, f"{level}级")
        v[6] = kinds.get(v[6], v[6])
        v[9] = sources.get(v[9], v[9])
        v[10] = settlements.get(v[10], v[10])
        v[17] = identities.get(v[17], v[17] or "")
        ratio = v[19]
        label = ratios.get(ratio)
        if label is None:
            label = ratios[ratio] = f"{ratio * 100:.0f}%"
        v[19] = label
        v[24] = statuses.get(v[24], v[24])
        yield v


def _stream(values, itersize: int = 10_000):
    """The rows of a values_list queryset as plain tuples, streamed.

    On PostgreSQL outside a transaction the rows are fetched by a thread on a connection of
    its own (a named cursor in a transaction: not Django's WITH HOLD cursor, which makes the
    server materialise the whole result first), one chunk ahead of the caller. The thread
    waits on the server while the caller formats and writes the previous chunk — for a
    million-row register that overlap is a quarter of the time. Inside a transaction (tests,
    callers that hold locks) the rows must come through that transaction's own connection."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield from values.iterator(chunk_size=itersize)
        return
    sql, params = values.query.sql_with_params()
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch():
        reader = connections.create_connection(values.db)
        try:
            reader.ensure_connection()
            raw = reader.connection
            with raw.transaction(), raw.cursor(name="medaid_export") as cursor:
                cursor.itersize = itersize
                cursor.execute(sql, params)
                while not stop.is_set():
                    rows = cursor.fetchmany(itersize)
                    chunks.put(rows)
                    if not rows:
                        return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            chunks.put(exc)
        finally:
            reader.close()

    worker = threading.Thread(target=fetch, name="medaid-export-fetch", daemon=True)
    worker.start()
    try:
        while True:
            rows = chunks.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield from rows
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.1)
        worker.join()


def register_sheet(queryset, user, *, title: str, meta=(), county=None, period=None) -> Report:
    return Report(
        title=title,
        sheet_name="救助明细台账",
        meta=meta,
        county=county,
        period=period,
        columns=REGISTER_COLUMNS,
        rows=register_rows(queryset, user),
        row_count=queryset.count(),
    )


def claims_register_write(
    target, *, queryset, user, title: str, meta=(), county=None, period=None
) -> int:
    """The register as one workbook (streamed; past a sheet's rows it continues on the next).
    Returns the number of claims written. The page header names `county` (default: the
    user's own county; a city-wide user's is 全市) and `period`."""
    if county is None:
        from beneficiaries.models import County

        county_id = user_county_id(user)
        county = County.objects.filter(pk=county_id).values_list("name", flat=True).first()
    report = register_sheet(queryset, user, title=title, meta=meta, county=county, period=period)
    (stats,) = write_workbook(target, [report], engine="stream")
    return stats.rows


def claims_register_file(*, user, target, **filters) -> int:
    qs = register_queryset(user=user, **filters)
    title = "医疗救助明细台账"
    if filters.get("year"):
        title += (
            f"（{filters['year']}年{str(filters['month']) + '月' if filters.get('month') else ''}）"
        )
    period = None
    if filters.get("year"):
        period = f"{filters['year']}年" + (f"{filters['month']}月" if filters.get("month") else "")
    return claims_register_write(
        target,
        queryset=qs,
        user=user,
        title=f"{title} 导出时间 {timezone.localtime():%Y-%m-%d %H:%M}",
        period=period,
    )


# --- early-warning lists --------------------------------------------------------------------

WARNING_COLUMNS = (
    Column("姓名", 10),
    Column("公民身份号码", 20),
    Column("区县", 10),
    Column("监测类别", 12),
    Column("预警类型", 22),
    Column("年度", 8, "year", total=False),
    Column("个人负担", 14, "money"),
    Column("预警标准", 14, "money", total=False),
    Column("发现日期", 12, "date"),
    Column("推送日期", 12, "date"),
    Column("答复期限", 12, "date"),
    Column("答复日期", 12, "date"),
    Column("处理结果", 12),
    Column("答复内容", 30),
    Column("是否逾期", 10),
)
WARNING_HEADERS = [c.header for c in WARNING_COLUMNS]


def warning_rows(dispatches, user=None, today=None) -> Iterable[list]:
    from claims.models import Warning

    today = today or timezone.localdate()
    kinds = dict(Warning.Kind.choices)
    groups = dict(Warning.Group.choices)
    outcomes = dict(WarningDispatch.Outcome.choices)
    values = dispatches.order_by("warning__county_id", "warning__person__name", "id").values_list(
        "warning__person__name",
        "warning__person__id_number",
        "warning__county__name",
        "warning__group",
        "warning__kind",
        "warning__year",
        "warning__amount",
        "warning__threshold",
        "warning__found_on",
        "sent_on",
        "due_on",
        "answered_on",
        "outcome",
        "answer",
    )
    for v in values.iterator(chunk_size=2000):
        v = list(v)
        # Departments need the full number to act; staff see it masked unless permitted.
        if user is not None:
            v[1] = mask_id_number(v[1], user)
        v[3] = groups.get(v[3], v[3])
        v[4] = kinds.get(v[4], v[4])
        v[12] = outcomes.get(v[12], "")
        overdue = v[11] is None and today > v[10]
        yield [*v, "逾期未答复" if overdue else ""]


def warning_list_write(target, *, dispatches, title: str, user=None) -> int:
    (stats,) = write_workbook(
        target,
        [
            Report(
                title=title,
                sheet_name="预警名单",
                columns=WARNING_COLUMNS,
                rows=warning_rows(dispatches, user),
            )
        ],
        engine="stream",
    )
    return stats.rows


def warning_list_file(*, department, sent_on: dt.date) -> Path:
    """The month's list for one department: what was sent today plus what is still unanswered."""
    folder = Path(settings.REPORTS_DIR) / "warnings"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"预警名单_{department.county.name}_{department.name}_{sent_on:%Y%m%d}.xlsx"
    dispatches = WarningDispatch.objects.filter(department=department).filter(
        Q(sent_on=sent_on) | Q(answered_on__isnull=True)
    )
    warning_list_write(
        str(path),
        dispatches=dispatches,
        title=f"{department.county.name}{department.name} 医保防范因病致贫返贫监测预警名单"
        f"（{sent_on:%Y年%m月%d日}推送，5个工作日内答复）",
    )
    return path


# --- a declaration's refused lines --------------------------------------------------------------

ERROR_COLUMNS = (
    Column("行号", 8, "int", total=False),
    Column("机构编码", 14),
    Column("公民身份号码", 20),
    Column("姓名", 10),
    Column("结算单号", 20),
    Column("拒收原因", 36),
    Column("说明", 30),
)
ERROR_HEADERS = [c.header for c in ERROR_COLUMNS]


def declaration_errors_file(*, declaration: Declaration) -> None:
    import tempfile

    labels = dict(LineError.choices)
    rows = (
        [n, h, i, name, ref, labels.get(e, e), detail]
        for n, h, i, name, ref, e, detail in declaration.lines.exclude(error__in=LINE_NOTES)
        .order_by("line_no")
        .values_list(
            "line_no", "hospital_code", "id_number", "name", "external_ref", "error", "error_detail"
        )
        .iterator(chunk_size=5000)
    )
    with tempfile.TemporaryFile() as tmp:
        write_report(
            tmp,
            title=f"{declaration} 拒收明细",
            sheet_name="拒收明细",
            columns=ERROR_COLUMNS,
            rows=rows,
            totals=False,
            engine="stream",
        )
        tmp.seek(0)
        declaration.error_file.save(f"申报拒收明细_{declaration.pk}.xlsx", File(tmp), save=False)


# --- the report centre's reports (medaid.core.reports) -------------------------------------------


@register_report(
    "claims_register",
    "救助明细台账",
    needs=("county", "period"),
    permission="claims.view_claim",
    description="区县当月出院（就诊）的全部救助明细及现行救助决定；全市用户可不选区县。",
)
def claims_register_build(*, user, county, parameters) -> ReportBuild:
    """A county's month; a city-wide user may leave the county out (全市), and a whole year
    is asked with `year` instead of `period`."""
    if (parameters or {}).get("period") or not (parameters or {}).get("year"):
        year, month = period_of(parameters)
        period, when = f"{year}-{month:02d}", f"{year}年{month}月"
    else:
        year, month = year_of(parameters), None
        period, when = str(year), f"{year}年"
    queryset = register_queryset(
        user=user, county_id=county.pk if county else None, year=year, month=month
    )
    where = county.name if county else "全市"
    return ReportBuild(
        filename=report_filename("救助明细台账", county=county and county.name, period=period),
        reports=[
            register_sheet(
                queryset,
                user,
                title=f"{where}医疗救助明细台账（{when}）",
                county=where,
                period=when,
                meta=(
                    f"区县：{where}",
                    f"出院（就诊）日期：{when}",
                    f"导出时间：{timezone.localtime():%Y-%m-%d %H:%M}",
                ),
            )
        ],
    )


WARNING_LIST_COLUMNS = (
    Column("姓名", 10),
    Column("公民身份号码", 20),
    Column("监测类别", 12),
    Column("预警类型", 22),
    Column("年度", 8, "year", total=False),
    Column("个人负担", 14, "money"),
    Column("预警标准", 14, "money", total=False),
    Column("超出金额", 14, "money"),
    Column("发现日期", 12, "date"),
    Column("推送部门", 30),
    Column("推送日期", 12, "date"),
    Column("答复期限", 12, "date"),
    Column("答复情况", 30),
)


def warning_list_rows(warnings, user, *, today: dt.date) -> Iterable[tuple]:
    """One row per warning; its pushes to departments folded into the last columns (a warning
    sent to two departments is still one person over one threshold — counted once)."""
    kinds = dict(Warning.Kind.choices)
    groups = dict(Warning.Group.choices)
    outcomes = dict(WarningDispatch.Outcome.choices)
    pushes: dict[int, list] = {}
    for d in (
        WarningDispatch.objects.filter(warning__in=warnings)
        .order_by("warning_id", "department__name", "pk")
        .values_list(
            "warning_id", "department__name", "sent_on", "due_on", "answered_on", "outcome"
        )
    ):
        pushes.setdefault(d[0], []).append(d[1:])
    values = warnings.order_by("person__name", "pk").values_list(
        "pk",
        "person__name",
        "person__id_number",
        "group",
        "kind",
        "year",
        "amount",
        "threshold",
        "found_on",
    )
    for pk, name, id_number, group, kind, year, amount, threshold, found_on in values.iterator(
        chunk_size=2000
    ):
        sent = pushes.get(pk, [])
        answers = []
        for department, _sent_on, due_on, answered_on, outcome in sent:
            if answered_on:
                answers.append(f"{department}：{outcomes.get(outcome, '已答复')}")
            elif today > due_on:
                answers.append(f"{department}：逾期未答复")
            else:
                answers.append(f"{department}：待答复")
        yield (
            name,
            mask_id_number(id_number, user),
            groups.get(group, group),
            kinds.get(kind, kind),
            year,
            amount,
            threshold,
            amount - threshold,
            found_on,
            "、".join(s[0] for s in sent) or "未推送",
            min((s[1] for s in sent), default=None),
            min((s[2] for s in sent), default=None),
            "；".join(answers),
        )


@register_report(
    "warning_list",
    "预警名单",
    needs=("county", "period"),
    permission="claims.view_warning",
    description="区县当月发现的防范因病致贫返贫监测预警对象及各部门答复情况。",
)
def warning_list_build(*, user, county, parameters) -> ReportBuild:
    county = county_required(county, "预警名单")
    year, month = period_of(parameters)
    start, end = month_range(year, month)
    warnings = scope_to_user(Warning.objects.all(), user).filter(
        county=county, found_on__range=(start, end)
    )
    today = timezone.localdate()
    return ReportBuild(
        filename=report_filename("预警名单", county=county.name, period=f"{year}-{month:02d}"),
        reports=[
            Report(
                title=f"{county.name}医保防范因病致贫返贫监测预警名单（{year}年{month}月）",
                sheet_name="预警名单",
                meta=(f"区县：{county.name}", f"发现日期：{start} 至 {end}"),
                columns=WARNING_LIST_COLUMNS,
                rows=warning_list_rows(warnings, user, today=today),
                row_count=warnings.count(),
                county=county.name,
                period=f"{year}年{month}月",
            )
        ],
    )


# The platform comparison's reports (mismatches, 清算 summary) register with the same centre.
from claims.platform import exports as platform_exports  # noqa: E402,F401
