"""Render structured trace steps as the Chinese lines a clerk reads and checks by hand.

The engine records each step as a tuple `(key, *values)` with raw Decimals; nothing here runs
until someone reads `.trace`. Every renderer returns the line and the article references it
used, so the last line can list the articles the decision rests on.

The apps store a trace with every decision (a million of them in a year's recompute), so this is
a hot path too: the parts of a line that only depend on the pack's terms (policy, identity and
kind lines, deductible and tilt wording, the closing list of articles) are rendered once and
cached; amounts take a fast path for the common two-decimal case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from decimal import Decimal

from medaid.core.money import CENT
from medaid.policy.glossary import (
    FEE_CLASS_LABELS,
    IDENTITY_LABELS,
    KIND_LABELS,
    SETTLEMENT_LABELS,
)
from medaid.policy.reasons import Reason

# The labels (IDENTITY_LABELS, KIND_LABELS, FEE_CLASS_LABELS) come from glossary.py.
MODE_LABELS = SETTLEMENT_LABELS


def yuan(amount: Decimal | None) -> str:
    """Money with two decimals; an exact intermediate with more digits keeps them."""
    if amount is None:
        return "—"
    # Fast path: str() of a Decimal with exponent -2 or 0 is already plain notation.
    text = str(amount)
    dot = text.find(".")
    if dot < 0:
        if "E" not in text:
            return text + ".00"
    elif len(text) - dot == 3 and "E" not in text:
        return text
    cents = amount.quantize(CENT)
    if amount == cents:
        return str(cents)  # exponent -2: plain notation
    return f"{amount.normalize():f}"


def plain(amount: Decimal) -> str:
    """A base income or threshold as published: no trailing zeros."""
    text = f"{amount.normalize():f}"
    return text


_PCT: dict[Decimal, str] = {}


def pct(share: Decimal) -> str:
    # Value-keyed cache: the output depends on the value only (0.5 and 0.50 both give 50%).
    text = _PCT.get(share)
    if text is None:
        text = _PCT[share] = f"{(share * 100).normalize():f}%"
    return text


def ident(code: str) -> str:
    return f"{IDENTITY_LABELS.get(code, code)}（{code}）"


def _refs(*refs: str) -> list[str]:
    return [r for r in refs if r]


def _paren(ref: str) -> str:
    return f"（{ref}）" if ref else ""


Line = tuple[str, list[str]]


# Lines and line parts that depend only on the pack's terms. Keys holding `id(obj)` keep `obj`
# alive in the value, so an id is never reused while its entry exists.
_CACHE: dict = {}


def _policy(title, start, ref, digest) -> Line:
    key = ("policy", title, start, ref, digest)
    line = _CACHE.get(key)
    if line is None:
        line = _CACHE[key] = (
            f"政策：{title}，{start.isoformat()} 起施行的版本（{ref}）；参数指纹 {digest}",
            (ref,),
        )
    return line[0], list(line[1])


def _self_pay(claim, self_pay) -> Line:
    return (
        f"项目：{_kind_label(claim.kind)}。政策范围内个人自付 {yuan(self_pay)} = "
        f"政策范围内费用 {yuan(claim.in_policy_cost)} − 基本医保 {yuan(claim.basic_insurance_paid)}"
        f" − 大病保险 {yuan(claim.critical_illness_paid)} − 其他保障 {yuan(claim.other_paid)}",
        [],
    )


def _identity_not_covered(code, short) -> Line:
    return f"身份 {ident(code)} 不是{short}规定的医疗救助对象，不予考虑", []


def _identity_not_held(code, start, end) -> Line:
    until = end.isoformat() if end else "今"
    return f"身份 {ident(code)} 认定期 {start.isoformat()} 至 {until}，不覆盖本次费用日期", []


def _identity_lookback_missed(code, start) -> Line:
    return f"身份 {ident(code)} 于 {start.isoformat()} 认定，本次费用早于可追溯救助的期限", []


def _identity_window_missed(code, applied, opens, ref) -> Line:
    return (
        f"身份 {ident(code)}：依申请救助只覆盖申请日 {applied.isoformat()} 前的费用（自 "
        f"{opens.isoformat()} 起），本次费用早于该期限",
        [ref],
    )


def _identity_transition_ended(code, end, terms) -> Line:
    return (
        f"身份 {ident(code)} 仅在过渡期内享受待遇，过渡期于 {end.isoformat()} 结束"
        f"（{terms.transition_ref}），不予考虑",
        [terms.transition_ref],
    )


def _health_poverty(dropped, exempt, ref) -> Line:
    names = "、".join(ident(c) for c in dropped)
    kept = "、".join(ident(c) for c in exempt)
    return (
        f"同时属于建档立卡贫困人口（脱贫人口），在健康扶贫医疗保障政策执行期间仅享受健康扶贫待遇，"
        f"不再按 {names} 重复救助；{kept or '无'}除外（{ref}）",
        [ref],
    )


def _expired(day, expires, ref) -> Line:
    return (
        f"费用日期 {day.isoformat()} 晚于本政策有效期（至 {expires.isoformat()}）{_paren(ref)}，"
        "应按该日有效的政策救助",
        _refs(ref),
    )


def _tilt_uncovered(ref) -> Line:
    return (
        f"该身份不享受此项目的医疗救助，但其政策范围内个人自付仍计入倾斜救助（{ref}）",
        [ref],
    )


def _kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def _identity(candidate, terms, claim) -> Line:
    code, profile, how, detail = candidate
    if how == "held":
        key = ("identity", id(terms), code, profile)
        cached = _CACHE.get(key)
        if cached is None:
            ref = terms.profile_of[code][1]
            mode, mode_ref = terms.mode[profile]
            cached = _CACHE[key] = (
                terms,
                f"身份：{ident(code)}，出院（就诊）日 ",
                f" 在认定期内；按{terms.label(profile)}标准救助（{ref}）；"
                f"救助方式：{MODE_LABELS.get(mode, mode)}（{mode_ref}）",
                (ref, mode_ref),
            )
        return cached[1] + claim.discharged.isoformat() + cached[2], list(cached[3])
    label = terms.label(profile)
    ref = terms.profile_of[code][1]
    mode, mode_ref = terms.mode[profile]
    discharged, admitted = claim.discharged, claim.admitted
    refs = [ref, mode_ref]
    if how == "held":  # pragma: no cover - handled above
        why = f"出院（就诊）日 {discharged.isoformat()} 在认定期内"
    elif how == "held_at_admission":
        (stay_ref,) = detail
        why = (
            f"入院日 {admitted.isoformat()} 具有该身份、住院期间退出，"
            f"以入院时身份为准（{stay_ref}）"
        )
        refs.append(stay_ref)
    elif how == "reach_back":
        days, back_ref = detail
        why = f"认定之前 {days} 天（含）内发生的费用纳入救助（{back_ref}）"
        refs.append(back_ref)
    else:
        months, window_ref, opens = detail
        why = (
            f"申请之日前 {months} 个月内（{opens.isoformat()} 起）发生的费用纳入救助"
            f"（{window_ref}）"
        )
        refs.append(window_ref)
    return (
        f"身份：{ident(code)}，{why}；按{label}标准救助（{ref}）；"
        f"救助方式：{MODE_LABELS.get(mode, mode)}（{mode_ref}）",
        refs,
    )


def _alternatives(options, chosen, ref) -> Line:
    parts = []
    for code, label, total, reason in options:
        if total is None:
            parts.append(f"{ident(code)}[{label}] 不予救助：{Reason(reason).text}")
        else:
            parts.append(f"{ident(code)}[{label}] 可得 {yuan(total)}")
    return (
        f"多重身份按就高不就低、不重复救助{_paren(ref)}：{'；'.join(parts)} → 取 {ident(chosen)}",
        _refs(ref),
    )


def _kind(kind, ref, level) -> Line:
    key = ("kind", kind, ref, level)
    text = _CACHE.get(key)
    if text is None:
        text = _CACHE[key] = f"救助项目：{_kind_label(kind)}，{level}级医疗机构（{ref}）"
    return text, [ref]


def _kind_refused(kind, level, covered) -> Line:
    names = "、".join(KIND_LABELS.get(k, k) for k in sorted(covered))
    return (
        f"该身份可享受的救助项目：{names or '无'}；"
        f"本次为{level}级医疗机构{KIND_LABELS.get(kind, kind)}",
        [],
    )


def _deductible(amount, counted, left, applied, route) -> Line:
    name = "重特大疾病住院救助起付线" if route == "major_disease" else "起付标准"
    if not amount.value:
        key = ("no_deductible", name, amount.ref)
        text = _CACHE.get(key)
        if text is None:
            text = _CACHE[key] = f"{name}：不设（{amount.ref}）"
        return text, [amount.ref]
    if amount.base is not None:
        head = (
            f"{name} {yuan(amount.value)} = {plain(amount.base)}{amount.base_note}"
            f" × {pct(amount.share)}"
        )
    else:
        head = f"{name} {yuan(amount.value)}"
    return (
        f"{head}（{amount.ref}）；本年已累计计入 {yuan(counted)}，剩余 {yuan(left)}，"
        f"本次扣除 {yuan(applied)}",
        [amount.ref],
    )


def _deductible_none() -> Line:
    return "起付标准：不设起付标准", []


def _ratio(rate, self_pay, applied, amount) -> Line:
    share = pct(rate.value)
    base = f"({yuan(self_pay)} − 起付 {yuan(applied)})" if applied else yuan(self_pay)
    return f"救助比例 {share}（{rate.ref}）：{base} × {share} = {yuan(amount)}", [rate.ref]


def _top_up(rate, in_policy, insurance, before, extra) -> Line:
    target = in_policy * rate.value
    return (
        f"综合支付比例补足到 {pct(rate.value)}（{rate.ref}）：{yuan(in_policy)} × {pct(rate.value)}"
        f" = {yuan(target)}，减基本医保与大病保险 {yuan(insurance)}、按比例救助 {yuan(before)}，"
        f"补足 {yuan(extra)}",
        [rate.ref],
    )


def _out_of_catalog(
    fee_class, assumed, limit, limit_ref, total, ooc, ceiling, within, share, share_ref, amount
) -> Line:
    label = FEE_CLASS_LABELS.get(fee_class, fee_class)
    note = "（未提供收费类别，按最严格类别计）" if assumed else ""
    text = (
        f"目录外费用控制（{limit_ref}）：{label}收费标准{note}，上限 {pct(limit)} × 总费用 "
        f"{yuan(total)} = {yuan(ceiling)}；目录外费用 {yuan(ooc)}，超出部分 "
        f"{yuan(max(ooc - ceiling, Decimal(0)))} 由医疗机构承担"
    )
    refs = [limit_ref]
    if share is not None:
        text += f"；控制比例内 {yuan(within)} × {pct(share)} = {yuan(amount)}（{share_ref}）"
        refs.append(share_ref)
    return text, refs


def _route_choice(chosen, chosen_amount, other_amount, ref) -> Line:
    names = {"general": "普通住院救助", "major_disease": "重特大疾病住院救助"}
    other = "general" if chosen == "major_disease" else "major_disease"
    return (
        f"符合多种救助条件按就高{_paren(ref)}：{names[chosen]} {yuan(chosen_amount)}，"
        f"{names[other]} {yuan(other_amount)} → 取{names[chosen]}，只占用其限额",
        _refs(ref),
    )


def _cap(pool_label, cap, used, left, raw, exact) -> Line:
    if cap is None:
        return f"年度救助限额（{pool_label}）：不设限额；本次应救助 {yuan(raw)}", []
    head = f"年度救助限额（{pool_label}）{yuan(cap.value)}"
    if cap.base is not None:
        head += f" = {plain(cap.base)}{cap.base_note} × {pct(cap.share)}"
    limited = "，受限额限制" if exact < raw else ""
    return (
        f"{head}（{cap.ref}）：本年已用 {yuan(used)}，剩余 {yuan(left)}；本次应救助 {yuan(raw)}"
        f" → {yuan(exact)}{limited}",
        [cap.ref],
    )


def _route(result, self_pay, terms) -> list[Line]:
    """The lines of one route's computation (rules/benefit.RouteResult)."""
    pool_label = terms.pool_labels.get(result.pool, result.pool)
    out: list[Line] = []
    if result.deductible is None:
        out.append(_deductible_none())
    else:
        out.append(
            _deductible(
                result.deductible,
                result.deductible.value - result.deductible_left,
                result.deductible_left,
                result.deductible_applied,
                result.route,
            )
        )
    out.append(_ratio(result.ratio, self_pay, result.deductible_applied, result.ratio_amount))
    if result.top_up_rate is not None:
        out.append(
            _top_up(
                result.top_up_rate,
                result.top_up_base,
                result.top_up_insurance,
                result.ratio_amount,
                result.top_up,
            )
        )
    if result.ooc_step is not None:
        out.append(_out_of_catalog(*result.ooc_step))
    out.append(_cap(pool_label, result.cap, result.used, result.cap_left, result.raw, result.exact))
    out.append(_rounding(result.exact, result.assistance))
    return out


def _rounding(exact, rounded) -> Line:
    return f"舍入：{yuan(exact)} → {yuan(rounded)}（四舍五入到分）", []


def _tilt_parts(terms) -> tuple:
    key = ("tilt", id(terms))
    cached = _CACHE.get(key)
    if cached is None:
        threshold = terms.threshold
        if threshold.base is not None:
            line = (
                f"{yuan(threshold.value)}（= {plain(threshold.base)}{threshold.base_note}"
                f" × {pct(threshold.share)}）"
            )
        else:
            line = yuan(threshold.value)
        cap = (
            f"，年度倾斜救助限额 {yuan(terms.cap.value)}" if terms.cap is not None else "，不设限额"
        )
        outside = "，不计入年度救助限额" if terms.outside_annual_cap else ""
        cached = _CACHE[key] = (
            terms,
            f"倾斜救助（{terms.ratio.ref}）：本次三重制度保障后政策内自付 ",
            f"，超过 {line} 的部分 ",
            f" × {pct(terms.ratio.value)} = ",
            f"{cap}{outside}；本年已付 ",
            tuple(_refs(terms.ratio.ref, threshold.ref, terms.cap.ref if terms.cap else "")),
        )
    return cached


def _tilt(terms, left, cumulative, entitled, paid_before, amount) -> Line:
    _, head, over_text, times, tail, refs = _tilt_parts(terms)
    over = cumulative - terms.threshold.value
    return (
        f"{head}{yuan(left)}，本年累计 {yuan(cumulative)}{over_text}"
        f"{yuan(over if over > 0 else Decimal(0))}{times}{yuan(entitled)}{tail}"
        f"{yuan(paid_before)}，本次 {yuan(amount)}",
        list(refs),
    )


def _tilt_not_qualified(terms) -> Line:
    return (
        f"倾斜救助（{terms.ratio.ref}）：本次不是规范转诊且在省内就医，不计入倾斜救助",
        [terms.ratio.ref],
    )


def _deadline(applied, last_day, days, ref) -> Line:
    late = "，已超过时限" if applied > last_day else "，在时限内"
    return (
        f"手工报销：{applied.isoformat()} 申请，时限为出院后 {days} 日即 {last_day.isoformat()}"
        f"（{ref}）{late}",
        [ref],
    )


def _not_referred(ref, exceptions) -> Line:
    names = {"follow_up": "复诊", "emergency": "急诊抢救"}
    exempt = "、".join(names[e] for e in exceptions)
    tail = f"，且不属于{exempt}" if exempt else ""
    return f"未按规定转诊{tail}（{ref}）", [ref]


def _total(assistance, tilt) -> Line:
    return (
        f"本次医疗救助 {yuan(assistance)} + 倾斜救助 {yuan(tilt)} = {yuan(assistance + tilt)}",
        [],
    )


def _refused(reason) -> Line:
    reason = Reason(reason)
    return f"不予救助：{reason.text}（{reason.value}）", []


def _text(text, *refs) -> Line:
    return text, _refs(*refs)


RENDERERS: dict[str, Callable[..., Line]] = {
    "policy": _policy,
    "self_pay": _self_pay,
    "identity_not_covered": _identity_not_covered,
    "identity_not_held": _identity_not_held,
    "identity_lookback_missed": _identity_lookback_missed,
    "identity_window_missed": _identity_window_missed,
    "identity_transition_ended": _identity_transition_ended,
    "health_poverty": _health_poverty,
    "expired": _expired,
    "tilt_uncovered": _tilt_uncovered,
    "identity": _identity,
    "alternatives": _alternatives,
    "kind": _kind,
    "kind_refused": _kind_refused,
    "route_choice": _route_choice,
    "route": _route,
    "tilt": _tilt,
    "tilt_not_qualified": _tilt_not_qualified,
    "deadline": _deadline,
    "not_referred": _not_referred,
    "total": _total,
    "refused": _refused,
    "text": _text,
}


def _lines(steps: Iterable[tuple]) -> list[Line]:
    lines: list[Line] = []
    for step in steps:
        rendered = RENDERERS[step[0]](*step[1:])
        if isinstance(rendered, list):
            lines.extend(rendered)
        else:
            lines.append(rendered)
    return lines


def articles(steps: Iterable[tuple]) -> list[str]:
    seen: dict[str, None] = {}
    for _, refs in _lines(steps):
        for ref in refs:
            seen.setdefault(ref, None)
    return list(seen)


def render(steps: Iterable[tuple]) -> list[str]:
    lines = _lines(steps)
    out = []
    refs: list[str] = []
    for text, line_refs in lines:
        out.append(text)
        refs += line_refs
    if refs:
        key = ("articles", *refs)
        closing = _CACHE.get(key)
        if closing is None:
            closing = _CACHE[key] = "依据条款：" + "；".join(dict.fromkeys(refs))
        out.append(closing)
    return out


# --- a stored trace as a person reads it ----------------------------------------------------

CLOSING_PREFIX = "依据条款："
_FINGERPRINT = re.compile(r"[；;，,]\s*参数指纹\s*[0-9a-fA-F]+")
# A canonical code in brackets after its Chinese label: 「低保边缘家庭成员（dibao_edge）」.
_CODE = re.compile(r"\s?[（(][a-z][a-z0-9_]*[）)]")


def for_people(lines: Iterable[str]) -> list[str]:
    """A stored trace as staff and citizens read it: every step in words, without the
    parameter fingerprint or the codes (the decision keeps both in its own fields)."""
    return [_CODE.sub("", _FINGERPRINT.sub("", line)) for line in lines or ()]


def cited(lines: Iterable[str]) -> str:
    """The articles a decision rests on (the trace's closing line), or ""."""
    for line in lines or ():
        if line.startswith(CLOSING_PREFIX):
            return line[len(CLOSING_PREFIX) :]
    return ""
