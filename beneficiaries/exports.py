"""Workbooks the registry hands out: the roster template, a batch's rows with errors (the same
columns as delivered plus 错误原因), the late/missing feed list and the subsidy roster."""

import csv
import io

import xlsxwriter
from django.db.models import QuerySet

from beneficiaries.imports import COLUMNS, RAW_SEPARATOR, template_rows
from beneficiaries.models import FeedCheck, RosterImport, RosterImportRow, SubsidyRoster
from medaid import xlsx

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


def errors_xlsx(batch: RosterImport, target) -> int:
    """Rows refused in `batch`, as delivered, with 错误原因 appended. Returns the row count."""
    headers = list(batch.headers) or [c.header for c in COLUMNS]
    book = xlsxwriter.Workbook(target, {"constant_memory": True, "in_memory": False})
    text = book.add_format({"num_format": "@"})
    bold = book.add_format({"bold": True})
    red = book.add_format({"bold": True, "font_color": "#C00000"})
    sheet = book.add_worksheet("错误行")
    sheet.set_column(0, len(headers), 16, text)
    sheet.write_row(0, 0, headers, bold)
    sheet.write(0, len(headers), ERROR_HEADER, red)
    rows = (
        RosterImportRow.objects.filter(batch=batch)
        .exclude(error_code="")
        .order_by("line_no")
        .values_list("raw", "error_message")
    )
    count = 0
    for count, (raw, message) in enumerate(rows.iterator(chunk_size=5000), start=1):
        cells = raw.split(RAW_SEPARATOR)
        cells += [""] * (len(headers) - len(cells))
        for c, value in enumerate(cells[: len(headers)]):
            sheet.write_string(count, c, value, text)
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


def subsidy_roster_xlsx(roster: SubsidyRoster, target, *, mask=None) -> None:
    """The roster the tax and insurance side enrols from; ID numbers in full unless masked."""
    lines = roster.lines.select_related("person").order_by("kind", "person__id_number")
    mask = mask or (lambda number: number)
    rows = (
        (
            line.person.name,
            mask(line.person.id_number),
            line.get_identity_display(),
            line.get_kind_display(),
            line.decided_on,
            line.amount,
        )
        for line in lines.iterator(chunk_size=5000)
    )
    xlsx.write_report(
        target,
        title=f"{roster.county.name}{roster.year}年度城乡居民医保资助参保名册",
        meta=[
            f"个人缴费标准：{roster.individual_contribution} 元",
            f"认定基准日：{roster.decision_date:%Y-%m-%d}",
        ],
        columns=[
            xlsx.Column("姓名", 10),
            xlsx.Column("公民身份号码", 20),
            xlsx.Column("资助身份", 22),
            xlsx.Column("类型", 10),
            xlsx.Column("认定日期", 12, "date"),
            xlsx.Column("资助金额", 12, "money"),
        ],
        rows=rows,
        row_count=roster.lines.count(),
        sheet_name="资助名册",
        footer=["制表人：", "审核人："],
    )
