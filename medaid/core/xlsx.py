"""THE one Excel writer of medaid: every report and export goes through `write_report` (one
table) or `write_workbook` (several tables, one sheet each).

Every workbook looks the same to finance staff: a title row (and optional lines such as
"结算区县：…"), a bold header row frozen above the data, set widths, `#,##0.00` on money, real
dates (`yyyy-mm-dd`), years as plain integers (`0`, never "2,026"), a 合计 row whose values are
computed here from the rows written (Decimal, so they equal the database sums; values, not
formulas, so readers that use cached values — calamine, WPS preview, openpyxl `data_only` —
see them), optional footer lines, and the signature line (制表人 / 复核人 / 负责人 / 日期).

How it prints is decided in one place, `print_setup`, for both engines: A4 landscape, the
title-to-header rows repeated on every page, fit to width with pages running on downwards
(fitToHeight 0), the county and the period in the page header, 第 &P 页 共 &N 页 in the
footer; a wide register (more columns than an A4 landscape page holds readably) is spread over
two or more pages across with its first columns (结算单号, 姓名) repeated on each. Aware
datetimes are written as Asia/Shanghai wall-clock time.

Two engines behind the one interface:
- ``"stream"`` — rustpy-xlsxwriter in constant-memory mode (~38 000 rows/s here) for large
  exports. A sheet holds 1,048,576 rows; past that the table continues on further sheets
  (``名册``, ``名册(2)`` …) with the header repeated, and the totals row ends the last one. The
  engine writes sheets while it pulls rows, so it must know how many sheets to declare: pass
  ``row_count`` (a ``.count()``) for exports that may exceed one sheet.
- ``"openpyxl"`` — openpyxl with borders and print setup, for small formatted reports.
``"auto"`` picks openpyxl when the row count is known and small, otherwise the stream engine.

The module is plain Python (no Django) so that benchmarks and management commands share it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any, Literal
from zoneinfo import ZoneInfo

EXCEL_MAX_ROWS = 1_048_576
# Below this many rows the formatted (slower, in-memory) openpyxl engine is used by "auto".
SMALL_REPORT_ROWS = 5_000
PROGRESS_EVERY = 10_000
TOTALS_LABEL = "合计"

Kind = Literal["text", "money", "int", "year", "date", "datetime", "percent", "decimal"]

NUMBER_FORMATS: dict[str, str | None] = {
    "text": "@",
    "money": "#,##0.00",
    "int": "#,##0",
    # A year is a number people file by, not a quantity: no thousands separator.
    "year": "0",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
    "percent": "0.00%",
    "decimal": "0.0000",
}
TIME_ZONE = ZoneInfo("Asia/Shanghai")
# ISO A4 in the OOXML paperSize enumeration (1 is US Letter, the default when none is set).
PAPER_A4 = 9
# Column-width units an A4 landscape page holds at a readable scale (≈ 75 %, 0.5" margins):
# a report wider than this is spread over more pages across instead of shrunk onto one.
PAGE_WIDTH_UNITS = 180
# The signature line at the end of every printed report, spread across the table's width.
SIGNATURE_LABELS = ("制表人：", "复核人：", "负责人：", "日期：")
_CJK = re.compile(r"[\u3400-\u9fff]")
CENT = Decimal("0.01")
_END = object()


@dataclass(frozen=True)
class Column:
    """One column: Chinese header, width in characters, kind (decides the number format), and
    whether the 合计 row sums it (default: money columns only)."""

    header: str
    width: float = 14
    kind: Kind = "text"
    total: bool | None = None

    @property
    def summed(self) -> bool:
        return self.kind == "money" if self.total is None else self.total


@dataclass
class Report:
    """One table of a workbook. ``rows`` yields sequences in the order of ``columns``."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence[Any]]
    # In Chinese (a sheet name of ASCII codes only — "Sheet1", a hospital code — is refused).
    sheet_name: str = "报表"
    totals: bool = True
    # Lines under the title, e.g. ["结算区县：隆阳区", "结算期间：2024年3月"].
    meta: Sequence[str] = ()
    # Lines after the table and before the signature line, e.g. ["经办机构（盖章）："].
    footer: Sequence[str] = ()
    # The page header of every printed page: the county's name (None: 全市) and the period.
    county: str | None = None
    period: str | None = None
    # The 制表人 / 复核人 / 负责人 / 日期 line at the end (a file for machines may drop it).
    signatures: bool = True
    # Columns repeated on the left of every page when the table is spread over pages across.
    key_columns: int = 2
    # A header whose value groups the rows (which must come sorted by it): after each group a
    # 小计 row with the group's sums and row count; the 合计 row sums the data rows only.
    # `subtotal_groups` (the number of groups) lets the stream engine count its sheets.
    subtotal_by: str | None = None
    subtotal_groups: int = 0
    row_count: int | None = None
    # The 合计 row's value of a column that is not a sum, by header (the overall ratio of a
    # percent column: Σ超支 / Σ预算). A column left empty in the 合计 row is written as no cell
    # at all, and a reader that lines cells up by position then shifts every later column.
    totals_values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReportStats:
    rows: int = 0
    sheets: list[str] = field(default_factory=list)
    # header → Decimal sum over every data row, for the summed columns.
    totals: dict[str, Decimal] = field(default_factory=dict)
    engine: str = ""


class ReportError(ValueError):
    """A report that cannot be written as asked (more rows than the declared count…)."""


def write_report(
    target: str | os.PathLike | IO[bytes],
    *,
    title: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    sheet_name: str = "报表",
    totals: bool = True,
    meta: Sequence[str] = (),
    footer: Sequence[str] = (),
    row_count: int | None = None,
    county: str | None = None,
    period: str | None = None,
    signatures: bool = True,
    engine: Literal["auto", "stream", "openpyxl"] = "auto",
    on_progress: Callable[[int], None] | None = None,
) -> ReportStats:
    """Write one table to ``target`` (path or binary file). ``on_progress(n)`` is called with
    the number of rows written since its last call (every 10 000 rows and at the end) — pass a
    job's ``progress.advance``."""
    report = Report(
        title=title,
        columns=columns,
        rows=rows,
        sheet_name=sheet_name,
        totals=totals,
        meta=meta,
        footer=footer,
        row_count=row_count,
        county=county,
        period=period,
        signatures=signatures,
    )
    return write_workbook(target, [report], engine=engine, on_progress=on_progress)[0]


def write_workbook(
    target: str | os.PathLike | IO[bytes],
    reports: Sequence[Report],
    *,
    engine: Literal["auto", "stream", "openpyxl"] = "auto",
    on_progress: Callable[[int], None] | None = None,
) -> list[ReportStats]:
    """Write several tables, each on its own sheet (or sheets, past the row limit)."""
    if not reports:
        raise ReportError("报表至少需要一张表")
    for report in reports:
        _check(report)
    reports = _unique_sheet_names(reports)
    reports = [
        replace(r, rows=_with_subtotals(r), row_count=_with_groups(r)) if r.subtotal_by else r
        for r in reports
    ]
    if engine == "auto":
        small = all(
            (r.row_count if r.row_count is not None else _len(r.rows)) is not None
            and (r.row_count if r.row_count is not None else _len(r.rows)) <= SMALL_REPORT_ROWS
            for r in reports
        )
        engine = "openpyxl" if small else "stream"
    if isinstance(target, os.PathLike | str):
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    writer = _write_openpyxl if engine == "openpyxl" else _write_stream
    return writer(target, reports, _Progress(on_progress))


def report_filename(title: str, *, county: str | None = None, period: str | None = None) -> str:
    """`医疗救助结算单_隆阳区_2024-03.xlsx`; city-wide reports say 全市. Characters Windows
    refuses in file names are replaced."""
    parts = [title, county or "全市"]
    if period:
        parts.append(period)
    name = "_".join(parts)
    return re.sub(r'[\\/:*?"<>|\s]+', "-", name) + ".xlsx"


def totals_row(report: Report) -> dict[str, Any]:
    """The 合计 row the writers write for `report`, by header: the sums of the summed columns
    over the rows (the writers' own `_Totals`) and `totals_values`. Iterates `rows` (an
    iterator is consumed). For checks that a report's 合计 equals the database's figures."""
    totals = _Totals(report.columns)
    for row in report.rows:
        totals.add(row)
    values: dict[str, Any] = totals.by_header(report.columns)
    values.update(report.totals_values)
    return values


def money(value: Any) -> Decimal:
    """A cell value as yuan, 2 places, ROUND_HALF_UP (floats through their repr, never binary)."""
    if value is None or value == "":
        return Decimal("0.00")
    if isinstance(value, Decimal):
        return value.quantize(CENT, ROUND_HALF_UP)
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


# --- internals ------------------------------------------------------------------------------


class _Progress:
    def __init__(self, callback: Callable[[int], None] | None) -> None:
        self.callback = callback
        self.pending = 0

    def tick(self) -> None:
        self.pending += 1
        if self.callback is not None and self.pending >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.callback is not None and self.pending:
            self.callback(self.pending)
        self.pending = 0


def _len(rows: Iterable) -> int | None:
    try:
        return len(rows)  # type: ignore[arg-type]
    except TypeError:
        return None


_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


def _check(report: Report) -> None:
    headers = [c.header for c in report.columns]
    if not headers:
        raise ReportError(f"报表“{report.title}”没有列")
    if len(set(headers)) != len(headers):
        raise ReportError(f"报表“{report.title}”的列名重复")
    if report.totals and report.columns[0].summed:
        raise ReportError(f"报表“{report.title}”的第一列用于“合计”字样，不能求和")
    unknown = set(report.totals_values) - set(headers)
    if unknown:
        raise ReportError(f"报表“{report.title}”的合计值没有对应的列：{'、'.join(sorted(unknown))}")
    if _SHEET_NAME_BAD.search(report.sheet_name) or not 0 < len(report.sheet_name) <= 28:
        raise ReportError(f"工作表名称无效：{report.sheet_name}")
    if not _CJK.search(report.sheet_name):
        raise ReportError(f"工作表名称应为中文，不能是代码：{report.sheet_name}")


def sheet_title(name: str) -> str:
    """A sheet name from a person's or a place's name: the characters Excel refuses replaced,
    at most 28 characters (room for the "(2)" of a continuation sheet)."""
    return _SHEET_NAME_BAD.sub("-", name).strip()[:28] or "报表"


def _unique_sheet_names(reports: Sequence[Report]) -> list[Report]:
    """Two reports of one workbook with the same sheet name (two hospitals of one name) get
    "(2)", "(3)" … in order, so that neither overwrites the other."""
    seen: dict[str, int] = {}
    out = []
    for report in reports:
        name = report.sheet_name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            n = seen[name]
            while f"{name[:24]}({n})" in seen:
                n += 1
            name = f"{name[:24]}({n})"
            seen[name] = 1
            report = replace(report, sheet_name=name)
        out.append(report)
    return out


# --- printing: the one place that decides how every report prints -------------------------


@dataclass(frozen=True)
class PrintSetup:
    """How one sheet prints; `print_setup(report)` builds it, each engine applies it."""

    paper_size: int
    landscape: bool
    # 0-based, inclusive: the title, meta and header rows, repeated at the top of every page.
    repeat_rows: tuple[int, int]
    # 0-based, inclusive: the key columns repeated on the left, when spread across pages.
    repeat_columns: tuple[int, int] | None
    fit_width: int
    fit_height: int
    # Page header, left and right, and the page footer's centre, in Excel's &-codes.
    header_left: str
    header_right: str
    footer_center: str

    @property
    def header(self) -> str:
        return f"&L{self.header_left}" + (f"&R{self.header_right}" if self.header_right else "")

    @property
    def footer(self) -> str:
        return f"&C{self.footer_center}"


def _amp(text: str) -> str:
    """A literal "&" in a page header is written "&&" (a single one starts a code)."""
    return text.replace("&", "&&")


def print_setup(report: Report) -> PrintSetup:
    width = sum(c.width for c in report.columns)
    pages_across = max(1, math.ceil(width / PAGE_WIDTH_UNITS))
    keys = min(report.key_columns, len(report.columns) - 1)
    return PrintSetup(
        paper_size=PAPER_A4,
        landscape=True,
        repeat_rows=(0, _header_rows(report) - 1),
        repeat_columns=(0, keys - 1) if pages_across > 1 and keys > 0 else None,
        fit_width=pages_across,
        fit_height=0,
        header_left=_amp("区县：" + (report.county or "全市")),
        header_right=_amp("期间：" + report.period) if report.period else "",
        footer_center="第 &P 页 共 &N 页",
    )


def _trailer_lines(report: Report) -> list[list[tuple[int, str]]]:
    """The rows after the 合计 row, as [(0-based column, text)…]: a blank row, the footer lines,
    a blank row and the signature line (its four labels spread across the table)."""
    lines: list[list[tuple[int, str]]] = []
    if report.footer:
        lines.append([])
        lines += [[(0, text)] for text in report.footer]
    if report.signatures:
        width = len(report.columns)
        step = max(1, width // len(SIGNATURE_LABELS))
        cells: list[tuple[int, str]] = []
        for i, label in enumerate(SIGNATURE_LABELS):
            column = min(i * step, width - 1)
            if cells and cells[-1][0] == column:
                cells[-1] = (column, cells[-1][1] + "　　　　" + label)
            else:
                cells.append((column, label))
        lines += [[], cells]
    return lines


def _trailing_rows(report: Report) -> int:
    return (1 if report.totals else 0) + len(_trailer_lines(report))


def _header_rows(report: Report) -> int:
    """Rows above the data: the title, the meta lines, the header."""
    return 1 + len(report.meta) + 1


def _sheet_names(report: Report, n: int) -> list[str]:
    return [report.sheet_name if i == 0 else f"{report.sheet_name}({i + 1})" for i in range(n)]


def _capacity(report: Report) -> int:
    return EXCEL_MAX_ROWS - _header_rows(report)


def _sheet_count(report: Report) -> int:
    count = report.row_count if report.row_count is not None else _len(report.rows)
    if count is None:
        return 1
    return max(1, math.ceil((count + _trailing_rows(report)) / _capacity(report)))


SUBTOTAL_LABEL = "小计"


class _Subtotal(tuple):
    """A 小计 row the writer inserted after a group: written bold, never summed into 合计, not
    counted in `ReportStats.rows`."""

    __slots__ = ()


def _with_groups(report: Report) -> int | None:
    return None if report.row_count is None else report.row_count + report.subtotal_groups


def _with_subtotals(report: Report) -> Iterator[Sequence[Any]]:
    columns = list(report.columns)
    key = [c.header for c in columns].index(report.subtotal_by)
    width = len(columns)
    current: Any = _END
    totals = _Totals(columns)
    count = 0

    def subtotal():
        cells: list[Any] = [None] * width
        cells[0] = f"{SUBTOTAL_LABEL}：{current}（{count}人）"
        for i in totals.indexes:
            cells[i] = totals.value(i)
        return _Subtotal(cells)

    for row in report.rows:
        if current is not _END and row[key] != current:
            yield subtotal()
            totals, count = _Totals(columns), 0
        current = row[key]
        totals.add(row)
        count += 1
        yield row
    if current is not _END:
        yield subtotal()


class _Totals:
    def __init__(self, columns: Sequence[Column]) -> None:
        self.indexes = [i for i, c in enumerate(columns) if c.summed]
        self.money = {i for i in self.indexes if columns[i].kind == "money"}
        self.sums: dict[int, Decimal] = dict.fromkeys(self.indexes, Decimal(0))

    def add(self, row: Sequence[Any]) -> None:
        if type(row) is _Subtotal:
            return
        sums = self.sums
        for i in self.indexes:
            value = row[i]
            if value is None or value == "":
                continue
            sums[i] += value if isinstance(value, Decimal) else Decimal(str(value))

    def value(self, i: int) -> Decimal:
        total = self.sums[i]
        return total.quantize(CENT, ROUND_HALF_UP) if i in self.money else total

    def by_header(self, columns: Sequence[Column]) -> dict[str, Decimal]:
        return {columns[i].header: self.value(i) for i in self.indexes}


# A text cell starting with one of these is a formula (or DDE payload) to a spreadsheet that
# parses what it opens or what a clerk re-enters: such cells are written as strings, never
# formulas, and (openpyxl engine) with Excel's quote prefix so that editing keeps them text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _is_formula_like(value: Any) -> bool:
    return type(value) is str and value.startswith(FORMULA_TRIGGERS)


def _put(sheet, row: int, column: int, value: Any):
    """openpyxl's `sheet.cell(row, column, value)`, except that text is always text."""
    cell = sheet.cell(row, column)
    if _is_formula_like(value):
        cell.value = value
        cell.data_type = "s"
        cell.quotePrefix = True
    else:
        cell.value = value
    return cell


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind in ("money", "percent", "decimal") and not isinstance(value, float | int):
        return float(value)
    if kind == "text" and not isinstance(value, str):
        return str(value)
    if kind in ("date", "datetime") and isinstance(value, dt.datetime):
        # Excel has no time zones: the wall-clock time in Shanghai, whatever zone it came in.
        if value.tzinfo is not None:
            value = value.astimezone(TIME_ZONE).replace(tzinfo=None)
        return value.date() if kind == "date" else value
    if kind == "year" and value != "":
        return int(value)
    return value


# --- the streaming engine (rustpy-xlsxwriter, constant memory) ------------------------------


def _write_stream(target, reports: Sequence[Report], progress: _Progress) -> list[ReportStats]:
    from rustpy_xlsxwriter import FastExcel, Format

    book = FastExcel(target)
    all_stats: list[ReportStats] = []
    for report in reports:
        stats = ReportStats(engine="stream")
        all_stats.append(stats)
        columns = list(report.columns)
        headers = [c.header for c in columns]
        kinds = [c.kind for c in columns]
        n_sheets = _sheet_count(report)
        names = _sheet_names(report, n_sheets)
        stats.sheets = names
        header_row = _header_rows(report) - 1
        width = len(columns) - 1
        title_format = Format().set_bold().set_font_size(14).set_align("center")
        banner = [(0, 0, 0, width, report.title, title_format)] + [
            (1 + i, 0, 1 + i, width, line) for i, line in enumerate(report.meta)
        ]
        header_format = (
            Format()
            .set_bold()
            .set_align("center")
            .set_background_color("#DDEBF7")
            .set_border("thin")
            .set_text_wrap()
        )
        column_formats = [
            Format().set_num_format(NUMBER_FORMATS[c.kind]) if c.kind != "text" else None
            for c in columns
        ]
        feed = _StreamFeed(report, headers, kinds, _capacity(report), n_sheets, stats, progress)
        for index, name in enumerate(names):
            book.freeze(row=header_row + 1, sheet=name)
            book.sheet(
                name,
                feed.sheet_rows(index),
                header_row=header_row,
                merge_ranges=banner,
                header_format=header_format,
                column_widths=[c.width for c in columns],
                column_formats=column_formats,
                row_heights={header_row: 30},
                page_setup=_stream_page_setup(print_setup(report)),
                conditional_formats={
                    headers[0]: [
                        {
                            "type": "text",
                            "criteria": "begins_with",
                            "value": label,
                            "format": Format().set_bold(),
                        }
                        for label in (TOTALS_LABEL, SUBTOTAL_LABEL)
                    ]
                },
            )
    book.save()
    progress.flush()
    return all_stats


def _stream_page_setup(setup: PrintSetup) -> dict:
    page = {
        "paper_size": setup.paper_size,
        "landscape": setup.landscape,
        "repeat_rows": setup.repeat_rows,
        "fit_to_pages": (setup.fit_width, setup.fit_height),
        "header": setup.header,
        "footer": setup.footer,
    }
    if setup.repeat_columns is not None:
        page["repeat_columns"] = setup.repeat_columns
    return page


def _openpyxl_page_setup(sheet, setup: PrintSetup) -> None:
    from openpyxl.utils import get_column_letter

    sheet.page_setup.paperSize = setup.paper_size
    sheet.page_setup.orientation = "landscape" if setup.landscape else "portrait"
    sheet.page_setup.fitToWidth = setup.fit_width
    sheet.page_setup.fitToHeight = setup.fit_height
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    first, last = setup.repeat_rows
    sheet.print_title_rows = f"{first + 1}:{last + 1}"
    if setup.repeat_columns is not None:
        a, b = setup.repeat_columns
        sheet.print_title_cols = f"{get_column_letter(a + 1)}:{get_column_letter(b + 1)}"
    sheet.oddHeader.left.text = setup.header_left
    sheet.oddHeader.right.text = setup.header_right or None
    sheet.oddFooter.center.text = setup.footer_center


class _StreamFeed:
    """Hands the rows of one report to its sheets in turn, capacity rows per sheet, then the
    totals row and footer on the last sheet."""

    def __init__(self, report, headers, kinds, capacity, n_sheets, stats, progress) -> None:
        self.report = report
        self.headers = headers
        self.kinds = kinds
        self.capacity = capacity
        self.n_sheets = n_sheets
        self.stats = stats
        self.progress = progress
        self.rows = iter(report.rows)
        self.totals = _Totals(report.columns)

    def _trailer(self) -> list[dict]:
        lines: list[dict] = []
        if self.report.totals:
            row: dict[str, Any] = dict.fromkeys(self.headers)
            row[self.headers[0]] = TOTALS_LABEL
            for i in self.totals.indexes:
                row[self.headers[i]] = _cell(self.totals.value(i), self.kinds[i])
            for header, value in self.report.totals_values.items():
                row[header] = _cell(value, self.kinds[self.headers.index(header)])
            lines.append(row)
        for cells in _trailer_lines(self.report):
            line = dict.fromkeys(self.headers)
            for column, text in cells:
                line[self.headers[column]] = text
            lines.append(line)
        return lines

    def sheet_rows(self, index: int) -> Iterator[dict]:
        last = index == self.n_sheets - 1
        trailer_size = len(self._trailer()) if last else 0
        room = self.capacity - trailer_size
        headers, totals, progress, stats = self.headers, self.totals, self.progress, self.stats
        width = len(headers)
        # The export's hot path: one dict per row, and only the cells the writer cannot take
        # as they are get touched. Decimals are summed exactly and handed over as floats (the
        # Rust writer converts a float several times faster than a Decimal); str and date cells
        # pass straight through.
        kinds = self.kinds
        sums = totals.sums
        summed = set(totals.indexes)
        numeric = [
            (i, headers[i], i in summed)
            for i, k in enumerate(kinds)
            if k in ("money", "percent", "decimal")
        ]
        other_summed = [
            i for i in totals.indexes if kinds[i] not in ("money", "percent", "decimal")
        ]
        texts = [(i, headers[i]) for i, k in enumerate(kinds) if k == "text"]
        dates = [(i, headers[i]) for i, k in enumerate(kinds) if k == "date"]
        others = [(i, headers[i], k) for i, k in enumerate(kinds) if k in ("datetime", "year")]
        date_type = dt.date
        for written, row in enumerate(self.rows, start=1):
            if len(row) != width:
                raise ReportError(f"第 {stats.rows + 1} 行有 {len(row)} 列，应为 {width} 列")
            cells = dict(zip(headers, row, strict=False))  # the length is checked above
            if type(row) is _Subtotal:
                for i, header, _add in numeric:
                    if row[i] is not None:
                        cells[header] = float(row[i])
                yield cells
                if written >= room:
                    break
                continue
            for i, header, add in numeric:
                value = row[i]
                if type(value) is Decimal:
                    if add:
                        sums[i] += value
                    cells[header] = float(value)
                elif value is not None and value != "":
                    if add:
                        sums[i] += Decimal(str(value))
                    cells[header] = _cell(value, "money")
            for i in other_summed:
                value = row[i]
                if value is not None and value != "":
                    sums[i] += value if type(value) is Decimal else Decimal(str(value))
            for i, header in texts:
                value = row[i]
                if value is not None and type(value) is not str:
                    cells[header] = str(value)
            for i, header in dates:
                value = row[i]
                if value is not None and type(value) is not date_type:
                    cells[header] = _cell(value, "date")
            for i, header, kind in others:
                if row[i] is not None:
                    cells[header] = _cell(row[i], kind)
            yield cells
            stats.rows += 1
            progress.tick()
            if written >= room:
                break
        if last:
            extra = next(self.rows, None)
            if extra is not None:
                raise ReportError(
                    f"报表“{self.report.title}”的行数超过声明的 {self.report.row_count} 行"
                )
            self.stats.totals = totals.by_header(self.report.columns)
            yield from self._trailer()


# --- the formatted engine (openpyxl) --------------------------------------------------------


def _write_openpyxl(target, reports: Sequence[Report], progress: _Progress) -> list[ReportStats]:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    book = Workbook()
    book.remove(book.active)
    all_stats: list[ReportStats] = []
    for report in reports:
        stats = ReportStats(engine="openpyxl")
        all_stats.append(stats)
        columns = list(report.columns)
        kinds = [c.kind for c in columns]
        capacity = _capacity(report)
        totals = _Totals(columns)
        rows = iter(report.rows)
        width = len(columns)
        trailing = _trailing_rows(report)
        setup = print_setup(report)
        sheet_index = 0
        exhausted = False
        while not exhausted:
            name = _sheet_names(report, sheet_index + 1)[-1]
            sheet = book.create_sheet(name)
            stats.sheets.append(name)
            sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
            _put(sheet, 1, 1, report.title).font = Font(bold=True, size=14)
            sheet.cell(1, 1).alignment = Alignment(horizontal="center", vertical="center")
            sheet.row_dimensions[1].height = 26
            for i, line in enumerate(report.meta, start=2):
                sheet.merge_cells(start_row=i, start_column=1, end_row=i, end_column=width)
                _put(sheet, i, 1, line)
            header_at = _header_rows(report)
            for j, column in enumerate(columns, start=1):
                cell = _put(sheet, header_at, j, column.header)
                cell.font = Font(bold=True)
                cell.fill = header_fill
                cell.border = border
                cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
                sheet.column_dimensions[get_column_letter(j)].width = column.width
            sheet.row_dimensions[header_at].height = 30
            sheet.freeze_panes = sheet.cell(header_at + 1, 1)
            _openpyxl_page_setup(sheet, setup)
            r = header_at
            for written, row in enumerate(rows, start=1):
                if len(row) != width:
                    raise ReportError(f"第 {stats.rows + 1} 行有 {len(row)} 列，应为 {width} 列")
                totals.add(row)
                r += 1
                subtotal = type(row) is _Subtotal
                for j, (value, kind) in enumerate(zip(row, kinds, strict=True), start=1):
                    cell = _put(sheet, r, j, _cell(value, kind))
                    cell.border = border
                    if kind != "text":
                        cell.number_format = NUMBER_FORMATS[kind]
                    if subtotal:
                        cell.font = Font(bold=True)
                stats.rows += 0 if subtotal else 1
                progress.tick()
                if written >= capacity - trailing:
                    # Another sheet only when rows remain: a peeked row is put back.
                    peeked = next(rows, _END)
                    if peeked is _END:
                        exhausted = True
                    else:
                        rows = itertools.chain([peeked], rows)
                    break
            else:
                exhausted = True
            if not exhausted:
                sheet_index += 1
                continue
            if report.totals:
                r += 1
                sheet.cell(r, 1, TOTALS_LABEL)
                for j in range(1, width + 1):
                    cell = sheet.cell(r, j)
                    cell.font = Font(bold=True)
                    cell.border = Border(
                        left=thin, right=thin, top=Side(style="medium"), bottom=thin
                    )
                for i in totals.indexes:
                    cell = sheet.cell(r, i + 1, _cell(totals.value(i), kinds[i]))
                    cell.number_format = NUMBER_FORMATS[kinds[i]]
                headers = [c.header for c in columns]
                for header, value in report.totals_values.items():
                    i = headers.index(header)
                    cell = sheet.cell(r, i + 1, _cell(value, kinds[i]))
                    cell.number_format = NUMBER_FORMATS[kinds[i]]
            for cells in _trailer_lines(report):
                r += 1
                for column, text in cells:
                    _put(sheet, r, column + 1, text)
        stats.totals = totals.by_header(columns)
    book.save(target)
    progress.flush()
    return all_stats
