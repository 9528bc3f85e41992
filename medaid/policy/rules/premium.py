"""Premium subsidy (资助参保): what the assistance fund pays of a resident's contribution.

Kinds of subsidy, by identity (`premium.<identity>.*`):
- `full`: the whole individual contribution (特困 everywhere);
- `amount`: a fixed amount, never more than the contribution (Kunming 120, Zhangye 220/160/100);
- `share` with an optional `floor`: a percentage of the contribution, at least the floor, never
  more than the contribution (Pingshun 第十三条: 低保 80 % at least 280; 返贫致贫 90 %).

The identity is the one held on the decision date (缴费时所属类别, Yunnan （五）,
Baoshan 第八条（三）); with several, the highest subsidy (Baoshan 第八条（三）
按可享受最高资助档次). A person who already paid is refunded only where the pack says
(`premium.refund`): `never` (不退不补), `collection_period` (Pingshun 第三十三条: refund
during the collection period, none after), `always` (Zhangye 三（一）4: subsidised the month
after entering the system, no claw-back).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from medaid.core.money import CENT, ZERO
from medaid.policy.facts import PersonFacts, PremiumRequest
from medaid.policy.parameters import Pack, Snapshot
from medaid.policy.reasons import Reason
from medaid.policy.results import PremiumDecision
from medaid.policy.trace import ident, yuan


def collection_period(snap: Snapshot, year: int) -> tuple[date, date] | None:
    """The collection period for contribution year `year` (it runs in the year before)."""
    start = snap.value("premium.collection_start")
    end = snap.value("premium.collection_end")
    if start is None or end is None:
        return None
    opens = date.fromisoformat(f"{year - 1}-{start}")
    closes = date.fromisoformat(f"{year - 1}-{end}")
    if closes < opens:
        closes = date.fromisoformat(f"{year}-{end}")
    return opens, closes


def _subsidy(snap: Snapshot, code: str, contribution: Decimal):
    """(subsidy or None, reason, explanation, ref) for one identity."""
    prefix = f"premium.{code}."
    full = snap.get(prefix + "full")
    if full is not None and full.value:
        return contribution, None, f"全额资助 {yuan(contribution)}", full.ref
    amount = snap.get(prefix + "amount")
    if amount is not None:
        if amount.value is None:
            return None, Reason.AMOUNT_NOT_SET, "定额资助标准未设置", amount.ref
        paid = min(amount.value, contribution)
        return paid, None, f"定额资助 {yuan(amount.value)}（不超过个人缴费）", amount.ref
    share = snap.get(prefix + "share")
    if share is not None:
        part = (contribution * share.value).quantize(CENT, ROUND_HALF_UP)
        floor = snap.get(prefix + "floor")
        text = f"{yuan(contribution)} × {(share.value * 100).normalize():f}% = {yuan(part)}"
        refs = share.ref
        if floor is not None and part < floor.value:
            text += f"，低于 {yuan(floor.value)} 按 {yuan(floor.value)}"
            part = floor.value
            refs = f"{share.ref}；{floor.ref}"
        if part > contribution:
            text += f"，不超过个人缴费 {yuan(contribution)}"
            part = contribution
        return part, None, text, refs
    return None, Reason.NOT_SUBSIDISED, "该身份不享受资助参保", ""


def decide_premium(
    pack: Pack,
    person: PersonFacts,
    request: PremiumRequest,
    overrides: tuple[tuple[str, str], ...] = (),
) -> PremiumDecision:
    snap = pack.snapshot(request.on, overrides)
    on = request.on
    contribution = request.individual_contribution
    steps: list[tuple] = [
        (
            "text",
            f"资助参保：{request.year} 年度居民医保个人缴费 {yuan(contribution)}，"
            f"以 {on.isoformat()} 缴费（决定）时所属类别为准；{pack.title}，"
            f"{snap.version.start.isoformat()} 起施行的版本",
            snap.version.ref,
        )
    ]

    def done(identity, subsidy, reason, refund=ZERO):
        if reason is not None:
            steps.append(("refused", reason))
        else:
            steps.append(
                (
                    "text",
                    f"资助金额 {yuan(subsidy)}"
                    + (f"，退还个人已缴 {yuan(refund)}" if refund else ""),
                )
            )
        return PremiumDecision(
            identity=identity,
            subsidy=subsidy,
            reason=reason,
            refund=refund,
            year=request.year,
            policy=pack.code,
            policy_version=snap.version.start.isoformat(),
            parameters_hash=snap.digest,
            steps=tuple(steps),
        )

    employee = snap.get("premium.employee_subsidised")
    if request.scheme == "employee" and not (employee and employee.value):
        steps.append(("text", "参加职工基本医疗保险", employee.ref if employee else ""))
        return done(None, ZERO, Reason.EMPLOYEE_INSURANCE)

    if pack.expires is not None and on > pack.expires:
        steps.append(("expired", on, pack.expires, pack.expires_ref))
        return done(None, ZERO, Reason.DATE_AFTER_POLICY)

    held = [p.code for p in person.identities if p.holds_on(on)]
    held = list(dict.fromkeys(held))
    transition_end = snap.get("transition_period_end")
    if transition_end is not None and on > transition_end.value:
        ended = set(snap.value("transition_identities", ()))
        for code in [c for c in held if c in ended]:
            steps.append(
                (
                    "text",
                    f"身份 {ident(code)} 仅在过渡期内享受资助（过渡期至 "
                    f"{transition_end.value.isoformat()}）",
                    transition_end.ref,
                )
            )
        held = [c for c in held if c not in ended]
    if not held:
        return done(None, ZERO, Reason.NO_IDENTITY)
    poverty = snap.get("health_poverty_scheme.identities")
    if poverty is not None and any(c in poverty.value for c in held):
        exempt = set(snap.value("health_poverty_scheme.exempt_identities", ()))
        kept = [c for c in held if c in exempt]
        if not kept:
            steps.append(
                (
                    "text",
                    "同时属于建档立卡贫困人口，仅享受健康扶贫医疗保障待遇，不再资助参保",
                    poverty.ref,
                )
            )
            return done(held[0], ZERO, Reason.HEALTH_POVERTY_SCHEME)
        held = kept

    best: tuple[str, Decimal] | None = None
    unset: str | None = None
    for code in held:
        subsidy, reason, text, ref = _subsidy(snap, code, contribution)
        steps.append(("text", f"身份 {ident(code)}：{text}", ref))
        if subsidy is not None and (best is None or subsidy > best[1]):
            best = (code, subsidy)
        elif reason is Reason.AMOUNT_NOT_SET and unset is None:
            unset = code
    if best is None:
        if unset is not None:
            return done(unset, ZERO, Reason.AMOUNT_NOT_SET)
        return done(held[0], ZERO, Reason.NOT_SUBSIDISED)
    code, subsidy = best
    if len(held) > 1:
        steps.append(
            (
                "text",
                f"多重身份按最高资助档次：取 {ident(code)}",
                pack.refs.get("highest_benefit", ""),
            )
        )

    refund = ZERO
    if request.already_paid:
        policy = snap.get("premium.refund")
        rule = policy.value if policy else "never"
        if rule == "always":
            refund = subsidy
            steps.append(("text", "已缴费的，纳入后次月资助（退还个人已缴部分）", policy.ref))
        elif rule == "collection_period":
            period = collection_period(snap, request.year)
            if period and period[0] <= on <= period[1]:
                refund = subsidy
                steps.append(
                    (
                        "text",
                        f"集中缴费期 {period[0].isoformat()} 至 {period[1].isoformat()} 内，"
                        "按当年资助标准退还个人已缴",
                        policy.ref,
                    )
                )
            else:
                steps.append(("text", "集中缴费期结束后，已缴费的不再退还", policy.ref))
                return done(code, ZERO, Reason.ALREADY_PAID)
        else:
            steps.append(("text", "已缴纳参保费用的不退不补", policy.ref if policy else ""))
            return done(code, ZERO, Reason.ALREADY_PAID)
    return done(code, subsidy.quantize(CENT, ROUND_HALF_UP), None, refund)
