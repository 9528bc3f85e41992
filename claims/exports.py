"""Workbooks out: the claims register (救助明细台账), early-warning lists (预警名单) and a
declaration's refused lines. Streaming (XlsxWriter constant_memory), Chinese headers, totals.

`write_xlsx` is the one writer here; it switches to `medaid/xlsx.py` when that exists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db.models import F, FilteredRelation, Q
from django.utils import timezone

from claims.models import Claim, Declaration, LineError, WarningDispatch
from medaid.scoping import mask_id_number, scope_to_user


def write_xlsx(
    target,
    *,
    sheet: str,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence],
    money_columns: Sequence[int] = (),
    date_columns: Sequence[int] = (),
    int_columns: Sequence[int] = (),
    widths: Sequence[int] | None = None,
    row_count: int | None = None,
) -> int:
    """One sheet through medaid's one Excel writer (title, headers, streamed rows, 合计 row over
    the money columns). Returns the number of data rows."""
    from medaid.xlsx import Column, write_report

    def kind(i: int) -> str:
        if i in money_columns:
            return "money"
        if i in date_columns:
            return "date"
        if i in int_columns:
            return "int"
        return "text"

    widths = widths or [14] * len(headers)
    columns = [
        Column(header=h, width=w, kind=kind(i))
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    ]
    stats = write_report(
        target,
        title=title,
        columns=columns,
        rows=rows,
        sheet_name=sheet[:31],
        row_count=row_count,
        engine="stream",
    )
    return stats.rows


# --- claims register ------------------------------------------------------------------------

REGISTER_HEADERS = [
    "结算单号",
    "姓名",
    "公民身份号码",
    "区县",
    "医疗机构",
    "机构级别",
    "救助项目",
    "入院日期",
    "出院（就诊）日期",
    "来源",
    "结算方式",
    "医疗总费用",
    "政策范围内费用",
    "基本医保统筹支付",
    "大病保险支付",
    "其他保障支付",
    "政策范围内个人自付",
    "适用身份",
    "起付标准",
    "救助比例",
    "医疗救助",
    "倾斜救助",
    "救助合计",
    "医院申报救助金额",
    "状态",
    "票据号",
]
REGISTER_MONEY = [11, 12, 13, 14, 15, 16, 18, 20, 21, 22, 23]


def register_queryset(*, user, county_id=None, year=None, month=None, status=None):
    qs = scope_to_user(Claim.objects.all(), user, hospital_field="hospital")
    if county_id:
        qs = qs.filter(county_id=county_id)
    if year:
        start = dt.date(year, month or 1, 1)
        end = (
            dt.date(year + (month == 12), (month % 12) + 1, 1) - dt.timedelta(days=1)
            if month
            else dt.date(year, 12, 31)
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
    for v in values.iterator(chunk_size=5000):
        v = list(v)
        v[2] = mask_id_number(v[2], user)
        v[5] = f"{v[5]}级"
        v[6] = kinds.get(v[6], v[6])
        v[9] = sources.get(v[9], v[9])
        v[10] = settlements.get(v[10], v[10])
        v[17] = identities.get(v[17], v[17] or "")
        v[19] = f"{v[19] * 100:.0f}%" if v[19] is not None else ""
        v[24] = statuses.get(v[24], v[24])
        yield v


def claims_register_file(*, user, target, **filters) -> int:
    qs = register_queryset(user=user, **filters)
    title = "医疗救助明细台账"
    if filters.get("year"):
        title += (
            f"（{filters['year']}年{str(filters['month']) + '月' if filters.get('month') else ''}）"
        )
    return write_xlsx(
        target,
        sheet="救助明细台账",
        title=f"{title} 导出时间 {timezone.localtime():%Y-%m-%d %H:%M}",
        headers=REGISTER_HEADERS,
        rows=register_rows(qs, user),
        money_columns=REGISTER_MONEY,
        date_columns=[7, 8],
        row_count=qs.count(),
    )


# --- early-warning lists --------------------------------------------------------------------

WARNING_HEADERS = [
    "姓名",
    "公民身份号码",
    "区县",
    "监测类别",
    "预警类型",
    "年度",
    "个人负担",
    "预警标准",
    "发现日期",
    "推送日期",
    "答复期限",
    "答复日期",
    "处理结果",
    "答复内容",
    "是否逾期",
]


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
    return write_xlsx(
        target,
        sheet="预警名单",
        title=title,
        headers=WARNING_HEADERS,
        rows=warning_rows(dispatches, user),
        money_columns=[6, 7],
        date_columns=[8, 9, 10, 11],
        int_columns=[5],
    )


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

ERROR_HEADERS = ["行号", "机构编码", "公民身份号码", "姓名", "结算单号", "拒收原因", "说明"]


def declaration_errors_file(*, declaration: Declaration) -> None:
    import tempfile

    labels = dict(LineError.choices)
    rows = (
        [n, h, i, name, ref, labels.get(e, e), detail]
        for n, h, i, name, ref, e, detail in declaration.lines.exclude(error="")
        .order_by("line_no")
        .values_list(
            "line_no", "hospital_code", "id_number", "name", "external_ref", "error", "error_detail"
        )
        .iterator(chunk_size=5000)
    )
    with tempfile.TemporaryFile() as tmp:
        write_xlsx(
            tmp,
            sheet="拒收明细",
            title=f"{declaration} 拒收明细",
            headers=ERROR_HEADERS,
            rows=rows,
            int_columns=[0],
            widths=[8, 14, 20, 10, 20, 36, 30],
        )
        tmp.seek(0)
        declaration.error_file.save(f"申报拒收明细_{declaration.pk}.xlsx", File(tmp), save=False)
