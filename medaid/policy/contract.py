"""The benefit preview contract (shared/domain/preview-contract.md): JSON case in, JSON out.

`parse_case` turns the contract's JSON object into frozen facts or raises `CaseError` with a
stable code, a Chinese message and the offending field's path (`claims[0].in_policy_cost`).
`result_to_dict` renders a `CaseResult` exactly as the contract's "Result". `preview` does both
and never raises for bad input: the management command and the API call it.

Error codes: invalid_json, unknown_policy, unknown_identity, unknown_kind, unknown_parameter,
missing_field, invalid_field, negative_amount, inconsistent_amounts, inconsistent_dates,
date_before_policy. (A claim or premium dated after the pack's validity is decided with reason
`date_after_policy`.)
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

from medaid.core.money import CENT, ZERO, yuan_plain
from medaid.policy.errors import OverrideError
from medaid.policy.facts import (
    CLAIM_KINDS,
    FEE_CLASSES,
    IDENTITY_CODES,
    SETTLEMENTS,
    Case,
    ClaimFacts,
    IdentityPeriod,
    PersonFacts,
    PremiumRequest,
)
from medaid.policy.loader import load_pack
from medaid.policy.parameters import Pack
from medaid.policy.results import CaseResult, ClaimDecision, PremiumDecision

_MONEY = re.compile(r"^-?[0-9]+(\.[0-9]{1,2})?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_MISSING = object()


class CaseError(ValueError):
    """A case the contract refuses. `code` is stable; `message` is Chinese; `field` a path."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code = code
        self.message = message
        self.field = field
        super().__init__(f"{code}: {message} ({field})")

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


def _get(obj: dict, key: str, path: str, *, required: bool = False) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING or (required and value is None):
        if required:
            raise CaseError("missing_field", f"缺少必填字段 {key}", path)
        return None
    return value


def _object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise CaseError("invalid_field", "应为 JSON 对象", path)
    return value


def _date(obj: dict, key: str, path: str, *, required: bool = False) -> date | None:
    value = _get(obj, key, path, required=required)
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        raise CaseError("invalid_field", f"{key} 应为 YYYY-MM-DD 格式的日期", path)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CaseError("invalid_field", f"{key} 不是有效日期：{value}", path) from None


def _money(obj: dict, key: str, path: str, *, required: bool = False) -> Decimal | None:
    value = _get(obj, key, path, required=required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str):
        raise CaseError("invalid_field", f'{key} 应为表示金额（元）的字符串，如 "1000.00"', path)
    text = value.strip()
    if not _MONEY.match(text):
        raise CaseError("invalid_field", f"{key} 不是有效金额（最多两位小数）：{value}", path)
    amount = Decimal(text)
    if amount < 0:
        raise CaseError("negative_amount", f"{key} 不能为负数：{value}", path)
    return amount


def _bool(obj: dict, key: str, path: str, default: bool) -> bool:
    value = _get(obj, key, path)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise CaseError("invalid_field", f"{key} 应为 true 或 false", path)
    return value


def _int_choice(obj: dict, key: str, path: str, choices: tuple[int, ...], *, required: bool):
    value = _get(obj, key, path, required=required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in choices:
        options = "、".join(str(c) for c in choices)
        raise CaseError("invalid_field", f"{key} 应为 {options} 之一", path)
    return value


def _check_date(pack: Pack, day: date, path: str) -> None:
    if day < pack.first_day:
        raise CaseError(
            "date_before_policy",
            f"日期 {day} 早于{pack.title}最早版本的施行日期 {pack.first_day}",
            path,
        )
    # A date after the pack's validity is not bad input: the claim is decided as ineligible
    # with reason date_after_policy (the contract's Result), never by the stale pack.


def _identities(pack: Pack, person: dict) -> tuple[IdentityPeriod, ...]:
    raw = _get(person, "identities", "person.identities")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CaseError("invalid_field", "identities 应为数组", "person.identities")
    known = IDENTITY_CODES | pack.extra_identities
    out = []
    for i, item in enumerate(raw):
        path = f"person.identities[{i}]"
        item = _object(item, path)
        code = _get(item, "code", f"{path}.code", required=True)
        if not isinstance(code, str) or code not in known:
            raise CaseError("unknown_identity", f"未知的身份代码：{code}", f"{path}.code")
        start = _date(item, "start", f"{path}.start", required=True)
        end = _date(item, "end", f"{path}.end")
        if end is not None and end < start:
            raise CaseError("inconsistent_dates", "身份结束日期早于开始日期", f"{path}.end")
        out.append(IdentityPeriod(code, start, end))
    return tuple(out)


def _claim(pack: Pack, raw: Any, i: int) -> ClaimFacts:
    path = f"claims[{i}]"
    c = _object(raw, path)
    ref = _get(c, "ref", f"{path}.ref", required=True)
    if not isinstance(ref, str) or not ref:
        raise CaseError("invalid_field", "ref 应为非空字符串", f"{path}.ref")
    kind = _get(c, "kind", f"{path}.kind", required=True)
    if not isinstance(kind, str) or kind not in CLAIM_KINDS:
        raise CaseError("unknown_kind", f"未知的救助项目：{kind}", f"{path}.kind")
    discharged = _date(c, "discharged", f"{path}.discharged", required=True)
    admitted = _date(c, "admitted", f"{path}.admitted")
    if admitted is not None and admitted > discharged:
        raise CaseError("inconsistent_dates", "入院日期晚于出院日期", f"{path}.admitted")
    _check_date(pack, discharged, f"{path}.discharged")
    level = _int_choice(c, "hospital_level", f"{path}.hospital_level", (1, 2, 3), required=True)
    fee_class = _get(c, "hospital_fee_class", f"{path}.hospital_fee_class")
    if fee_class is not None and fee_class not in FEE_CLASSES:
        raise CaseError(
            "invalid_field",
            f"hospital_fee_class 应为 {'、'.join(sorted(FEE_CLASSES))} 之一或 null",
            f"{path}.hospital_fee_class",
        )
    chronic = _int_choice(
        c, "chronic_category", f"{path}.chronic_category", (1, 2, 3), required=False
    )
    settlement = _get(c, "settlement", f"{path}.settlement") or "direct"
    if settlement not in SETTLEMENTS:
        raise CaseError(
            "invalid_field", "settlement 应为 direct 或 application", f"{path}.settlement"
        )
    applied = _date(c, "applied", f"{path}.applied")
    if applied is not None and applied < discharged:
        raise CaseError("inconsistent_dates", "申请日期早于出院（就诊）日期", f"{path}.applied")

    in_policy = _money(c, "in_policy_cost", f"{path}.in_policy_cost", required=True)
    ooc = _money(c, "out_of_catalog_cost", f"{path}.out_of_catalog_cost") or ZERO
    total = _money(c, "total_cost", f"{path}.total_cost")
    basic = _money(c, "basic_insurance_paid", f"{path}.basic_insurance_paid") or ZERO
    critical = _money(c, "critical_illness_paid", f"{path}.critical_illness_paid") or ZERO
    other = _money(c, "other_paid", f"{path}.other_paid") or ZERO
    if basic + critical + other > in_policy:
        raise CaseError(
            "inconsistent_amounts",
            f"基本医保、大病保险和其他保障合计 {basic + critical + other} 超过政策范围内费用 "
            f"{in_policy}",
            f"{path}.in_policy_cost",
        )
    if total is not None and total < in_policy + ooc:
        raise CaseError(
            "inconsistent_amounts",
            f"医疗总费用 {total} 小于政策范围内费用与目录外费用之和 {in_policy + ooc}",
            f"{path}.total_cost",
        )
    return ClaimFacts(
        ref=ref,
        kind=kind,
        discharged=discharged,
        admitted=admitted,
        hospital_level=level,
        hospital_fee_class=fee_class,
        in_area=_bool(c, "in_area", f"{path}.in_area", True),
        in_province=_bool(c, "in_province", f"{path}.in_province", True),
        referred=_bool(c, "referred", f"{path}.referred", True),
        follow_up=_bool(c, "follow_up", f"{path}.follow_up", False),
        emergency=_bool(c, "emergency", f"{path}.emergency", False),
        major_disease=_bool(c, "major_disease", f"{path}.major_disease", False),
        chronic_category=chronic,
        settlement=settlement,
        applied=applied,
        in_policy_cost=in_policy,
        out_of_catalog_cost=ooc,
        total_cost=total if total is not None else in_policy + ooc,
        basic_insurance_paid=basic,
        critical_illness_paid=critical,
        other_paid=other,
    )


def _premium(pack: Pack, raw: Any) -> PremiumRequest:
    p = _object(raw, "premium")
    year = _get(p, "year", "premium.year", required=True)
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 < year < 3000:
        raise CaseError("invalid_field", "year 应为缴费年度（整数）", "premium.year")
    contribution = _money(
        p, "individual_contribution", "premium.individual_contribution", required=True
    )
    on = _date(p, "on", "premium.on", required=True)
    _check_date(pack, on, "premium.on")
    scheme = _get(p, "scheme", "premium.scheme") or "resident"
    if scheme not in ("resident", "employee"):
        raise CaseError("invalid_field", "scheme 应为 resident 或 employee", "premium.scheme")
    return PremiumRequest(
        year=year,
        individual_contribution=contribution,
        on=on,
        already_paid=_bool(p, "already_paid", "premium.already_paid", False),
        scheme=scheme,
    )


def parse_case(data: Any) -> Case:
    """Validate a contract case (a decoded JSON object) and build the frozen `Case`."""
    if not isinstance(data, dict):
        raise CaseError("invalid_json", "案例应为 JSON 对象", None)
    policy = _get(data, "policy", "policy", required=True)
    try:
        pack = load_pack(policy) if isinstance(policy, str) else None
    except KeyError:
        pack = None
    if pack is None:
        raise CaseError("unknown_policy", f"未知的政策：{policy}", "policy")

    raw_params = _get(data, "parameters", "parameters") or {}
    if not isinstance(raw_params, dict):
        raise CaseError("invalid_field", "parameters 应为 JSON 对象", "parameters")
    for name, value in raw_params.items():
        if isinstance(value, bool) or not isinstance(value, str):
            raise CaseError("invalid_field", "参数值应为十进制数字字符串", f"parameters.{name}")
    overrides = Case.overrides(raw_params)
    try:
        pack.parse_overrides(overrides)
    except OverrideError as exc:
        raise CaseError(
            exc.code, f"参数 {exc.name}：{exc.problem}", f"parameters.{exc.name}"
        ) from None

    person_raw = _object(_get(data, "person", "person", required=True), "person")
    person = PersonFacts(
        identities=_identities(pack, person_raw),
        birth_date=_date(person_raw, "birth_date", "person.birth_date"),
    )

    claims_raw = _get(data, "claims", "claims")
    if claims_raw is None:
        claims_raw = []
    if not isinstance(claims_raw, list):
        raise CaseError("invalid_field", "claims 应为数组", "claims")
    claims = tuple(_claim(pack, raw, i) for i, raw in enumerate(claims_raw))
    refs = [c.ref for c in claims]
    for i, ref in enumerate(refs):
        if ref in refs[:i]:
            raise CaseError("invalid_field", f"ref 重复：{ref}", f"claims[{i}].ref")

    premium_raw = _get(data, "premium", "premium")
    premium = _premium(pack, premium_raw) if premium_raw is not None else None
    return Case(policy=policy, person=person, claims=claims, parameters=overrides, premium=premium)


def parse_case_json(text: str | bytes) -> Case:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CaseError("invalid_json", f"无法解析 JSON：{exc}", None) from None
    return parse_case(data)


# --- result -------------------------------------------------------------------------------------
def ratio_text(ratio: Decimal | None) -> str | None:
    if ratio is None:
        return None
    if ratio == ratio.quantize(CENT):
        return f"{ratio.quantize(CENT):f}"
    return f"{ratio.normalize():f}"


def claim_to_dict(decision: ClaimDecision) -> dict[str, Any]:
    return {
        "ref": decision.ref,
        "eligible": decision.eligible,
        "reason": decision.reason.value if decision.reason else None,
        "identity": decision.identity,
        "policy_self_pay": yuan_plain(decision.policy_self_pay),
        "deductible_applied": yuan_plain(decision.deductible_applied),
        "ratio": ratio_text(decision.ratio),
        "assistance": yuan_plain(decision.assistance),
        "tilted_assistance": yuan_plain(decision.tilted_assistance),
        "total": yuan_plain(decision.total),
        "trace": decision.trace,
    }


def premium_to_dict(decision: PremiumDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "identity": decision.identity,
        "subsidy": yuan_plain(decision.subsidy),
        "reason": decision.reason.value if decision.reason else None,
    }


def result_to_dict(result: CaseResult) -> dict[str, Any]:
    """The contract's "Result", field for field; claims in the order the case gave them."""
    return {
        "policy": result.policy,
        "policy_version": result.policy_version,
        "claims": [claim_to_dict(c) for c in result.claims],
        "totals": {
            "assistance": yuan_plain(result.assistance),
            "tilted_assistance": yuan_plain(result.tilted_assistance),
            "total": yuan_plain(result.total),
        },
        "premium": premium_to_dict(result.premium),
    }


def preview(payload: str | bytes | dict) -> dict[str, Any]:
    """Decide a contract case; bad input gives the contract's error body, never an exception."""
    from medaid.policy import decide

    try:
        case = parse_case(payload) if isinstance(payload, dict) else parse_case_json(payload)
    except CaseError as exc:
        return exc.to_dict()
    return result_to_dict(decide(case))
