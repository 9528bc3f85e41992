"""Reading the platform's settlement list (结算清单): .xlsx, .csv (UTF-8 or GBK) or JSON records
with the platform's field names (or their Chinese headers) → for each line, the staging tuple a
declaration line takes (`claims.imports.parse_line`, so the checks and merge are the existing
ones) and the line's platform facts (`PLATFORM_LINE_COLUMNS`).

Codes are mapped through `CodeMapping` rows as of the line's discharge day; an unknown code, an
amount that does not add up or a value that cannot be read is the line's error, named with its
column (`med_type（医疗类别）=41 …`)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.utils import timezone

from beneficiaries.selectors import identity_type_mappings
from claims import imports
from claims.models import LineError
from claims.platform.models import CodeMapping
from medaid.core import validators
from medaid.core.errors import Refusal
from medaid.core.money import CENT, ZERO

# The platform's field → its Chinese name (the header of a platform export, and the column a row
# error names). Optional fields may be absent; `init_setl_id` and `psn_idet_type` are not in
# every province's list (a 冲销 record without init_setl_id reverses its own setl_id).
FIELDS: dict[str, str] = {
    "setl_id": "结算ID",
    "psn_no": "人员编号",
    "certno": "证件号码",
    "psn_name": "人员姓名",
    "insutype": "险种类型",
    "psn_idet_type": "人员身份类别",
    "med_type": "医疗类别",
    "begndate": "开始日期",
    "enddate": "结束日期",
    "medfee_sumamt": "医疗费总额",
    "fulamt_ownpay_amt": "全自费金额",
    "overlmt_selfpay": "超限价自费费用",
    "preselfpay_amt": "先行自付金额",
    "inscp_scp_amt": "符合政策范围金额",
    "hifp_pay": "基本医疗保险统筹基金支出",
    "hifmi_pay": "居民大病保险资金支出",
    "hifob_pay": "职工大额医疗费用补助基金支出",
    "maf_pay": "医疗救助基金支出",
    "cvlserv_pay": "公务员医疗补助资金支出",
    "oth_pay": "其他支出",
    "fund_pay_sumamt": "基金支付总额",
    "psn_cash_pay": "个人现金支出",
    "acct_pay": "个人账户支出",
    "hosp_lv": "医院等级",
    "fixmedins_code": "定点医药机构编号",
    "fixmedins_name": "定点医药机构名称",
    "insu_admdvs": "参保地医保区划",
    "setl_time": "结算时间",
    "vali_flag": "有效标志",
    "clr_type": "清算类别",
    "refd_setl_flag": "退费结算标志",
    "init_setl_id": "原结算ID",
}
HEADERS = {name: name for name in FIELDS} | {label: name for name, label in FIELDS.items()}
REQUIRED = (
    "setl_id",
    "certno",
    "med_type",
    "enddate",
    "medfee_sumamt",
    "inscp_scp_amt",
    "maf_pay",
    "fixmedins_code",
)
FUND_PARTS = ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay", "cvlserv_pay", "oth_pay")
MONEY = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    *FUND_PARTS,
    "fund_pay_sumamt",
    "psn_cash_pay",
    "acct_pay",
)
# refd_setl_flag: 0 normal, 1 冲销 (and its Chinese word, as some exports write it).
REVERSAL_FLAGS = {"1", "冲销", "是"}
PLATFORM_LINE_COLUMNS = (
    "line_no",
    "setl_id",
    "psn_no",
    "insutype",
    "med_type",
    "clr_type",
    "insu_admdvs",
    "identity",
    "setl_time",
    "maf_pay",
    "reversal",
    "reverses",
    "content_hash",
)


class PlatformFileError(imports.DeclarationFileError):
    pass


def column(name: str) -> str:
    return f"{name}（{FIELDS[name]}）"


PSN_IDET_TYPE = "psn_idet_type"


class Mappings:
    """Every CodeMapping row, read once per file: (dictionary, code) → its dated values; and
    the registry's 人员身份类别 mapping (`beneficiaries.IdentityTypeMapping`) as the
    `psn_idet_type` dictionary."""

    def __init__(self, rows: Iterable[tuple] | None = None):
        if rows is None:
            rows = list(
                CodeMapping.objects.values_list(
                    "dictionary", "code", "valid_from", "valid_to", "value", "label"
                )
            )
            for code, periods in identity_type_mappings().items():
                for start, end, identity, label in periods:
                    rows.append((PSN_IDET_TYPE, code, start, end, identity, label))
        self.by_code: dict[tuple[str, str], list[tuple]] = defaultdict(list)
        for dictionary, code, start, end, value, label in rows:
            self.by_code[(dictionary, code)].append((start, end or dt.date.max, value, label))

    def lookup(self, dictionary: str, code: str, day: dt.date) -> tuple[str | None, str]:
        """(our value, the platform's label) in force on `day`; value None: no such code that
        day; "" : a platform code outside medical assistance."""
        for start, end, value, label in self.by_code.get((dictionary, code), ()):
            if start <= day <= end:
                return value, label
        return None, ""


def _setl_time(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        text = str(value).strip().replace("/", "-").replace("T", " ")
        moment = dt.datetime.fromisoformat(text[:19])
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def content_hash(raw: dict) -> str:
    """The record's content, as the platform sent it: a re-send with the same setl_id and this
    hash changes nothing."""
    text = "\x1f".join(f"{name}={imports._text(raw.get(name))}" for name in FIELDS)
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def read_record(line_no: int, raw: dict, mappings: Mappings) -> tuple[tuple, tuple]:
    """One platform record → (declaration line tuple, platform line tuple)."""
    problems: list[tuple[str, str]] = []
    sent = {name: imports._text(raw.get(name)) for name in FIELDS}
    # A NUL refuses the line; it is kept out of what is stored (PostgreSQL cannot hold it).
    text = {name: value.replace("\x00", "") for name, value in sent.items()}

    def problem(code: str, detail: str) -> None:
        problems.append((code, detail))

    for name, value in sent.items():
        if "\x00" in value:
            problem(LineError.BAD_TEXT, f"{column(name)}含有空字符（NUL），请删除后重新上传")

    money: dict[str, Decimal | None] = {}
    for name in MONEY:
        try:
            # Negative amounts are a reversal's (冲销), judged with the reversal's rules below.
            money[name] = validators.money(
                raw.get(name), field=name, label=column(name), negative=True
            )
        except Refusal as exc:
            money[name] = None
            problem(LineError.BAD_AMOUNT, exc.message)
    days: dict[str, dt.date | None] = {}
    for name in ("begndate", "enddate"):
        try:
            days[name] = imports._date(raw.get(name))
        except ValueError:
            days[name] = None
            problem(LineError.BAD_DATE, f"{column(name)}={text[name]}")
    try:
        setl_time = _setl_time(raw.get("setl_time"))
    except ValueError:
        setl_time = None
        problem(LineError.BAD_DATE, f"{column('setl_time')}={text['setl_time']}")
    missing = [column(name) for name in REQUIRED if text[name] == ""]
    if missing:
        problem(LineError.MISSING_FIELD, "、".join(missing))
    reversal = text["vali_flag"] == "0" or text["refd_setl_flag"] in REVERSAL_FLAGS
    day = days["enddate"] or (setl_time.date() if setl_time else timezone.localdate())

    def mapped(dictionary: str, name: str, *, required: bool = True) -> str:
        code = text[name]
        if code == "":
            return ""
        value, label = mappings.lookup(dictionary, code, day)
        if value is None:
            problem(LineError.UNKNOWN_CODE, f"{column(name)}={code}：{day} 无此代码")
        elif value == "" and required:
            problem(LineError.UNKNOWN_CODE, f"{column(name)}={code}（{label}）不属于医疗救助范围")
        return value or ""

    kind = mapped(CodeMapping.Dictionary.MED_TYPE, "med_type")
    mapped(CodeMapping.Dictionary.INSUTYPE, "insutype")
    mapped(CodeMapping.Dictionary.HOSP_LV, "hosp_lv")
    mapped(CodeMapping.Dictionary.INSU_ADMDVS, "insu_admdvs")
    identity = mapped(PSN_IDET_TYPE, "psn_idet_type", required=False)

    def amount(name: str) -> Decimal:
        return money.get(name) or ZERO

    if not reversal and money["medfee_sumamt"] is not None:
        fund = money["fund_pay_sumamt"]
        if fund is None:
            fund = sum((amount(name) for name in FUND_PARTS), ZERO)
        paid = fund + amount("psn_cash_pay") + amount("acct_pay")
        if abs(money["medfee_sumamt"] - paid) > CENT:
            problem(
                LineError.SUM_MISMATCH,
                f"{column('medfee_sumamt')}={money['medfee_sumamt']}，{column('fund_pay_sumamt')}"
                f"{fund}+{column('psn_cash_pay')}{amount('psn_cash_pay')}+"
                f"{column('acct_pay')}{amount('acct_pay')}={paid}",
            )
    fields = {
        "hospital_code": text["fixmedins_code"],
        "id_number": text["certno"],
        "name": text["psn_name"],
        "external_ref": text["setl_id"],
        "kind": kind,
        "admitted": days["begndate"],
        "discharged": days["enddate"],
        "total_cost": money["medfee_sumamt"],
        "in_policy_cost": money["inscp_scp_amt"],
        # Everything billed outside the policy scope: 全自费 + 超限价 + 先行自付.
        "out_of_catalog_cost": sum(
            (amount(n) for n in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt")), ZERO
        ),
        "basic_insurance_paid": amount("hifp_pay"),
        "critical_illness_paid": amount("hifmi_pay"),
        "other_paid": amount("hifob_pay") + amount("cvlserv_pay") + amount("oth_pay"),
        "declared_assistance": money["maf_pay"],
    }
    line = imports.parse_line(line_no, fields)
    if reversal:
        # Its negative amounts are the reversed settlement's; the line is not a claim.
        code, detail = LineError.REVERSAL, ""
        if problems and problems[0][0] != LineError.SUM_MISMATCH:
            code, detail = problems[0]
        line = (*line[:-2], code, detail[:200])
    elif problems:
        line = (*line[:-2], problems[0][0], problems[0][1][:200])
    platform = (
        line_no,
        text["setl_id"][:64],
        text["psn_no"][:32],
        text["insutype"][:8],
        text["med_type"][:8],
        text["clr_type"][:16],
        text["insu_admdvs"][:12],
        identity,
        setl_time,
        money["maf_pay"],
        reversal,
        (text["init_setl_id"] or text["setl_id"])[:64] if reversal else "",
        content_hash(raw),
    )
    return line, platform


def records(header: list, rows: Iterable[list]) -> Iterator[dict]:
    """A file's rows as platform records; a header without the platform's key fields refuses
    the whole file, before anything is staged."""
    fields = [HEADERS.get(imports._text(h).replace("\ufeff", "")) for h in header]
    missing = [column(name) for name in REQUIRED if name not in fields]
    if missing:
        raise PlatformFileError(
            "文件表头不是平台结算清单格式，缺少：" + "、".join(missing), code="bad_header"
        )
    return _records(fields, rows)


def _records(fields: list, rows: Iterable[list]) -> Iterator[dict]:
    for row in rows:
        if not any(v not in (None, "") for v in row):
            continue
        yield {f: v for f, v in zip(fields, row, strict=False) if f}


def file_records(path, file_name: str) -> Iterator[dict]:
    """A platform file's records: accepted as every declaration file is (`imports.file_rows`:
    format by content, size limit), then read by the platform's headers."""
    rows = imports.file_rows(path, file_name)
    return records(next(rows, []), rows)


def json_records(rows: list[dict]) -> Iterator[dict]:
    for row in rows:
        yield {HEADERS.get(key, key): value for key, value in row.items()}
