"""One check per kind of fact, in one place: dates, money, text, booleans and the names of the
fields a request may carry. The admin's forms, the API's serializers, the file readers and the
services call these, so a value is refused alike wherever it comes in, with the same Chinese
message, code and field (`Refusal`).

Pure Python (no Django): the readers of a million-row file call them too, and the caller
passes `today`, so the rules can be tested on any day.

Each check refuses what it cannot take as it is; none repairs a value (a third decimal, a
text longer than its column, a "false" meaning true): repairing silently is how bad input
became accepted input.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

from medaid.core.errors import Refusal
from medaid.core.money import CENT, ZERO

# No fact of this system (a birth, a stay, a roster, a budget) lies before this day.
FAR_PAST = dt.date(1900, 1, 1)

# How far past today a date of each kind of fact may lie, in days.
# - happened: something that already took place (a discharge, an application received, an
#   approval, a ledger posting, a roster's stated date);
# - planned: the start or end of a period decided ahead (an identity granted from next month,
#   a certification valid until the year's end).
AHEAD_DAYS = {"happened": 0, "planned": 366}

# A stay in hospital longer than this is a typing error, not a stay (the longest seen in the
# seeds' examples is a few months; two years leaves room for a long rehabilitation).
MAX_STAY_DAYS = 731

# The largest amount a single figure may carry, per kind: a claim's costs and payments, a
# household's yearly income, a ledger or budget amount. Above it the value is refused as a typing
# error (the columns hold 10^12; nothing of a county's medical assistance comes near).
MAX_AMOUNT = {
    "claim": Decimal("10000000.00"),
    "income": Decimal("100000000.00"),
    "fund": Decimal("10000000000.00"),
}

# NUL and the C0/C1 control characters; a multi-line text (a note) may keep \t, \n and \r.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _day_text(day: dt.date) -> str:
    return day.isoformat()


def day(
    value: dt.date | None,
    *,
    field: str,
    label: str,
    today: dt.date,
    ahead: str = "happened",
    earliest: dt.date = FAR_PAST,
    earliest_label: str = "",
) -> dt.date | None:
    """A date no later than `today` plus the horizon of its kind (`AHEAD_DAYS[ahead]`), and no
    earlier than `earliest` (a person's birth: `earliest_label="出生日期"`). None passes."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    latest = today + dt.timedelta(days=AHEAD_DAYS[ahead])
    if value > latest:
        if ahead == "happened":
            message = f"{label}不能晚于今天（{_day_text(today)}）：{_day_text(value)}"
        else:
            message = f"{label}不能晚于 {_day_text(latest)}：{_day_text(value)}"
        raise Refusal(message, code="date_too_late", field=field)
    if value < earliest:
        if earliest_label:
            since = f"{earliest_label}（{_day_text(earliest)}）"
            message = f"{label}不能早于{since}：{_day_text(value)}"
            code = "date_before_birth" if earliest_label == "出生日期" else "date_too_early"
        else:
            message = f"{label}不能早于 {_day_text(earliest)}：{_day_text(value)}"
            code = "date_too_early"
        raise Refusal(message, code=code, field=field)
    return value


def period(
    start: dt.date | None,
    end: dt.date | None,
    *,
    field: str,
    start_label: str,
    end_label: str,
    max_days: int | None = None,
) -> None:
    """`end` not before `start`, and (for a stay) not more than `max_days` after it. `field`
    names the end's field, the one a person corrects."""
    if start is None or end is None:
        return
    if end < start:
        raise Refusal(
            f"{end_label}（{_day_text(end)}）早于{start_label}（{_day_text(start)}）",
            code="end_before_start",
            field=field,
        )
    if max_days is not None and (end - start).days > max_days:
        raise Refusal(
            f"{start_label}至{end_label}共 {(end - start).days} 天，超过 {max_days} 天，请核对日期",
            code="period_too_long",
            field=field,
        )


def year(value, *, field: str, label: str, today: dt.date, back: int = 10, ahead: int = 1) -> int:
    """A calendar year within `back` years before and `ahead` years after this one."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            raise Refusal(f"{label}应为四位年份：{value}", code="bad_year", field=field) from None
    first, last = today.year - back, today.year + ahead
    if not first <= value <= last:
        raise Refusal(
            f"{label}应在 {first}–{last} 年之间：{value}", code="year_out_of_range", field=field
        )
    return value


def money(
    value,
    *,
    field: str,
    label: str,
    kind: str = "claim",
    negative: bool = False,
) -> Decimal | None:
    """An amount in yuan: a number with at most two decimals (a third is refused, never
    rounded), not negative unless `negative`, and within `MAX_AMOUNT[kind]` either side. Text
    with thousands separators reads; a float reads through its shortest repr. Empty is None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Refusal(f"{label}应为金额：{value}", code="bad_amount", field=field)
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value).replace(",", "").strip()
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise Refusal(
                f"{label}应为金额：{str(value)[:40]}", code="bad_amount", field=field
            ) from None
    if not amount.is_finite():
        raise Refusal(f"{label}应为金额：{str(value)[:40]}", code="bad_amount", field=field)
    limit = MAX_AMOUNT[kind]
    if abs(amount) > limit:
        message = f"{label}超过上限 {limit:,.2f} 元：{str(value)[:40]}"
        raise Refusal(message, code="amount_too_large", field=field)
    if amount != amount.quantize(CENT):
        raise Refusal(
            f"{label}最多两位小数（精确到分），不作四舍五入：{str(value)[:40]}",
            code="too_many_decimals",
            field=field,
        )
    if amount < ZERO and not negative:
        raise Refusal(f"{label}不能为负数：{amount}", code="negative_amount", field=field)
    return amount.quantize(CENT)


def text(
    value,
    *,
    field: str,
    label: str,
    max_length: int,
    multiline: bool = False,
    required: bool = False,
) -> str:
    """Text as given (surrounding spaces stripped), refused when longer than `max_length` (never
    cut) or when it holds NUL or another control character."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        value = str(value)
    value = value.strip()
    if required and not value:
        raise Refusal(f"请填写{label}", code="required", field=field)
    if len(value) > max_length:
        raise Refusal(
            f"{label}最多 {max_length} 个字符，实际 {len(value)} 个", code="too_long", field=field
        )
    if (_CONTROL if multiline else _CONTROL_ONE_LINE).search(value):
        raise Refusal(
            f"{label}含有不可见的控制字符（如 NUL），请删除后重新提交",
            code="control_character",
            field=field,
        )
    return value


def boolean(value, *, field: str, label: str) -> bool:
    """Only JSON's true and false: the text "false" is not false-y here, it is refused."""
    if value is True or value is False:
        return value
    if value is None:
        raise Refusal(f"请填写{label}（true 或 false）", code="required", field=field)
    raise Refusal(
        f"{label}只能是 true 或 false：{str(value)[:40]}", code="not_boolean", field=field
    )


def known_fields(
    data: Mapping, allowed: Iterable[str], *, what: str = "请求", prefix: str = ""
) -> None:
    """Refuse the first key of `data` that is not in `allowed`, by name (a field silently
    dropped is a change the sender thinks was made)."""
    allowed = set(allowed)
    for key in data:
        if key not in allowed:
            raise Refusal(
                f"{what}中不能包含字段“{key}”（可用字段：{'、'.join(sorted(allowed))}）",
                code="unknown_field",
                field=f"{prefix}{key}",
            )
