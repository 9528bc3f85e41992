"""Workbooks the registry hands out: the roster template, a batch's rows with errors (the same
columns as delivered plus 错误原因), the late/missing feed list and the subsidy roster."""

import csv
import datetime as dt
import io
import itertools
from collections.abc import Iterator

import xlsxwriter
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from beneficiaries.imports import (
    COLUMNS,
    HEADER_KEYS,
    PLATFORM_COLUMNS,
    PLATFORM_HEADER_KEYS,
    cell_text,
    header_key,
    open_rows,
    template_rows,
)
from beneficiaries.models import FeedCheck, RosterImport, RosterImportRow, SubsidyRoster
from beneficiaries.services import ImportStateError, subsidy_roster_build
from medaid.core import xlsx
from medaid.core.errors import Rollback
from medaid.core.reports import (
    ReportBuild,
    ReportRequestError,
    county_required,
    register_report,
    year_of,
)
from medaid.core.scoping import mask_id_number, may_see_full_id_number, scope_to_user
from medaid.core.xlsx import report_filename

ERROR_HEADER = "错误原因"


def template_xlsx(kind: str) -> bytes:
    """The documented template: the list, then a sheet that explains every column."""
    headers, examples = template_rows(kind)
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    text = book.add_format({"num_format": "@"})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    sheet = book.add_worksheet("名册")
    sheet.set_column(0, len(headers) - 1, 16, text)  # text cells: ID numbers keep 18 digits
    sheet.write_row(0, 0, headers, bold)
    for r, row in enumerate(examples, start=1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value, text)
    sheet.freeze_panes(1, 0)
    notes = book.add_worksheet("填写说明")
    notes.set_column(0, 0, 18)
    notes.set_column(1, 1, 70)
    notes.write_row(0, 0, ["列名", "说明"], bold)
    for r, column in enumerate(COLUMNS, start=1):
        required = "（必填）" if kind in column.required else ""
        notes.write_row(r, 0, [column.header, column.note + required])
    r = len(COLUMNS) + 2
    for line in (
        "公民身份号码列必须设为“文本”格式：数值格式只保留15位有效数字，号码会被损坏。",
        "请勿使用公式；日期可写 2024-01-31、2024/1/31、2024年1月31日 或 Excel 日期。",
        "同一文件中同一人同一身份同一变动类型只能出现一次。",
        "支持 .xlsx 与 .csv（UTF-8 或 GBK 编码）；不支持 .xls。",
    ):
        notes.write(r, 0, line)
        r += 1
    book.close()
    return buffer.getvalue()


def template_csv(kind: str) -> bytes:
    headers, examples = template_rows(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(examples)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def errors_xlsx(batch: RosterImport, target, *, user=None) -> int:
    """Rows refused in `batch`, as delivered, with 错误原因 appended. Returns the row count.
    The ID-number column is masked for a `user` whose role does not see full numbers.

    The cells come from the kept file, read again: staging keeps only the parsed values (the
    raw cells of a million good rows would double what COPY writes), and the refused lines,
    in line order, are picked out of the file as it streams past."""
    platform = batch.kind == RosterImport.Kind.PLATFORM
    columns = PLATFORM_COLUMNS if platform else COLUMNS
    keys = PLATFORM_HEADER_KEYS if platform else HEADER_KEYS
    headers = list(batch.headers) or [c.header for c in columns]
    masked = set()
    if user is not None and not may_see_full_id_number(user):
        masked = {i for i, h in enumerate(headers) if keys.get(header_key(h)) == "id_number"}
    book = xlsxwriter.Workbook(target, {"constant_memory": True, "in_memory": False})
    text = book.add_format({"num_format": "@"})
    bold = book.add_format({"bold": True})
    red = book.add_format({"bold": True, "font_color": "#C00000"})
    sheet = book.add_worksheet("错误行")
    sheet.set_column(0, len(headers), 16, text)
    sheet.write_row(0, 0, headers, bold)
    sheet.write(0, len(headers), ERROR_HEADER, red)
    refused = (
        RosterImportRow.objects.filter(batch=batch)
        .exclude(error_code="")
        .order_by("line_no")
        .values_list("line_no", "error_message")
        .iterator(chunk_size=5000)
    )
    count = 0
    first = next(refused, None)
    if first is not None:  # an .xlsx is read whole: only when there is something to copy
        delivered = open_rows(batch.file.path, batch.file_format, batch.kind).rows
        line, cells = 0, []
        for line_no, message in itertools.chain([first], refused):
            while line < line_no:
                line, cells = next(delivered, (line_no + 1, []))
            count += 1
            # A line the file no longer has still gets its reason.
            for c, value in enumerate(cells[: len(headers)] if line == line_no else []):
                shown = cell_text(value)
                sheet.write_string(count, c, mask_id_number(shown) if c in masked else shown, text)
            sheet.write_string(count, len(headers), message)
    book.close()
    return count


def feed_checks_xlsx(checks: QuerySet[FeedCheck], target) -> None:
    rows = (
        (
            c.county.name,
            c.department.name,
            f"{c.period:%Y-%m}",
            c.due,
            c.get_status_display(),
            c.delivered_at.date() if c.delivered_at else None,
        )
        for c in checks.select_related("county", "department").order_by("county", "department")
    )
    xlsx.write_report(
        target,
        title="变动名册报送情况（逾期及未报送）",
        columns=[
            xlsx.Column("区县", 12),
            xlsx.Column("部门", 20),
            xlsx.Column("所属月份", 10),
            xlsx.Column("报送截止日", 12, "date"),
            xlsx.Column("报送情况", 10),
            xlsx.Column("实际提供日期", 12, "date"),
        ],
        rows=rows,
        sheet_name="报送情况",
        totals=False,
    )


def subsidy_roster_xlsx(roster: SubsidyRoster, target, *, user=None) -> None:
    """The roster the tax and insurance side enrols from, as `user` may see it (ID numbers in
    full for finance, masked for a role that does not need them): the report centre's
    资助参保名册, written at once."""
    lines = roster.lines.all()
    xlsx.write_workbook(target, [subsidy_report(roster, _subsidy_rows(lines, user), lines=lines)])


# --- the report centre's reports (medaid.core.reports) -------------------------------------------

ROSTER_COLUMNS = [
    xlsx.Column("姓名", 10),
    xlsx.Column("公民身份号码", 20),
    xlsx.Column("性别", 6),
    xlsx.Column("出生日期", 12, "date"),
    xlsx.Column("乡镇（街道）", 16),
    xlsx.Column("户编号", 16),
    xlsx.Column("参保险种", 20),
    xlsx.Column("现有身份", 30),
    xlsx.Column("身份起始日期", 14),
    xlsx.Column("认定部门", 24),
    xlsx.Column("身份数", 8, "int", total=True),
]


def _current_identities(people, on):
    """(person_id, code, start, department) of the identities held on `on`, by person."""
    from beneficiaries.models import Identity

    return (
        Identity.objects.filter(person__in=people, start__lte=on)
        .filter(Q(end__isnull=True) | Q(end__gte=on))
        .order_by("person_id", "start", "code")
        .values_list("person_id", "code", "start", "department__name")
        .iterator(chunk_size=5000)
    )


def person_roster_rows(people, user, *, on) -> Iterator[tuple]:
    """People in id order merged with their current identities in person order: two streamed
    queries, however large the county."""
    from beneficiaries.models import IdentityCode, Person

    codes = dict(IdentityCode.choices)
    sexes = dict(Person.Sex.choices)
    schemes = dict(Person.InsuranceScheme.choices)
    identities = _current_identities(people, on)
    pending = next(identities, None)
    values = people.order_by("pk").values_list(
        "pk",
        "name",
        "id_number",
        "sex",
        "birth_date",
        "township__name",
        "household__code",
        "insurance_scheme",
    )
    for pk, name, id_number, sex, birth, township, household, scheme in values.iterator(
        chunk_size=5000
    ):
        held = []
        while pending is not None and pending[0] <= pk:
            if pending[0] == pk:
                held.append(pending)
            pending = next(identities, None)
        yield (
            name,
            mask_id_number(id_number, user),
            sexes.get(sex, sex),
            birth,
            township or "",
            household or "",
            schemes.get(scheme, scheme),
            "、".join(codes.get(h[1], h[1]) for h in held),
            "、".join(f"{h[2]:%Y-%m-%d}" for h in held),
            "、".join(dict.fromkeys(h[3] for h in held if h[3])),
            len(held),
        )


@register_report(
    "person_roster",
    "救助对象名册",
    needs=("county",),
    permission="beneficiaries.view_person",
    description="区县全部救助对象及其当前有效身份（身份证号按权限脱敏）。",
)
def person_roster_build(*, user, county, parameters) -> ReportBuild:
    from beneficiaries.models import Person

    county = county_required(county, "救助对象名册")
    today = timezone.localdate()
    people = scope_to_user(Person.objects.all(), user).filter(county=county)
    return ReportBuild(
        filename=report_filename("救助对象名册", county=county.name, period=f"{today:%Y-%m-%d}"),
        reports=[
            xlsx.Report(
                title=f"{county.name}医疗救助对象名册",
                sheet_name="名册",
                meta=(f"区县：{county.name}", f"身份截至：{today:%Y年%m月%d日}"),
                columns=ROSTER_COLUMNS,
                rows=person_roster_rows(people, user, on=today),
                row_count=people.count(),
                county=county.name,
                period=f"截至{today:%Y-%m-%d}",
            )
        ],
    )


SUBSIDY_COLUMNS = [
    xlsx.Column("姓名", 10),
    xlsx.Column("公民身份号码", 20),
    xlsx.Column("资助身份", 26),
    xlsx.Column("资助类别", 12),
    xlsx.Column("类型", 10),
    xlsx.Column("认定日期", 12, "date"),
    xlsx.Column("参保年度", 8, "year"),
    xlsx.Column("资助金额", 12, "money"),
]

# The engine's explanation of a subsidy (medaid.policy.rules.premium._subsidy) names its class.
SUBSIDY_CLASSES = (("全额资助", "全额资助"), ("定额资助", "定额资助"), ("%", "按比例资助"))


def subsidy_class(trace) -> str:
    """全额资助 / 定额资助 / 按比例资助, read from a line's computation trace."""
    for step in reversed(trace or []):
        for mark, label in SUBSIDY_CLASSES:
            if mark in str(step):
                return label
    return ""


def subsidy_report(roster: SubsidyRoster, rows, *, lines=None, trial=False) -> xlsx.Report:
    """资助参保名册: one row per line, grouped by identity with a 小计 (amount and headcount)
    after each identity and the 合计 at the end, to the cent. `lines` (a queryset) declares
    the row and group counts; a trial passes its rows as a list."""
    if lines is not None:
        row_count = lines.count()
        groups = lines.values("identity").distinct().count()
    else:
        rows = list(rows)
        row_count = len(rows)
        groups = len({r[2] for r in rows})
    return xlsx.Report(
        title=f"{roster.county.name}{roster.year}年度城乡居民医保资助参保名册"
        + ("（试算）" if trial else ""),
        meta=[
            f"个人缴费标准：{roster.individual_contribution} 元",
            f"认定基准日：{roster.decision_date:%Y-%m-%d}",
            *(["名册尚未生成：按认定基准日现有身份试算，以正式生成的名册为准。"] if trial else []),
        ],
        columns=SUBSIDY_COLUMNS,
        rows=rows,
        row_count=row_count,
        subtotal_by="资助身份",
        subtotal_groups=groups,
        sheet_name="资助参保名册",
        county=roster.county.name,
        period=f"{roster.year}年度",
    )


def _subsidy_rows(lines, user) -> Iterator[tuple]:
    """Rows in identity order (a group per identity), then kind, then ID number."""
    from beneficiaries.models import IdentityCode, SubsidyLine

    identities = dict(IdentityCode.choices)
    kinds = dict(SubsidyLine.Kind.choices)
    values = lines.order_by("identity", "kind", "person__id_number").values_list(
        "person__name",
        "person__id_number",
        "identity",
        "kind",
        "decided_on",
        "roster__year",
        "amount",
        "trace",
    )
    for name, id_number, identity, kind, decided_on, year, amount, trace in values.iterator(
        chunk_size=5000
    ):
        yield (
            name,
            mask_id_number(id_number, user),
            identities.get(identity, identity),
            subsidy_class(trace),
            kinds.get(kind, kind),
            decided_on,
            year,
            amount,
        )


def subsidy_roster_trial(*, county, year: int, user):
    """The roster `subsidy_roster_build` would make today, built in a savepoint that is rolled
    back: the same rules, nothing written. Rows are read before the rollback."""
    decision_date = min(timezone.localdate(), dt.date(year, 12, 31))
    try:
        with transaction.atomic():
            roster = subsidy_roster_build(county=county, year=year, decision_date=decision_date)
            rows = list(_subsidy_rows(roster.lines.all(), user))
            raise Rollback
    except ImportStateError as exc:
        raise ReportRequestError(
            f"{county.name}{year}年度资助参保名册尚未生成，且无法试算：{exc}"
        ) from exc
    except Rollback:
        pass
    return roster, rows


@register_report(
    "subsidy_roster",
    "资助参保名册",
    needs=("county", "year"),
    permission="beneficiaries.view_subsidyroster",
    description="区县参保年度的资助参保名册（年度名册、月度新增、已缴费退还）；未生成时试算。",
)
def subsidy_roster_build_report(*, user, county, parameters) -> ReportBuild:
    county = county_required(county, "资助参保名册")
    year = year_of(parameters)
    roster = (
        scope_to_user(SubsidyRoster.objects.select_related("county"), user)
        .filter(county=county, year=year)
        .first()
    )
    trial = roster is None
    if trial:
        roster, rows = subsidy_roster_trial(county=county, year=year, user=user)
        report = subsidy_report(roster, rows, trial=True)
    else:
        lines = roster.lines.all()
        report = subsidy_report(roster, _subsidy_rows(lines, user), lines=lines)
    return ReportBuild(
        filename=report_filename(
            "资助参保名册" + ("-试算" if trial else ""), county=county.name, period=str(year)
        ),
        reports=[report],
    )
