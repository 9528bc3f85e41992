"""Hospital monthly declarations in: .xlsx (python-calamine), .csv (streamed) or JSON rows from
the API. Lines are parsed here into the staging table; the checks that need the database run
set-based in `services.declarations_check`."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings

from claims import services
from claims.models import (
    CLAIM_AMOUNT_FIELDS,
    ClaimKind,
    Declaration,
    DeclarationLine,
    Hospital,
    LineError,
)
from medaid.core import files, validators
from medaid.core.errors import Refusal
from medaid.core.jobs import task_send

# Header (Chinese, as hospitals' systems export it, or the API's English key) → field.
HEADERS = {
    "机构编码": "hospital_code",
    "医疗机构编码": "hospital_code",
    "公民身份号码": "id_number",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "姓名": "name",
    "结算单号": "external_ref",
    "结算流水号": "external_ref",
    "救助项目": "kind",
    "入院日期": "admitted",
    "出院日期": "discharged",
    "出院（就诊）日期": "discharged",
    "就诊日期": "discharged",
    "按规定转诊": "referred",
    "复诊": "follow_up",
    "急诊抢救": "emergency",
    "重大疾病首诊": "major_disease",
    "慢特病类别": "chronic_category",
    "医疗总费用": "total_cost",
    "政策范围内费用": "in_policy_cost",
    "目录外费用": "out_of_catalog_cost",
    "基本医保统筹支付": "basic_insurance_paid",
    "大病保险支付": "critical_illness_paid",
    "其他保障支付": "other_paid",
    "医院申报救助金额": "declared_assistance",
    "救助金额": "declared_assistance",
    "票据号": "receipt_numbers",
}
FIELDS = services.DECLARATION_LINE_FIELDS
HEADERS.update({f: f for f in FIELDS})
# The template's column order: the first Chinese header of each field.
TEMPLATE_HEADERS = [next(h for h, f in HEADERS.items() if f == field) for field in FIELDS]

# The text fields, cut to the widths of their staging columns.
TEXT_WIDTHS = {
    name: DeclarationLine._meta.get_field(name).max_length
    for name in ("hospital_code", "id_number", "name", "external_ref", "receipt_numbers")
}
REQUIRED = ("id_number", "external_ref", "kind", "discharged", "in_policy_cost")
MONEY = CLAIM_AMOUNT_FIELDS
BOOLS = {"referred": True, "follow_up": False, "emergency": False, "major_disease": False}
KIND_BY_LABEL = {label: value for value, label in ClaimKind.choices} | {
    v: v for v in ClaimKind.values
}
# Names hospitals' systems commonly use besides the glossary's own.
KIND_BY_LABEL.update(
    {
        "门诊慢特病": ClaimKind.OUTPATIENT_CHRONIC,
        "门诊特殊疾病": ClaimKind.OUTPATIENT_SPECIAL,
        "门诊特药": ClaimKind.NEGOTIATED_DRUG,
        "谈判药品": ClaimKind.NEGOTIATED_DRUG,
        "谈判药品/门诊特药": ClaimKind.NEGOTIATED_DRUG,
        "门诊急诊": ClaimKind.OUTPATIENT_EMERGENCY,
    }
)
TRUE = {"1", "是", "true", "True", "TRUE", "y", "Y", "yes"}
FALSE = {"0", "否", "false", "False", "FALSE", "n", "N", "no", ""}


class DeclarationFileError(services.ClaimsError):
    pass


# A month's declaration of a county hospital is thousands of lines; the bench declares 200,000.
MAX_UPLOAD_BYTES_DEFAULT = 100 * 1024 * 1024
MAX_ROWS_DEFAULT = 500_000


def max_upload_bytes() -> int:
    return int(getattr(settings, "CLAIMS_MAX_UPLOAD_BYTES", MAX_UPLOAD_BYTES_DEFAULT))


def max_rows() -> int:
    return int(getattr(settings, "CLAIMS_MAX_ROWS", MAX_ROWS_DEFAULT))


def limited(lines: Iterator) -> Iterator:
    """The lines of a file, refused as a whole past `max_rows()` (the staging rolls back)."""
    limit = max_rows()
    for count, line in enumerate(lines, start=1):
        if count > limit:
            raise files.too_many_rows(limit)
        yield line


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _date(value) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and 20000 <= value <= 80000:
        # An Excel date serial whose cell carried no date format.
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10] if len(text) > 10 and text[10] in " T" else text)
    except ValueError:
        pass
    for fmt in ("%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


# The labels a refusal names a column by: the template's Chinese header of each field.
LABELS = dict(zip(FIELDS, TEMPLATE_HEADERS, strict=True))


def _check(problem: tuple[str, str] | None, error: str, check, *args, **kwargs):
    """Run one validator; the first refusal of a line becomes its (error, detail)."""
    try:
        return check(*args, **kwargs), problem
    except Refusal as exc:
        return None, problem or (error, exc.message)


def parse_line(line_no: int, record: dict) -> tuple:
    """One record (field → raw value) → a staging tuple in DECLARATION_LINE_COLUMNS order.
    A value that cannot be taken as it is (a third decimal, 10^12, a text past its column, a
    NUL) is the line's error, checked by `medaid.core.validators` as every other way in checks
    it; the line is kept, never dropped, and nothing of it is repaired."""
    problem: tuple[str, str] | None = None
    out: dict = {}
    for name, width in TEXT_WIDTHS.items():
        value, problem = _check(
            problem,
            LineError.BAD_TEXT,
            validators.text,
            _text(record.get(name)),
            field=name,
            label=LABELS[name],
            max_length=width,
        )
        # A refused text is kept for the error file as sent, but for a NUL, which PostgreSQL
        # cannot store in any text column.
        kept = _text(record.get(name)).replace("\x00", "")[:width]
        out[name] = value if value is not None else kept
    kind_raw = _text(record.get("kind"))
    out["kind"] = KIND_BY_LABEL.get(kind_raw, "")
    for name in ("admitted", "discharged"):
        try:
            out[name] = _date(record.get(name))
        except (ValueError, OverflowError):
            out[name] = None
            problem = problem or (LineError.BAD_DATE, f"{name}={str(record.get(name))[:100]}")
    admitted, discharged = out["admitted"], out["discharged"]
    # Discharged before admitted is the figures' rule to name; here only a stay too long.
    _, problem = _check(
        problem,
        LineError.BAD_DATE,
        validators.period,
        admitted if admitted and discharged and admitted <= discharged else None,
        discharged,
        field="discharged",
        start_label=LABELS["admitted"],
        end_label=LABELS["discharged"],
        max_days=validators.MAX_STAY_DAYS,
    )
    for name in MONEY:
        out[name], problem = _check(
            problem,
            LineError.BAD_AMOUNT,
            validators.money,
            record.get(name),
            field=name,
            label=LABELS[name],
            # A negative figure is the figures' rule to name (checks.FIGURE_RULES).
            negative=True,
        )
    for name, default in BOOLS.items():
        raw = _text(record.get(name))
        if raw in TRUE or raw in FALSE:
            out[name] = default if raw == "" else raw in TRUE
        else:
            out[name] = default
            problem = problem or (LineError.BAD_TEXT, f"{LABELS[name]}只能填 是/否：{raw[:40]}")
    category = _text(record.get("chronic_category"))
    out["chronic_category"] = None
    if category:
        if category in ("1", "2", "3"):
            out["chronic_category"] = int(category)
        else:
            message = f"慢特病类别只能是 1、2 或 3：{category[:40]}"
            problem = problem or (LineError.BAD_TEXT, message)
    if not problem:
        missing = [f for f in REQUIRED if out.get(f) in ("", None)]
        if out.get("declared_assistance") is None:
            missing.append("declared_assistance")
        if kind_raw and not out["kind"]:
            problem = (LineError.BAD_KIND, kind_raw[:100])
        elif missing:
            problem = (LineError.MISSING_FIELD, "、".join(missing))
    if out["admitted"] is None:
        out["admitted"] = out["discharged"]
    error, detail = problem or ("", "")
    return (line_no, *(out[name] for name in FIELDS), error, detail[:200])


def _records(header: list, rows: Iterable[list]) -> Iterator[dict]:
    fields = [HEADERS.get(_text(h)) for h in header]
    if "id_number" not in fields or "external_ref" not in fields:
        raise DeclarationFileError(
            "文件表头无法识别：至少需要“公民身份号码”和“结算单号”两列", code="bad_header"
        )
    for row in rows:
        if not any(v not in (None, "") for v in row):
            continue
        yield {f: v for f, v in zip(fields, row, strict=False) if f}


def csv_rows(path: Path) -> Iterator[list]:
    """A .csv's rows (the header first), UTF-8 or GB18030 as its content says
    (`medaid.core.files`); the platform's reader reads them too."""
    handle = files.open_text(path)
    with handle:
        try:
            yield from csv.reader(handle)
        except UnicodeDecodeError:
            raise files.encoding_refused() from None
        except csv.Error as exc:
            raise DeclarationFileError(
                f"CSV 文件格式错误：{exc}", code="csv_broken", field="file"
            ) from None


def file_rows(path: Path, file_name: str) -> Iterator[list]:
    """The rows (header first) of an uploaded declaration file, once it has passed what every
    declaration file passes, whatever its layout: its format judged by content
    (`medaid.core.files`: .xls, renamed and binary files refused) and the size limit."""
    head, _complete = files.read_head(path)
    fmt = files.file_format(head, file_name, text_suffixes=(".csv", ".txt"))
    size = path.stat().st_size
    if size > max_upload_bytes():
        raise files.too_large(size, max_upload_bytes())
    return xlsx_rows(path) if fmt == "xlsx" else csv_rows(path)


def read_records(path: Path, file_name: str) -> Iterator[dict]:
    """A declaration file in our own layout, record by record (field → raw value)."""
    rows = file_rows(path, file_name)
    return _records(next(rows, []), rows)


def xlsx_rows(path: Path) -> Iterator[list]:
    """The first sheet's rows (the header first)."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if not workbook.sheet_names:
            raise DeclarationFileError("工作簿中没有工作表", code="empty_file", field="file")
        sheet = workbook.get_sheet_by_index(0)
        rows = iter(sheet.iter_rows())
    except DeclarationFileError:
        raise
    except Exception as exc:  # calamine raises its own error types for damaged archives
        raise files.xlsx_refused(exc) from None
    yield from rows


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _guess_hospital(records: Iterator[dict]) -> Hospital | None:
    for record in records:
        code = _text(record.get("hospital_code"))
        if code:
            return Hospital.objects.filter(code=code).first()
    return None


def declaration_upload_file(
    *, upload, year: int, month: int, hospital: Hospital | None = None, uploaded_by=None
) -> Declaration:
    """`declaration_upload` for an uploaded file (admin form or API): the readers need a path,
    so the upload is spooled to a temporary folder for the staging step only."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(upload.name).name
        with open(path, "wb") as f:
            for chunk in upload.chunks():
                f.write(chunk)
        return declaration_upload(
            path=path,
            file_name=upload.name,
            year=year,
            month=month,
            hospital=hospital,
            uploaded_by=uploaded_by,
        )


def declaration_upload(
    *,
    path: Path,
    file_name: str,
    year: int,
    month: int,
    hospital: Hospital | None = None,
    uploaded_by=None,
    process: bool = True,
) -> Declaration:
    """Stage a declaration file and (after commit) process it. The hospital is the uploader's;
    staff uploading on a hospital's behalf may leave it to the file's 机构编码."""
    records = read_records(path, file_name)
    digest = file_hash(path)
    if hospital is None:
        hospital = _guess_hospital(read_records(path, file_name))
    lines = limited(parse_line(n, rec) for n, rec in enumerate(records, start=2))
    declaration = services.declaration_receive(
        hospital=hospital,
        year=year,
        month=month,
        channel=Declaration.Channel.FILE,
        file_name=file_name,
        content_hash=digest,
        lines=lines,
        uploaded_by=uploaded_by,
    )
    if process:
        send(declaration)
    return declaration


def declaration_from_rows(
    *, rows: list[dict], year: int, month: int, hospital: Hospital, uploaded_by=None
) -> Declaration:
    """The API's JSON upload: rows with the English field names (or the Chinese headers)."""
    records = ({HEADERS.get(k, k): v for k, v in row.items()} for row in limited(rows))
    lines = [parse_line(n, rec) for n, rec in enumerate(records, start=1)]
    digest = services.json_hash(
        {"hospital": hospital.code, "year": year, "month": month, "rows": rows}
    )
    declaration = services.declaration_receive(
        hospital=hospital,
        year=year,
        month=month,
        channel=Declaration.Channel.API,
        file_name="",
        content_hash=digest,
        lines=lines,
        uploaded_by=uploaded_by,
    )
    send(declaration)
    return declaration


def send(declaration: Declaration) -> None:
    """Process a received declaration once its transaction commits."""
    task_send("claims.tasks.process_declaration", declaration.pk)


def template_csv() -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(TEMPLATE_HEADERS)
    return buffer.getvalue()
