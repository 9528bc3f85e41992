"""The rules a claim's dates and amounts must keep, shared by declarations, counter applications and
corrections; and which policy pack covers a day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from beneficiaries.selectors import area_schedules
from claims.models import (
    CLAIM_AMOUNT_FIELDS,
    CLAIM_MONEY_FIELDS,
    CLAIM_PAID_FIELDS,
    LineError,
)
from medaid.core import validators
from medaid.core.money import ZERO
from medaid.policy import load_pack

# --- the rules a claim's figures keep ---------------------------------------------------------
#
# One list, read two ways: `claim_figures_errors` evaluates it on one claim (a counter receipt, a
# correction) and `figure_checks_sql` turns it into one set-based UPDATE over a declaration's
# staged lines. A condition is evaluated in Python with SQL's NULL logic (a comparison with a
# missing figure is unknown, and an unknown condition does not flag), so both ways refuse the
# same claims for the same first reason.

MONEY_FIELDS = CLAIM_MONEY_FIELDS


class Term:
    """A value in a rule: evaluated on a claim's dict, or written as SQL over its columns."""

    def value(self, data: dict):
        raise NotImplementedError

    def sql(self) -> str:
        raise NotImplementedError

    def __add__(self, other: Term) -> Term:
        return Sum(self, other)

    def __lt__(self, other: Term) -> Condition:
        return Condition("<", self, other)

    def __gt__(self, other: Term) -> Condition:
        return Condition(">", self, other)


class Figure(Term):
    """A claim figure; `or_zero`: a missing figure counts as 0 (COALESCE)."""

    def __init__(self, name: str, *, or_zero: bool = False):
        assert name.isidentifier(), name
        self.name, self.or_zero = name, or_zero

    def value(self, data: dict):
        value = data.get(self.name)
        return ZERO if value is None and self.or_zero else value

    def sql(self) -> str:
        return f"COALESCE({self.name}, 0)" if self.or_zero else self.name


class Sum(Term):
    def __init__(self, *parts: Term):
        self.parts = parts

    def value(self, data: dict):
        values = [p.value(data) for p in self.parts]
        return None if None in values else sum(values, ZERO)

    def sql(self) -> str:
        # Rounded to the cent: SQLite adds decimals as binary floats (1162.96 + 96.88 is a hair
        # above 1259.84), PostgreSQL's numeric is exact either way.
        return "ROUND(" + " + ".join(p.sql() for p in self.parts) + ", 2)"


class Zero(Term):
    def value(self, data: dict):
        return ZERO

    def sql(self) -> str:
        return "0"


class Condition:
    """`left op right`, or `IS NULL` (op "null"); `holds` is True, False or None (unknown)."""

    def __init__(self, op: str, left: Term, right: Term | None = None):
        self.op, self.left, self.right = op, left, right

    def holds(self, data: dict) -> bool | None:
        left = self.left.value(data)
        if self.op == "null":
            return left is None
        right = self.right.value(data)
        if left is None or right is None:
            return None
        return left < right if self.op == "<" else left > right

    def sql(self) -> str:
        if self.op == "null":
            return f"{self.left.sql()} IS NULL"
        return f"{self.left.sql()} {self.op} {self.right.sql()}"


def missing(name: str) -> Condition:
    return Condition("null", Figure(name))


class Rule:
    """A named problem of a claim's figures: its code (`LineError`), the condition that shows
    it, and the detail added to the label (the figure concerned) in the message."""

    def __init__(self, code: LineError, condition: Condition, detail: str = ""):
        self.code, self.condition, self.detail = code, condition, detail

    @property
    def message(self) -> str:
        label = LineError(self.code).label
        return f"{label}：{self.detail}" if self.detail else label


def f(name: str) -> Figure:
    return Figure(name)


def f0(name: str) -> Figure:
    return Figure(name, or_zero=True)


# In order: a claim's (or line's) reason is the first rule it breaks.
FIGURE_RULES: tuple[Rule, ...] = (
    # Every assistance starts from the in-policy cost: a claim without it is incomplete, not a
    # claim of 0 (a declaration file's reader refuses it as well, before any figure is read).
    Rule(LineError.MISSING_FIELD, missing("in_policy_cost"), "in_policy_cost"),
    *(Rule(LineError.NEGATIVE_AMOUNT, f(name) < Zero(), name) for name in CLAIM_AMOUNT_FIELDS),
    Rule(LineError.DISCHARGE_BEFORE_ADMISSION, f("discharged") < f("admitted")),
    Rule(
        LineError.PAID_EXCEEDS_COST,
        Sum(*(f0(name) for name in CLAIM_PAID_FIELDS)) > f("in_policy_cost"),
    ),
    # A missing total is in-policy + out-of-catalogue (the merge fills it so): nothing to check.
    Rule(
        LineError.COST_MISMATCH, f("in_policy_cost") + f0("out_of_catalog_cost") > f("total_cost")
    ),
)


def claim_facts_check(data: dict, *, today: dt.date) -> None:
    """The facts of one claim (a counter receipt, a correction) as `medaid.core.validators`
    takes them: the stay happened (no later than today), lasted no longer than a stay can, each
    amount has at most two decimals and a sane size, the receipt text fits and is clean. Raises
    the first refusal, naming its field."""
    from claims.models import Claim

    def label(name: str) -> str:
        return str(Claim._meta.get_field(name).verbose_name)

    for name in ("admitted", "discharged"):
        validators.day(data.get(name), field=name, label=label(name), today=today)
    admitted, discharged = data.get("admitted"), data.get("discharged")
    if admitted and discharged and admitted <= discharged:
        validators.period(
            admitted,
            discharged,
            field="discharged",
            start_label=label("admitted"),
            end_label=label("discharged"),
            max_days=validators.MAX_STAY_DAYS,
        )
    for name in CLAIM_MONEY_FIELDS:
        if name in data:
            validators.money(data[name], field=name, label=label(name), negative=True)
    if "receipt_numbers" in data:
        validators.text(
            data["receipt_numbers"],
            field="receipt_numbers",
            label=label("receipt_numbers"),
            max_length=Claim._meta.get_field("receipt_numbers").max_length,
        )


def claim_figures_errors(data: dict) -> list[tuple[str, str]]:
    """The named problems in a claim's dates and amounts (empty when they add up), first
    broken rule first: (code, Chinese message)."""
    return [(rule.code, rule.message) for rule in FIGURE_RULES if rule.condition.holds(data)]


def _literal(text: str) -> str:
    assert text == "" or text.isidentifier(), text
    return f"'{text}'"


def figure_checks_sql() -> tuple[str, str, str]:
    """FIGURE_RULES as SQL over a table with the claim figures' columns: (the error code's
    CASE, the error detail's CASE, the WHERE condition of a row that breaks any rule)."""
    conditions = [rule.condition.sql() for rule in FIGURE_RULES]
    error = " ".join(
        f"WHEN {c} THEN {_literal(r.code)}" for c, r in zip(conditions, FIGURE_RULES, strict=True)
    )
    detail = " ".join(
        f"WHEN {c} THEN {_literal(r.detail)}" for c, r in zip(conditions, FIGURE_RULES, strict=True)
    )
    where = " OR ".join(f"({c})" for c in conditions)
    return f"CASE {error} END", f"CASE {detail} ELSE '' END", where


def policy_window(policy_code: str) -> tuple[dt.date, dt.date | None] | None:
    """The days the pack's versions cover (first day, expiry or None); None when no such pack."""
    try:
        pack = load_pack(policy_code)
    except (LookupError, ValueError, OSError):
        return None
    return pack.first_day, pack.expires


def policy_covers(policy_code: str, day: dt.date) -> bool:
    window = policy_window(policy_code)
    return window is not None and window[0] <= day and (window[1] is None or day <= window[1])


def counties_by_policy(county_model, on: dt.date | None = None) -> dict[str, list[int]]:
    """Counties by the pack deciding their pooling area's claims on `on` (the area's dated
    assignment, beneficiaries.PoolingAreaPolicy), or by the area's `policy_code`."""
    schedules = area_schedules() if on is not None else {}
    out: dict[str, list[int]] = defaultdict(list)
    rows = county_model.objects.values_list("id", "pooling_area_id", "pooling_area__policy_code")
    for county_id, area_id, code in rows:
        out[schedules[area_id].on(on).code if on is not None else code].append(county_id)
    return out


def counties_by_coverage(county_model) -> dict[tuple, list[int]]:
    """Counties by the days some pack of their pooling area covers: ((first, last or None), …)
    — each dated assignment's stretch, cut to its pack's validity; an empty tuple: none."""
    coverage: dict[int, tuple] = {}
    for area_id, schedule in area_schedules().items():
        ranges = []
        policies = schedule.policies
        for i, area_policy in enumerate(policies):
            window = policy_window(area_policy.code)
            if window is None:
                continue
            first, last = window
            if area_policy.start is not None:
                first = max(first, area_policy.start)
            following = next((p.start for p in policies[i + 1 :]), None)
            if following is not None:
                until = following - dt.timedelta(days=1)
                last = until if last is None else min(last, until)
            if last is None or first <= last:
                ranges.append((first, last))
        coverage[area_id] = tuple(ranges)
    out: dict[tuple, list[int]] = defaultdict(list)
    for county_id, area_id in county_model.objects.values_list("id", "pooling_area_id"):
        out[coverage[area_id]].append(county_id)
    return out
