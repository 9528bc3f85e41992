import datetime as dt
import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from medaid.core import xlsx
from medaid.core.xlsx import (
    Column,
    Report,
    ReportError,
    report_filename,
    write_report,
    write_workbook,
)

COLUMNS = [
    Column("姓名", 10),
    Column("公民身份号码", 22),
    Column("救助金额", 14, "money"),
    Column("住院天数", 8, "int", total=True),
    Column("出院日期", 12, "date"),
    Column("救助比例", 10, "percent"),
]
ROWS = [
    ("张三", "530102199001011234", Decimal("1234.56"), 3, dt.date(2024, 1, 2), Decimal("0.6")),
    ("李四", "530102199001011235", Decimal("0.45"), 2, None, None),
    ("王五", "530102199001011236", Decimal("100000.01"), 10, dt.date(2024, 1, 31), Decimal("0.7")),
]


def read(path_or_bytes):
    if isinstance(path_or_bytes, bytes | bytearray):
        book = CalamineWorkbook.from_filelike(io.BytesIO(path_or_bytes))
    else:
        book = CalamineWorkbook.from_path(str(path_or_bytes))
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


@pytest.mark.parametrize("engine", ["stream", "openpyxl"])
def test_report_has_title_header_rows_and_a_totals_row_equal_to_the_sum(tmp_path, engine):
    path = tmp_path / "台账.xlsx"
    stats = write_report(
        path,
        title="救助明细台账",
        meta=["区县：隆阳区"],
        footer=["制表人："],
        columns=COLUMNS,
        rows=ROWS,
        sheet_name="台账",
        engine=engine,
    )
    assert stats.rows == 3
    assert stats.totals == {"救助金额": Decimal("101235.02"), "住院天数": Decimal("15")}
    sheet = read(path)["台账"]
    assert sheet[0][0] == "救助明细台账"
    assert sheet[1][0] == "区县：隆阳区"
    assert sheet[2] == [c.header for c in COLUMNS]
    assert sheet[3][:4] == ["张三", "530102199001011234", 1234.56, 3]
    assert sheet[3][4] == dt.date(2024, 1, 2)
    totals = sheet[6]
    assert totals[0] == "合计"
    assert Decimal(str(totals[2])) == sum(r[2] for r in ROWS)
    assert totals[3] == 15
    assert sheet[-1][0] == "制表人："

    ws = openpyxl.load_workbook(path)["台账"]
    assert ws.freeze_panes == "A4"
    assert ws["C4"].number_format == "#,##0.00"
    assert ws["F4"].number_format == "0.00%"
    assert ws.column_dimensions["B"].width == pytest.approx(22, abs=1)


@pytest.mark.parametrize("engine", ["stream", "openpyxl"])
def test_rows_past_a_sheets_capacity_continue_on_further_sheets(tmp_path, engine, monkeypatch):
    # Six rows per sheet: title + header + four rows of data.
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 6)
    rows = [(f"p{i}", "x", Decimal(i), 1, None, None) for i in range(10)]
    stats = write_report(
        tmp_path / "r.xlsx",
        title="名册",
        columns=COLUMNS,
        rows=iter(rows),
        row_count=10,
        sheet_name="名册",
        signatures=False,
        engine=engine,
    )
    sheets = read(tmp_path / "r.xlsx")
    assert list(sheets) == stats.sheets
    assert stats.sheets[:2] == ["名册", "名册(2)"]
    data = [r for s in sheets.values() for r in s[2:] if r[0] != "合计"]
    assert [r[0] for r in data] == [f"p{i}" for i in range(10)]
    assert all(len(s) <= 6 for s in sheets.values())
    last = sheets[stats.sheets[-1]]
    assert last[-1][0] == "合计" and last[-1][2] == 45
    # Every sheet repeats the header.
    assert all(s[1][0] == "姓名" for s in sheets.values())


def test_stream_engine_refuses_more_rows_than_declared(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "EXCEL_MAX_ROWS", 6)
    rows = [(f"p{i}", "x", Decimal(1), 1, None, None) for i in range(9)]
    with pytest.raises(ReportError):
        write_report(
            tmp_path / "r.xlsx",
            title="名册",
            columns=COLUMNS,
            rows=iter(rows),
            row_count=2,
            engine="stream",
        )


def test_progress_is_reported_in_chunks_and_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "PROGRESS_EVERY", 2)
    seen = []
    write_report(
        tmp_path / "r.xlsx",
        title="t",
        columns=COLUMNS,
        rows=iter(ROWS),
        engine="stream",
        on_progress=seen.append,
    )
    assert seen == [2, 1]


def test_several_tables_in_one_workbook_and_a_buffer_target():
    buffer = io.BytesIO()
    stats = write_workbook(
        buffer,
        [
            Report(title="医院A", columns=COLUMNS, rows=ROWS[:1], sheet_name="医院A"),
            Report(title="医院B", columns=COLUMNS, rows=ROWS[1:], sheet_name="医院B"),
        ],
    )
    sheets = read(buffer.getvalue())
    assert list(sheets) == ["医院A", "医院B"]
    assert [s.totals["救助金额"] for s in stats] == [Decimal("1234.56"), Decimal("100000.46")]


def test_auto_engine_uses_openpyxl_for_small_known_sizes_and_streams_otherwise(tmp_path):
    assert write_report(tmp_path / "a.xlsx", title="t", columns=COLUMNS, rows=ROWS).engine == (
        "openpyxl"
    )
    assert (
        write_report(tmp_path / "b.xlsx", title="t", columns=COLUMNS, rows=iter(ROWS)).engine
        == "stream"
    )


def test_bad_reports_are_refused(tmp_path):
    with pytest.raises(ReportError):
        write_report(tmp_path / "a.xlsx", title="t", columns=[Column("a"), Column("a")], rows=[])
    with pytest.raises(ReportError):
        write_report(
            tmp_path / "a.xlsx", title="t", columns=[Column("金额", kind="money")], rows=[]
        )
    with pytest.raises(ReportError):
        write_report(
            tmp_path / "a.xlsx", title="t", columns=COLUMNS, rows=[("a",)], engine="stream"
        )


def test_file_names_carry_the_county_and_period():
    assert report_filename("医疗救助结算单", county="隆阳区", period="2024-03") == (
        "医疗救助结算单_隆阳区_2024-03.xlsx"
    )
    assert report_filename("基金收支明细表", period="2024") == "基金收支明细表_全市_2024.xlsx"
    assert "/" not in report_filename("a/b", county="c:d")


@pytest.mark.parametrize("engine", ["openpyxl", "stream"])
def test_text_that_looks_like_a_formula_is_written_as_text(tmp_path, engine):
    """Formula injection: a name or note that starts with =, +, -, @, tab or CR opens as text
    (never a formula); numbers, negative amounts included, stay numbers."""
    path = tmp_path / "injection.xlsx"
    payloads = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
    xlsx.write_report(
        path,
        title="注入检查",
        columns=[Column("备注", kind="text"), Column("金额", kind="money")],
        rows=[(text, Decimal("-12.50")) for text in payloads],
        engine=engine,
    )
    sheet = openpyxl.load_workbook(path).worksheets[0]
    texts = [sheet.cell(r, 1) for r in range(3, 3 + len(payloads))]
    # (a stored CR reads back as its XML escape, or as LF after XML line-end handling)
    assert [c.value.replace("_x000D_", "\r").replace("\n", "\r") for c in texts] == payloads
    for cell in texts:
        assert cell.data_type == "s", cell.value
    amounts = [sheet.cell(r, 2) for r in range(3, 3 + len(payloads))]
    assert all(c.data_type == "n" and c.value == -12.5 for c in amounts)
    # No formula anywhere in the sheet's XML.
    with zipfile.ZipFile(path) as book:
        sheet_xml = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


# --- printing (print_setup), dates, years, sheet names ------------------------------------

WIDE = [Column("结算单号", 20), Column("姓名", 10)] + [
    Column(f"金额{i}", 14, "money") for i in range(24)
]


@pytest.mark.parametrize("engine", ["stream", "openpyxl"])
def test_every_sheet_prints_on_a4_landscape_fit_to_width_with_header_footer(tmp_path, engine):
    path = tmp_path / "r.xlsx"
    write_report(
        path,
        title="救助明细台账",
        meta=["区县：隆阳区"],
        columns=COLUMNS,
        rows=ROWS,
        sheet_name="台账",
        county="隆阳区",
        period="2026年10月",
        engine=engine,
    )
    ws = openpyxl.load_workbook(path)["台账"]
    assert ws.page_setup.paperSize == 9
    assert ws.page_setup.orientation == "landscape"
    # fitToWidth 1 is OOXML's default: the stream engine leaves the attribute out.
    assert (ws.page_setup.fitToWidth or 1) == 1 and ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$3"
    assert ws.print_title_cols is None
    assert ws.oddHeader.left.text == "区县：隆阳区"
    assert ws.oddHeader.right.text == "期间：2026年10月"
    assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert [c.value for c in ws[ws.max_row] if c.value] == list(xlsx.SIGNATURE_LABELS)


@pytest.mark.parametrize("engine", ["stream", "openpyxl"])
def test_a_wide_register_spreads_across_pages_repeating_its_key_columns(tmp_path, engine):
    path = tmp_path / "wide.xlsx"
    rows = [("J1", "张三", *[Decimal("1.00")] * 24)]
    write_report(path, title="台账", columns=WIDE, rows=rows, sheet_name="台账", engine=engine)
    ws = openpyxl.load_workbook(path)["台账"]
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape"
    # 366 width units: three A4 landscape pages across at a readable scale, not one.
    assert ws.page_setup.fitToWidth == 3 and ws.page_setup.fitToHeight == 0
    assert ws.print_title_cols == "$A:$B"


@pytest.mark.parametrize("engine", ["stream", "openpyxl"])
def test_dates_are_dates_years_have_no_separator_times_are_shanghai(tmp_path, engine):
    path = tmp_path / "d.xlsx"
    at = dt.datetime(2026, 10, 31, 17, 30, tzinfo=dt.UTC)  # 01:30 on 1 November in Shanghai
    write_report(
        path,
        title="表",
        columns=[
            Column("姓名", 10),
            Column("年度", 8, "year"),
            Column("日期", 12, "date"),
            Column("时间", 16, "datetime"),
        ],
        rows=[("张三", 2026, at, at)],
        sheet_name="表",
        engine=engine,
    )
    ws = openpyxl.load_workbook(path)["表"]
    year, day, time = ws["B3"], ws["C3"], ws["D3"]
    assert year.value == 2026 and year.data_type == "n" and year.number_format == "0"
    assert day.value == dt.datetime(2026, 11, 1) and day.number_format == "yyyy-mm-dd"
    assert time.value == dt.datetime(2026, 11, 1, 1, 30)
    assert time.number_format == "yyyy-mm-dd hh:mm"


def test_sheet_names_are_chinese_and_unique(tmp_path):
    with pytest.raises(ReportError, match="中文"):
        write_report(tmp_path / "x.xlsx", title="表", columns=COLUMNS, rows=ROWS, sheet_name="H001")
    reports = [
        Report(title="甲", columns=COLUMNS, rows=ROWS, sheet_name="第一人民医院"),
        Report(title="乙", columns=COLUMNS, rows=ROWS, sheet_name="第一人民医院"),
    ]
    stats = write_workbook(tmp_path / "y.xlsx", reports)
    assert [s.sheets for s in stats] == [["第一人民医院"], ["第一人民医院(2)"]]
    assert xlsx.sheet_title("a/b:c" * 10) == ("a-b-c" * 10)[:28]


@pytest.mark.parametrize("engine", ["stream", "openpyxl"])
def test_subtotals_per_group_are_not_counted_in_the_grand_total(tmp_path, engine):
    path = tmp_path / "s.xlsx"
    cols = [Column("姓名", 10), Column("身份", 10), Column("金额", 12, "money")]
    rows = [
        ("甲", "特困人员", Decimal("380.00")),
        ("乙", "特困人员", Decimal("380.01")),
        ("丙", "低保对象", Decimal("200.00")),
    ]
    (stats,) = write_workbook(
        path,
        [
            Report(
                title="名册",
                columns=cols,
                rows=rows,
                row_count=3,
                subtotal_by="身份",
                subtotal_groups=2,
                sheet_name="名册",
            )
        ],
        engine=engine,
    )
    assert stats.rows == 3 and stats.totals == {"金额": Decimal("960.01")}
    sheet = read(path)["名册"]
    labels = [r[0] for r in sheet[2:7]]
    assert labels == ["甲", "乙", "小计：特困人员（2人）", "丙", "小计：低保对象（1人）"]
    assert sheet[4][2] == 760.01 and sheet[6][2] == 200.0
    assert sheet[7][0] == "合计" and sheet[7][2] == 960.01
