"""Reading a department's roster or change feed: the template, the file formats, and the checks
each row must pass before it is staged.

Everything here is pure reading and checking; writing the staged rows and merging them into
the registry is `services/rosters.py` and `merge.py`. A problem with the whole file (not a
workbook, no header row, a missing column) raises `FileRefused`; a problem with one row is
written on that row and the other rows go on.
"""

import csv
import io
import json
import operator
import re
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from beneficiaries import id_numbers
from beneficiaries.models import (
    DEPARTMENT_IDENTITIES,
    DepartmentKind,
    IdentityCode,
    Person,
    RosterImport,
    RowAction,
)
from medaid.core import files
from medaid.core.files import FileRefused
from medaid.core.validators import FAR_PAST

HEADER_SEARCH_ROWS = 10  # a title row or two may stand above the header row


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...]
    note: str
    required: tuple[str, ...] = ()  # the list kinds for which the column must be present
    example: str = ""


# The documented template. Column order is the template's; a department's file may order
# columns as it likes and may add its own (they travel back untouched in the error file).
COLUMNS: tuple[Column, ...] = (
    Column(
        "action",
        "变动类型",
        ("变动情况", "变更类型", "增减类型", "操作类型"),
        "新增 / 退出 / 变更；全量名册可不填（视为新增）",
        (RosterImport.Kind.FEED,),
        "新增",
    ),
    Column(
        "id_number",
        "公民身份号码",
        ("身份证号", "身份证号码", "证件号码", "公民身份证号码", "身份证"),
        "18位，单元格须为文本格式；末位X大小写均可",
        (RosterImport.Kind.ROSTER, RosterImport.Kind.FEED),
        "530502199001011236",
    ),
    Column(
        "name",
        "姓名",
        ("人员姓名", "救助对象姓名"),
        "须与登记簿一致",
        (RosterImport.Kind.ROSTER, RosterImport.Kind.FEED),
        "张三",
    ),
    Column(
        "code",
        "身份类别",
        ("人员类别", "救助对象类别", "身份", "对象类别"),
        "填写身份类别名称或代码，如 低保对象 / dibao",
        (RosterImport.Kind.ROSTER, RosterImport.Kind.FEED),
        "低保对象",
    ),
    Column(
        "old_code",
        "原身份类别",
        ("变更前身份类别", "原人员类别"),
        "仅“变更”填写：变更前的身份类别",
        (),
        "",
    ),
    Column(
        "start",
        "起始日期",
        ("开始日期", "纳入日期", "享受起始日期", "认定起始日期", "生效日期"),
        "新增、变更必填；格式 2024-01-31",
        (RosterImport.Kind.ROSTER, RosterImport.Kind.FEED),
        "2024-01-01",
    ),
    Column(
        "end",
        "终止日期",
        ("结束日期", "退出日期", "截止日期"),
        "退出必填（含当日）；新增可不填",
        (RosterImport.Kind.FEED,),
        "",
    ),
    Column("certified_on", "认定日期", ("审批日期", "认定时间"), "可不填", (), "2023-12-20"),
    Column("household_code", "户编号", ("家庭编号", "户号"), "可不填", (), "H0001"),
    Column("township", "乡镇（街道）", ("乡镇", "乡镇街道", "街道"), "名称或代码，可不填", (), ""),
    Column(
        "insurance_scheme",
        "参保险种",
        ("险种",),
        "城乡居民 / 职工 / 未参保，可不填",
        (),
        "城乡居民",
    ),
    Column(
        "insured_place",
        "参保地区划代码",
        ("参保地", "参保地代码"),
        "6至12位区划代码，可不填",
        (),
        "530502",
    ),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


def header_key(text: str) -> str:
    return (
        text.replace(" ", "")
        .replace("\u3000", "")
        .replace("(", "（")
        .replace(")", "）")
        .replace("*", "")
        .replace("\ufeff", "")
        .strip()
    )


HEADER_KEYS: dict[str, str] = {}
for _column in COLUMNS:
    for _text in (_column.header, *_column.aliases):
        HEADER_KEYS[header_key(_text)] = _column.key
HEADER_KEYS[header_key("乡镇(街道)")] = "township"

# The national platform's person-identity records (人员身份信息): the platform's field names,
# and the Chinese names its exports print. `certno` may be absent: `psn_no` then finds the
# person by the platform number a settlement list or an earlier identity file recorded.
PLATFORM_COLUMNS: tuple[Column, ...] = (
    Column(
        "psn_no",
        "psn_no",
        ("人员编号",),
        "医保平台人员编号，必填",
        (RosterImport.Kind.PLATFORM,),
        "P53050200001",
    ),
    Column("id_number", "certno", ("证件号码", "人员证件号码"), "18位身份证号；可不填", (), ""),
    Column(
        "name",
        "psn_name",
        ("人员姓名", "姓名"),
        "须与登记簿一致",
        (RosterImport.Kind.PLATFORM,),
        "张三",
    ),
    Column(
        "code",
        "psn_idet_type",
        ("人员身份类别", "人员身份类别代码"),
        "平台代码，按“平台人员身份类别映射”对应本系统身份",
        (RosterImport.Kind.PLATFORM,),
        "2303",
    ),
    Column(
        "start",
        "begntime",
        ("开始时间", "开始日期"),
        "必填；如 2024-01-01",
        (RosterImport.Kind.PLATFORM,),
        "",
    ),
    Column("end", "endtime", ("结束时间", "结束日期"), "可不填（至今）", (), ""),
    Column("memo", "memo", ("备注",), "可不填", (), ""),
)
PLATFORM_HEADER_KEYS: dict[str, str] = {}
_PLATFORM_HEADER = {c.key: c.header for c in PLATFORM_COLUMNS}
for _column in PLATFORM_COLUMNS:
    for _text in (_column.header, *_column.aliases):
        PLATFORM_HEADER_KEYS[header_key(_text)] = _column.key

ACTIONS = {
    "新增": RowAction.ADD,
    "增加": RowAction.ADD,
    "纳入": RowAction.ADD,
    "add": RowAction.ADD,
    "退出": RowAction.END,
    "减少": RowAction.END,
    "注销": RowAction.END,
    "取消": RowAction.END,
    "end": RowAction.END,
    "变更": RowAction.CHANGE,
    "调整": RowAction.CHANGE,
    "变动": RowAction.CHANGE,
    "change": RowAction.CHANGE,
}
IDENTITY_LABELS: dict[str, str] = {}
for _code, _label in IdentityCode.choices:
    IDENTITY_LABELS[_code] = _code
    IDENTITY_LABELS[_label] = _code
IDENTITY_LABELS.update(
    {
        "特困供养人员": "tekun",
        "特困": "tekun",
        "孤儿": "orphan",
        "事实无人抚养儿童": "orphan",
        "低保": "dibao",
        "城乡低保对象": "dibao",
        "最低生活保障对象": "dibao",
        "全额低保": "dibao_full",
        "一类低保": "dibao_full",
        "二类低保": "dibao_full",
        "差额低保": "dibao_partial",
        "三类低保": "dibao_partial",
        "四类低保": "dibao_partial",
        "返贫致贫人口": "fanpin",
        "低保边缘": "dibao_edge",
        "低保边缘对象": "dibao_edge",
        "监测对象": "rural_monitored",
        "易返贫致贫人口": "rural_monitored",
        "脱贫不稳定户": "rural_monitored",
        "边缘易致贫户": "rural_monitored",
        "突发严重困难户": "sudden_hardship",
        "已脱贫人口": "poverty_lifted",
        "脱贫人口": "poverty_lifted",
        "深度困难职工": "deep_hardship_worker",
        "相对困难职工": "relative_hardship_worker",
        "因病致贫重病患者": "illness_poverty",
        "重度残疾人": "severe_disability",
        "一二级重度残疾人": "severe_disability",
        "边境一线行政村农村居民": "border_resident",
    }
)
SCHEMES = {
    "城乡居民": Person.InsuranceScheme.RESIDENT,
    "居民医保": Person.InsuranceScheme.RESIDENT,
    "城乡居民基本医疗保险": Person.InsuranceScheme.RESIDENT,
    "resident": Person.InsuranceScheme.RESIDENT,
    "职工": Person.InsuranceScheme.EMPLOYEE,
    "职工医保": Person.InsuranceScheme.EMPLOYEE,
    "职工基本医疗保险": Person.InsuranceScheme.EMPLOYEE,
    "employee": Person.InsuranceScheme.EMPLOYEE,
    "未参保": Person.InsuranceScheme.NONE,
    "none": Person.InsuranceScheme.NONE,
}


@dataclass(frozen=True)
class Layout:
    """Which header texts name which staged column, and the column that finds the header row."""

    header_keys: dict[str, str]
    anchor: str
    no_header: str


DEPARTMENT_LAYOUT = Layout(
    HEADER_KEYS, "id_number", "未找到表头：前10行中没有“公民身份号码”列，请使用名册模板"
)
PLATFORM_LAYOUT = Layout(
    PLATFORM_HEADER_KEYS,
    "psn_no",
    "未找到表头：前10行中没有“psn_no（人员编号）”列，请上传平台导出的人员身份信息",
)


# Row-level reason codes with the Chinese text a department reads in 错误原因.
ROW_REASONS: dict[str, str] = {
    **id_numbers.REASONS,
    "action_missing": "变动类型为空（应为 新增 / 退出 / 变更）",
    "action_unknown": "变动类型无法识别（应为 新增 / 退出 / 变更）",
    "name_missing": "姓名为空",
    "name_invalid": "姓名含有数字或非法字符",
    "code_missing": "身份类别为空",
    "code_unknown": "身份类别无法识别",
    "code_department": "该身份类别不由本部门认定",
    "old_code_missing": "变更须填写原身份类别",
    "old_code_unknown": "原身份类别无法识别",
    "old_code_same": "原身份类别与身份类别相同",
    "start_missing": "起始日期为空",
    "end_missing": "退出须填写终止日期",
    "date_invalid": "日期无效",
    "date_formula": "日期单元格为公式",
    "end_before_start": "终止日期早于起始日期",
    "date_before_birth": "日期早于出生日期",
    "date_too_late": "日期晚于名单载明日期一年以上，请核实",
    "date_too_early": f"日期早于{FAR_PAST.year}年，请核实",
    "scheme_unknown": "参保险种无法识别（应为 城乡居民 / 职工 / 未参保）",
    "place_invalid": "参保地区划代码应为6至12位数字",
    "household_too_long": "户编号超过32个字符",
    "formula": "单元格为公式，请复制后“粘贴为数值”再上传",
    "too_long": "内容过长",
    # Found by set-based checks against the rest of the file and the registry.
    "duplicate": "文件中重复：同一人同一身份同一变动类型已在前面的行出现",
    "name_conflict_in_file": "同一公民身份号码在文件中对应不同姓名",
    "name_mismatch": "姓名与登记簿中该公民身份号码登记的姓名不一致，请核实",
    "other_county": "该人员户籍登记在其他区县，不能由本县部门报送",
    "township_unknown": "乡镇（街道）在本县不存在",
    "not_registered": "退出人员不在册：登记簿中无此人或无此身份的在册记录",
    "end_before_registered_start": "终止日期早于该身份在册的起始日期",
    "change_not_registered": "变更前身份不在册，无法变更",
    "person_unknown": "登记簿中无此人，无法退出或变更",
    # The platform's identity records.
    "psn_no_missing": "人员编号（psn_no）为空",
    "psn_no_invalid": "人员编号（psn_no）应为1至32位字母或数字",
    "psn_no_unknown": "人员编号（psn_no）在登记簿中无对应人员，且未提供证件号码（certno）",
    "psn_no_conflict": "人员编号（psn_no）与登记簿中该人员（或另一人员）已登记的人员编号不一致",
    "memo_too_long": "备注超过200个字符",
}

MAX_TEXT = 64
_EXCEL_EPOCH = date(1899, 12, 30)


def _check_dates(fail, start, end, *others, birth, latest) -> None:
    """A line's dates as every roster layout checks them: the end not before the start, and
    each date after the person's birth, no later than `latest` and no earlier than FAR_PAST."""
    if start and end and end < start:
        fail("end_before_start", f"（{start.isoformat()} 至 {end.isoformat()}）")
    for value in (start, end, *others):
        if value is None:
            continue
        if birth and value < birth:
            fail("date_before_birth", f"（{value.isoformat()}）")
        elif value > latest:
            fail("date_too_late", f"（{value.isoformat()}）")
        elif value < FAR_PAST:
            fail("date_too_early", f"（{value.isoformat()}）")


_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_NAME_BAD = re.compile(r"[0-9０-９@#$%^&*=+<>?/\\|{}\[\]~`!！？]")
_DROP_SPACES = str.maketrans({" ": None, "\u3000": None, "\u00a0": None, "\t": None})


def parse_date(value) -> date | None:
    """A date as a date cell, an Excel serial (cell or text) or text in the usual shapes.

    Raises ValueError for something that is not a real calendar day."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(value)
    text = str(value).strip()
    if not text:
        return None
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return date.fromisoformat(text[:10])
    match = _DATE_RE.match(text)
    if match:
        return date(int(match[1]), int(match[2]), int(match[3]))
    if text.isdigit():
        if len(text) == 8:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(text) == 5:
            return _serial(int(text))
    try:
        number = float(text)
    except ValueError:
        raise ValueError(text) from None
    return _serial(number)


def _serial(number: float) -> date:
    # Serials below 61 sit before Excel's phantom 1900-02-29; no roster date is that old.
    if not 61 <= number < 2958466 or number != int(number):
        raise ValueError(str(number))
    return _EXCEL_EPOCH + timedelta(days=int(number))


def cell_text(value) -> str:
    """How a cell is written back in the error file: as the department typed it, where we can."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------------------------------------
# Files


@dataclass
class Sheet:
    """The rows of a file after its header: `rows` yields (line number, cells)."""

    headers: list[str]
    header_line: int
    rows: Iterator[tuple[int, list]]
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (line, column index)


def open_rows(path: str, fmt: str, kind: str = "") -> Sheet:
    """The rows of a kept file; `kind` (a `RosterImport.Kind`) says which layout's header
    row to look for: the department template's or the platform's identity records'."""
    layout = PLATFORM_LAYOUT if kind == RosterImport.Kind.PLATFORM else DEPARTMENT_LAYOUT
    if fmt == "xlsx":
        return _open_xlsx(path, layout)
    if fmt == "json":
        return _open_json(path, layout)
    return _open_csv(path, layout)


def _open_json(path: str, layout: Layout) -> Sheet:
    """The platform's records as JSON: an array of objects keyed by the field names (or their
    Chinese headers), or an object holding that array under `data` or `output` (the
    platform's reply envelope, `{"output": {"data": [...]}}` too). The keys seen become the
    headers, so the checker and its errors are the .csv's; a record's line is its place in
    the array (1 = the first). Read whole: the upload's size limit bounds it."""
    try:
        with files.open_text(path) as handle:
            document = json.load(handle)
    except UnicodeDecodeError:
        raise files.encoding_refused() from None
    except json.JSONDecodeError as exc:
        raise FileRefused(
            f"JSON 格式错误（第{exc.lineno}行第{exc.colno}列）：无法解析，请上传平台导出的原文件",
            code="json_broken",
        ) from None
    records = document
    for _ in range(2):
        if isinstance(records, dict):
            records = records.get("data", records.get("output"))
    if not isinstance(records, list):
        raise FileRefused(
            '未找到人员身份记录：JSON 应为记录数组 [{"psn_no": …}, …] 或 {"data": [ … ]}',
            code="json_shape",
        )
    # Keys as the field they name (psn_no or 人员编号 alike), so records of one file may differ.
    field_of = {
        key: _PLATFORM_HEADER.get(layout.header_keys.get(header_key(key)), key)
        for record in records
        if isinstance(record, dict)
        for key in record
    }
    headers: dict[str, None] = {}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise FileRefused(
                f'JSON 第{number}条记录不是对象（应为 {{"psn_no": …}}）', code="json_shape"
            )
        headers.update(dict.fromkeys(field_of[key] for key in record))
    if records and not any(layout.header_keys.get(header_key(h)) == layout.anchor for h in headers):
        raise FileRefused(
            "JSON 记录中没有 psn_no（人员编号）字段，请上传平台导出的人员身份信息",
            code="no_header",
        )
    names = list(headers)

    def cell(value):
        # A nested value is no cell: kept as its JSON text, which the checks then refuse.
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value

    def cells(record: dict) -> list:
        named = {field_of[key]: value for key, value in record.items()}
        return [cell(named.get(name)) for name in names]

    rows = ((n, cells(r)) for n, r in enumerate(records, start=1))
    return Sheet(headers=names, header_line=0, rows=rows)


def _find_header(rows: Iterator[tuple[int, list]], layout: Layout) -> tuple[list[str], int]:
    for line, cells in rows:
        texts = [header_key(cell_text(c)) for c in cells]
        if any(layout.header_keys.get(t) == layout.anchor for t in texts):
            return [cell_text(c).strip() for c in cells], line
        if line >= HEADER_SEARCH_ROWS:
            break
    raise FileRefused(layout.no_header, code="no_header")


def _open_csv(path: str, layout: Layout) -> Sheet:
    head, _complete = files.read_head(path)
    first_line = head.split(b"\n", 1)[0]
    delimiter = "\t" if first_line.count(b"\t") > first_line.count(b",") else ","
    handle = files.open_text(path)  # closed by the generator

    def numbered() -> Iterator[tuple[int, list]]:
        try:
            reader = csv.reader(handle, delimiter=delimiter)
            yield from enumerate(reader, start=1)
        except UnicodeDecodeError:
            raise files.encoding_refused() from None
        except csv.Error as exc:
            raise FileRefused(f"CSV 文件格式错误：{exc}", code="csv_broken") from None
        finally:
            handle.close()

    rows = numbered()
    headers, header_line = _find_header(rows, layout)
    return Sheet(headers=headers, header_line=header_line, rows=rows)


_FORMULA_CELL = re.compile(rb'<c r="([A-Z]{1,3})(\d+)"[^>]*?>\s*<f[ >/]')


def _column_index(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ch - 64)
    return index - 1


def _xlsx_formulas(path: str) -> set[tuple[int, int]]:
    """Cells of the first sheet holding a formula: calamine gives only their last cached
    value, which may be stale or an error, so those cells are refused. Streams the sheet XML
    in chunks."""
    found: set[tuple[int, int]] = set()
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        sheets = sorted(n for n in names if n.startswith("xl/worksheets/sheet"))
        if not sheets:
            return found
        first = "xl/worksheets/sheet1.xml" if "xl/worksheets/sheet1.xml" in names else sheets[0]
        with archive.open(first) as member:
            tail = b""
            while chunk := member.read(4 << 20):
                data = tail + chunk
                if b"<f" in data:
                    for match in _FORMULA_CELL.finditer(data):
                        found.add((int(match[2]), _column_index(match[1])))
                tail = data[-300:]
    return found


def _open_xlsx(path: str, layout: Layout) -> Sheet:
    from python_calamine import CalamineError, load_workbook

    # calamine reads the whole sheet without holding the GIL (about 7 s for a million rows):
    # the scan for formulas runs beside it instead of after it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(_xlsx_formulas, path)
        try:
            workbook = load_workbook(path)
            names = workbook.sheet_names
            if not names:
                raise FileRefused("工作簿中没有工作表", code="empty_file")
            sheet = workbook.get_sheet_by_index(0)
        except (CalamineError, zipfile.BadZipFile, OSError, ValueError) as exc:
            raise files.xlsx_refused(exc) from None
        except Exception as exc:  # calamine raises its own error types for damaged archives
            if isinstance(exc, FileRefused):
                raise
            raise files.xlsx_refused(exc) from None
        try:
            formulas = scanning.result()
        except zipfile.BadZipFile:
            raise FileRefused("Excel 文件已损坏", code="xlsx_broken") from None
    # calamine's range starts at the first used cell; line numbers are the sheet's own.
    first_row = sheet.start[0] + 1 if sheet.start else 1
    first_col = sheet.start[1] if sheet.start else 0

    def numbered() -> Iterator[tuple[int, list]]:
        for offset, cells in enumerate(sheet.iter_rows()):
            yield first_row + offset, ([None] * first_col + list(cells)) if first_col else cells

    rows = numbered()
    headers, header_line = _find_header(rows, layout)
    return Sheet(headers=headers, header_line=header_line, rows=rows, formulas=formulas)


# ---------------------------------------------------------------------------------------------
# Rows


# The columns `RowChecker.check` reads, in the order it unpacks them.
_CHECKED = (
    "action",
    "id_number",
    "name",
    "code",
    "old_code",
    "start",
    "end",
    "certified_on",
    "household_code",
    "township",
    "insurance_scheme",
    "insured_place",
)
_ADD, _END, _CHANGE = RowAction.ADD.value, RowAction.END.value, RowAction.CHANGE.value


class _Memo(dict):
    """What each distinct cell value of one column reads as: `memo[type(value), value]`.

    The key carries the value's type: 1, 1.0 and True are equal in Python but read
    differently (a serial date, a serial date, a refused boolean). Forgets everything past
    `LIMIT` distinct values, so a file of a million distinct dates cannot hoard memory."""

    LIMIT = 50_000

    def __init__(self, read):
        super().__init__()
        self.read = read

    def __missing__(self, key):
        if len(self) >= self.LIMIT:
            self.clear()
        found = self[key] = self.read(_stripped(key[1]))
        return found


@dataclass
class RowChecker:
    """Checks one row at a time: everything that needs no database. Holds the column map.

    A list of a million rows has a million ID numbers and names but only a few hundred
    distinct identity labels, dates and townships: what a cell of those columns means is
    worked out once per distinct value and remembered (`_Memo`), so most of a row's checks
    are dictionary lookups.
    """

    kind: str
    department_kind: str
    stated_date: date
    headers: list[str]
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (line, column index)
    # The county's townships by name and by code: resolved here, so staging never needs a
    # second pass over every row to fill in the id.
    townships: dict[str, int] = field(default_factory=dict)
    index: dict[str, int] = field(init=False)

    def __post_init__(self):
        self.index = {}
        for position, text in enumerate(self.headers):
            key = HEADER_KEYS.get(header_key(text))
            if key and key not in self.index:
                self.index[key] = position
        missing = [c.header for c in COLUMNS if self.kind in c.required and c.key not in self.index]
        if missing:
            raise FileRefused("缺少必填列：" + "、".join(missing), code="missing_columns")
        self.allowed = DEPARTMENT_IDENTITIES.get(self.department_kind, frozenset())
        self.latest = self.stated_date + timedelta(days=366)
        self.width = len(self.headers)
        self.formula_lines = {line for line, _ in self.formulas}
        self.department_label = DepartmentKind(self.department_kind).label
        # A column the file lacks reads the None appended to every row (position -1); a short
        # row is padded to the last position read.
        self._pick = operator.itemgetter(*(self.index.get(key, -1) for key in _CHECKED))
        self._min_width = max(self.index.values()) + 1
        self._action = _Memo(self._read_action)
        self._code = _Memo(self._read_code)
        self._old_code = _Memo(self._read_old_code)
        self._start = _Memo(self._date_reader("start"))
        self._end = _Memo(self._date_reader("end"))
        self._certified_on = _Memo(self._date_reader("certified_on"))
        self._township = _Memo(self._read_township)
        self._scheme = _Memo(_read_scheme)

    def is_blank(self, cells: list) -> bool:
        # Nearly every row has its ID number: look there before scanning every cell.
        position = self.index.get("id_number", -1)
        if 0 <= position < len(cells):
            value = cells[position]
            if value is not None and (value.__class__ is not str or value.strip()):
                return False
        return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)

    def check(self, line: int, cells: list) -> tuple:
        """The staged values of one row, in `STAGING_COLUMNS` order after the batch id."""
        errors: list[tuple[str, str]] = []

        def fail(code: str, detail: str = "") -> None:
            errors.append((code, ROW_REASONS[code] + detail))

        if line in self.formula_lines:
            columns = sorted(c for ln, c in self.formulas if ln == line)
            headers = "、".join(self.headers[c] for c in columns if c < self.width) or "某列"
            fail("formula", f"（{headers}）")

        if len(cells) < self._min_width:
            cells = [*cells, *([None] * (self._min_width - len(cells)))]
        (
            raw_action,
            raw_id,
            raw_name,
            raw_code,
            raw_old_code,
            raw_start,
            raw_end,
            raw_certified,
            raw_household,
            raw_township,
            raw_scheme,
            raw_place,
        ) = self._pick([*cells, None])
        action, problem = self._action[raw_action.__class__, raw_action]
        if problem:
            errors.append(problem)

        id_number = sex = ""
        birth = None
        if raw_id.__class__ is str:
            raw_id = raw_id.strip() or None
        try:
            parsed = id_numbers.parse(raw_id)
        except id_numbers.IdNumberError as exc:
            errors.append((exc.code, exc.message))
            if isinstance(raw_id, str):
                id_number = id_numbers.normalise(raw_id)[:18]
        else:
            id_number, birth, sex, _region = parsed

        name = _text(raw_name)
        if not name:
            fail("name_missing")
        else:
            name = name.translate(_DROP_SPACES)
            if len(name) > MAX_TEXT or _NAME_BAD.search(name):
                fail("name_invalid")
                name = name[:MAX_TEXT]

        code, problem = self._code[raw_code.__class__, raw_code]
        if problem:
            errors.append(problem)
        old_code = ""
        if action == _CHANGE:
            old_code, problem = self._old_code[raw_old_code.__class__, raw_old_code]
            if problem:
                errors.append(problem)
            if old_code and old_code == code:
                fail("old_code_same")

        start, start_problem = self._start[raw_start.__class__, raw_start]
        end, end_problem = self._end[raw_end.__class__, raw_end]
        certified_on, certified_problem = self._certified_on[raw_certified.__class__, raw_certified]
        date_problems = [p for p in (start_problem, end_problem, certified_problem) if p]
        errors.extend(date_problems)
        date_failed = bool(date_problems)
        if start is None and action in (_ADD, _CHANGE) and not date_failed:
            fail("start_missing")
        if action == _END:
            if end is None and not date_failed:
                fail("end_missing")
            start = None  # an exit needs only its last day
        _check_dates(fail, start, end, certified_on, birth=birth, latest=self.latest)

        household = _text(raw_household)
        if len(household) > 32:
            fail("household_too_long")
            household = household[:32]
        township, township_id, problem = self._township[raw_township.__class__, raw_township]
        if problem:
            errors.append(problem)
        scheme, problem = self._scheme[raw_scheme.__class__, raw_scheme]
        if problem:
            errors.append(problem)
        place = _text(raw_place)
        if place and not (place.isdigit() and 6 <= len(place) <= 12):
            fail("place_invalid")
            place = ""

        prev_end = start - timedelta(days=1) if action == _CHANGE and start else None
        if errors:
            error_code = errors[0][0]
            message = "；".join(dict.fromkeys(m for _, m in errors))[:200]
        else:
            error_code = message = ""
        return (
            line,
            action,
            id_number,
            name,
            sex,
            birth,
            code,
            old_code,
            start,
            end,
            prev_end,
            certified_on,
            household,
            township,
            township_id,
            scheme,
            place,
            "",  # psn_no: the platform's identity records only
            "",  # memo
            error_code,
            message,
        )

    # Readers of one stripped cell value, each returning what `check` unpacks; memoised.

    def _read_action(self, value) -> tuple[str, tuple[str, str] | None]:
        if value is None:
            if self.kind == RosterImport.Kind.FEED:
                return RowAction.ADD, ("action_missing", ROW_REASONS["action_missing"])
            return RowAction.ADD, None
        action = ACTIONS.get(cell_text(value).replace(" ", ""))
        if action is None:
            return "", ("action_unknown", f"{ROW_REASONS['action_unknown']}：“{cell_text(value)}”")
        return action, None

    def _read_code(self, value) -> tuple[str, tuple[str, str] | None]:
        return self._identity_code(value, old=False)

    def _read_old_code(self, value) -> tuple[str, tuple[str, str] | None]:
        return self._identity_code(value, old=True)

    def _identity_code(self, value, *, old: bool) -> tuple[str, tuple[str, str] | None]:
        if value is None:
            name = "old_code_missing" if old else "code_missing"
            return "", (name, ROW_REASONS[name])
        text = cell_text(value).translate(_DROP_SPACES)
        code = IDENTITY_LABELS.get(text) or IDENTITY_LABELS.get(text.lower())
        if code is None:
            name = "old_code_unknown" if old else "code_unknown"
            return "", (name, f"{ROW_REASONS[name]}：“{text}”")
        if not old and code not in self.allowed:
            return code, (
                "code_department",
                f"{ROW_REASONS['code_department']}：“{IdentityCode(code).label}”"
                f"不由{self.department_label}部门认定",
            )
        return code, None

    def _date_reader(self, key: str):
        header = COLUMN_BY_KEY[key].header

        def read(value) -> tuple[date | None, tuple[str, str] | None]:
            if value is None:
                return None, None
            try:
                return parse_date(value), None
            except (ValueError, OverflowError):
                return None, ("date_invalid", f"{header}无效：“{cell_text(value)}”")

        return read

    def _read_township(self, value) -> tuple[str, int | None, tuple[str, str] | None]:
        township = cell_text(value or "")[:MAX_TEXT]
        if not township:
            return "", None, None
        township_id = self.townships.get(township)
        if township_id is None:
            return township, None, ("township_unknown", ROW_REASONS["township_unknown"])
        return township, township_id, None


_PSN_NO = re.compile(r"^[0-9A-Za-z]{1,32}$")


@dataclass
class PlatformRowChecker:
    """Checks one of the platform's person-identity records: the same staged values as a
    department's line (an addition of a dated period, `action` add), so staging, the checks
    against the registry and the merge are the roster's. `psn_idet_type` is read through the
    dated mapping (`IdentityTypeMapping` rows: (code, valid_from, valid_to, identity, label))
    on the record's `begntime`."""

    stated_date: date
    headers: list[str]
    mappings: dict[str, list[tuple]]
    formulas: set[tuple[int, int]] = field(default_factory=set)
    kind: str = RosterImport.Kind.PLATFORM

    _KEYS = ("psn_no", "id_number", "name", "code", "start", "end", "memo")

    def __post_init__(self):
        self.index = {}
        for position, text in enumerate(self.headers):
            key = PLATFORM_HEADER_KEYS.get(header_key(text))
            if key and key not in self.index:
                self.index[key] = position
        missing = [
            c.header
            for c in PLATFORM_COLUMNS
            if self.kind in c.required and c.key not in self.index
        ]
        if missing:
            raise FileRefused("缺少必填列：" + "、".join(missing), code="missing_columns")
        self.latest = self.stated_date + timedelta(days=366)
        self.formula_lines = {line for line, _ in self.formulas}
        self._pick = operator.itemgetter(*(self.index.get(key, -1) for key in self._KEYS))
        self._min_width = max(self.index.values()) + 1
        self._start = _Memo(self._date_reader("begntime"))
        self._end = _Memo(self._date_reader("endtime"))

    def is_blank(self, cells: list) -> bool:
        return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)

    def code_on(self, code: str, day: date | None) -> tuple[str, tuple[str, str] | None]:
        """Our identity for a platform code on `day`, or the row error saying why none."""
        if not code:
            return "", ("code_missing", "人员身份类别（psn_idet_type）为空")
        rows = self.mappings.get(code)
        if not rows:
            return "", ("code_unknown", f"人员身份类别（psn_idet_type）无法识别：“{code}”")
        if day is None:
            return "", None  # the date's own error is reported
        for start, end, identity, label in rows:
            if start <= day and (end is None or day <= end):
                if not identity:
                    return "", (
                        "code_unknown",
                        f"人员身份类别“{code}”（{label}）不属于医疗救助对象",
                    )
                return identity, None
        return "", (
            "code_unknown",
            f"人员身份类别（psn_idet_type）“{code}”在 {day.isoformat()} 不在映射的有效期内",
        )

    def check(self, line: int, cells: list) -> tuple:
        errors: list[tuple[str, str]] = []

        def fail(code: str, detail: str = "") -> None:
            errors.append((code, ROW_REASONS[code] + detail))

        if line in self.formula_lines:
            fail("formula")
        if len(cells) < self._min_width:
            cells = [*cells, *([None] * (self._min_width - len(cells)))]
        raw_psn, raw_id, raw_name, raw_code, raw_start, raw_end, raw_memo = self._pick(
            [*cells, None]
        )
        psn_no = _text(raw_psn)
        if not psn_no:
            fail("psn_no_missing")
        elif not _PSN_NO.match(psn_no):
            fail("psn_no_invalid")
            psn_no = psn_no[:32]

        id_number = sex = ""
        birth = None
        raw_id = _stripped(raw_id) if raw_id is not None else None
        if raw_id is not None:
            try:
                id_number, birth, sex, _region = id_numbers.parse(raw_id)
            except id_numbers.IdNumberError as exc:
                errors.append((exc.code, exc.message))
                if isinstance(raw_id, str):
                    id_number = id_numbers.normalise(raw_id)[:18]

        name = _text(raw_name).translate(_DROP_SPACES)
        if not name:
            fail("name_missing")
        elif len(name) > MAX_TEXT or _NAME_BAD.search(name):
            fail("name_invalid")
            name = name[:MAX_TEXT]

        start, start_problem = self._start[raw_start.__class__, raw_start]
        end, end_problem = self._end[raw_end.__class__, raw_end]
        for problem in (start_problem, end_problem):
            if problem:
                errors.append(problem)
        if start is None and not start_problem:
            errors.append(("start_missing", "开始时间（begntime）为空"))
        code, problem = self.code_on(_text(raw_code), start)
        if problem:
            errors.append(problem)
        _check_dates(fail, start, end, birth=birth, latest=self.latest)
        memo = _text(raw_memo)
        if len(memo) > 200:
            fail("memo_too_long")
            memo = memo[:200]
        if errors:
            error_code = errors[0][0]
            message = "；".join(dict.fromkeys(m for _, m in errors))[:200]
        else:
            error_code = message = ""
        return (
            line,
            RowAction.ADD.value,
            id_number,
            name,
            sex,
            birth,
            code,
            "",  # old_code
            start,
            end,
            None,  # prev_end
            None,  # certified_on
            "",  # household_code
            "",  # township
            None,  # township_id
            "",  # insurance_scheme
            "",  # insured_place
            psn_no,
            memo,
            error_code,
            message,
        )

    def _date_reader(self, header: str):
        def read(value) -> tuple[date | None, tuple[str, str] | None]:
            if value is None:
                return None, None
            try:
                return parse_date(value), None
            except (ValueError, OverflowError):
                return None, ("date_invalid", f"{header}无效：“{cell_text(value)}”")

        return read


def _stripped(value):
    """A cell as `check` reads it: text without surrounding spaces, and blank text as None."""
    if value.__class__ is str:
        return value.strip() or None
    return value


def _text(value) -> str:
    """A cell's text without surrounding spaces; "" for a blank cell."""
    if value.__class__ is str:
        return value.strip()
    return cell_text(value) if value else ""


def _read_scheme(value) -> tuple[str, tuple[str, str] | None]:
    if value is None:
        return "", None
    scheme = SCHEMES.get(cell_text(value))
    if scheme is None:
        return "", ("scheme_unknown", f"{ROW_REASONS['scheme_unknown']}：“{cell_text(value)}”")
    return scheme, None


# The staging table's columns in the order `RowChecker.check` returns them (after batch_id).
STAGING_COLUMNS = (
    "batch_id",
    "line_no",
    "action",
    "id_number",
    "name",
    "sex",
    "birth_date",
    "code",
    "old_code",
    "start",
    '"end"',
    "prev_end",
    "certified_on",
    "household_code",
    "township",
    "township_id",
    "insurance_scheme",
    "insured_place",
    "psn_no",
    "memo",
    "error_code",
    "error_message",
    "outcome",
)


def template_rows(kind: str) -> tuple[list[str], list[list[str]]]:
    """Headers and two example rows of the documented template."""
    if kind == RosterImport.Kind.PLATFORM:
        headers = [c.header for c in PLATFORM_COLUMNS]
        return headers, [
            ["P53050200001", "530502199001011236", "张三", "2303", "2024-01-01", "", ""],
            ["P53050200002", "", "李四", "2301", "2023-07-01", "2024-03-31", "转入特困"],
        ]
    headers = [c.header for c in COLUMNS]
    first = [c.example for c in COLUMNS]
    if kind == RosterImport.Kind.FEED:
        second = list(first)
        second[0] = "退出"
        second[1] = "530502198502023218"
        second[2] = "李四"
        second[5] = ""
        second[6] = "2024-03-31"
        return headers, [first, second]
    first[0] = ""
    return headers, [first]


def sniff_size(upload) -> int:
    size = getattr(upload, "size", None)
    if size is None:
        position = upload.tell()
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
        upload.seek(position)
    return size
