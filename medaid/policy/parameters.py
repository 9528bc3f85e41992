"""Date-ranged pack parameters, OpenFisca-style.

A pack is a folder of YAML files (`packs/<code>/`). `pack.yaml` holds the metadata and the
versions; every other file holds parameters. A parameter is a mapping with `values:` keyed by
effective date, each value carrying the article it comes from:

    deductible:
      class_3:
        unit: share_of_base
        values:
          2023-01-01: {value: "0.10", ref: "保政办规〔2022〕2号 第十条"}

Parameter names are the dotted paths (`deductible.class_3`). Money and ratios are decimal
strings: a YAML float or integer is rejected, because 0.1 as a float is not 0.10. Every name
must match `SCHEMA`, which fixes its type; a pack that does not load cleanly is refused with the
file, the key and the problem named, before any claim is decided.

`Pack.snapshot(day, overrides)` resolves every parameter in force on `day` once per
date-range; the compiled rules (`rules.terms`) are cached on the same key, so the hot path never
re-reads YAML or walks dates. Finding, validating and caching packs is `loader.py`'s.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from medaid.policy.errors import OverrideError, PackError
from medaid.policy.glossary import (
    CLAIM_KINDS,
    DEPARTMENT_KINDS,
    FEE_CLASSES,
    FUND_ACCOUNTS,
    FUND_DEADLINE_KINDS,
    IDENTITY_CODES,
    SETTLEMENTS,
)

_NAME_PART = re.compile(r"^[a-z][a-z0-9_]*$")
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_DECIMAL_TEXT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


# --- schema -----------------------------------------------------------------------------------
# Each parameter name matches one pattern; the pattern fixes the type of its values.
#   amount  decimal yuan >= 0; may declare `unit: share_of_base` (a share of the base income)
#   share   decimal in [0, 1]          factor  decimal >= 0        count  whole number >= 0
#   flag    true / false               month_day "MM-DD"      date  "YYYY-MM-DD"
#   one:<set> / many:<set>  one code or a list of codes from a fixed set; the sets named
#   "profile", "pool" and "route" are the pack's own and are checked when the pack compiles.
_LEVEL = r"level_[123]"
_ID = r"[a-z][a-z0-9_]*"
_DEADLINE = "(" + "|".join(sorted(FUND_DEADLINE_KINDS)) + ")"
SCHEMA: tuple[tuple[str, str, bool], ...] = (
    # (pattern, type, nullable)
    (r"per_capita_disposable_income", "amount", False),
    (r"base_rounding", "one:base_rounding", False),
    (r"pooling_area_per_capita_disposable_income", "amount", True),
    (r"urban_per_capita_disposable_income", "amount", False),
    (r"transition_period_end", "date", False),
    (r"transition_identities", "many:identity", False),
    (r"health_poverty_scheme\.identities", "many:identity", False),
    (r"health_poverty_scheme\.exempt_identities", "many:identity", False),
    (rf"identity\.{_ID}", "one:profile", False),
    (rf"mode\.{_ID}", "one:mode", False),
    (rf"kinds\.{_ID}", "many:kind", False),
    (rf"hospital_levels\.{_ID}", "many:level", False),
    (rf"min_age\.{_ID}\.{_ID}", "count", False),
    (rf"min_age_waived_by\.{_ID}\.{_ID}", "many:identity", False),
    (rf"deductible\.{_ID}", "amount", False),
    (r"deductible_kinds", "many:kind", False),
    (rf"ratio\.{_ID}(\.{_ID})?(\.{_LEVEL})?", "share", False),
    (rf"pool\.{_ID}", "many:kind", False),
    (rf"annual_cap\.{_ID}(\.{_ID})?", "amount", True),
    (rf"annual_cap_major_disease\.{_ID}", "amount", False),
    (r"referral\.required", "flag", False),
    (r"referral\.outside_area_only", "flag", False),
    (r"referral\.exceptions", "many:referral_exception", False),
    (r"identity_on_stay", "one:stay_rule", False),
    (rf"reach_back_days\.{_ID}", "count", False),
    (rf"application_window_months\.{_ID}", "count", False),
    (r"manual_claim\.deadline_days", "count", True),
    (r"manual_claim\.batch_from_last_discharge", "flag", False),
    (r"tilt\.threshold", "amount", False),
    (r"tilt\.ratio", "share", False),
    (r"tilt\.annual_cap", "amount", True),
    (r"tilt\.kinds", "many:kind", False),
    (r"tilt\.profiles", "many:profile", False),
    (r"tilt\.outside_annual_cap", "flag", False),
    (r"tilt\.local_without_referral", "flag", False),
    (r"tilt\.requires_in_province", "flag", False),
    (r"tilt\.counts_uncovered_kinds", "flag", False),
    (r"major_route\.profiles", "many:profile", False),
    (r"major_route\.kinds", "many:kind", False),
    (rf"major_route\.deductible\.{_ID}", "amount", False),
    (rf"major_route\.ratio\.{_ID}(\.{_LEVEL})?", "share", False),
    (r"major_route\.pool", "one:pool", False),
    (r"major_route\.tie_prefers", "one:route", False),
    (rf"top_up\.combined_ratio\.{_ID}", "share", False),
    (r"top_up\.kinds", "many:kind", False),
    (r"top_up\.requires_in_province", "flag", False),
    (rf"out_of_catalog\.control\.{_ID}", "share", False),
    (r"out_of_catalog\.control_profiles", "many:profile", False),
    (r"out_of_catalog\.unknown_fee_class_as", "one:fee_class", False),
    (rf"out_of_catalog\.assistance\.{_ID}", "share", False),
    (r"out_of_catalog\.kinds", "many:kind", False),
    (r"out_of_catalog\.requires_in_province", "flag", False),
    (rf"premium\.{_ID}\.full", "flag", False),
    (rf"premium\.{_ID}\.amount", "amount", True),
    (rf"premium\.{_ID}\.share", "share", False),
    (rf"premium\.{_ID}\.floor", "amount", False),
    (r"premium\.refund", "one:refund", False),
    (r"premium\.collection_start", "month_day", False),
    (r"premium\.collection_end", "month_day", False),
    (r"premium\.employee_subsidised", "flag", False),
    (r"monitoring\.basis", "one:monitoring_basis", False),
    (r"monitoring\.key_threshold", "amount", True),
    (r"monitoring\.other_threshold", "amount", True),
    (r"monitoring\.key_identities", "many:identity", False),
    (r"monitoring\.rural_only_identities", "many:identity", False),
    (r"monitoring\.rural_insured_only", "flag", False),
    (r"monitoring\.push_before_day", "count", False),
    (r"monitoring\.departments", "many:department", False),
    (rf"funds\.deadline\.{_DEADLINE}\.working_days", "count", False),
    (rf"funds\.deadline\.{_DEADLINE}\.days", "count", False),
    (rf"funds\.deadline\.{_DEADLINE}\.month_day", "month_day", False),
    (rf"funds\.deadline\.{_DEADLINE}\.quarter_end", "flag", False),
    (r"funds\.settlement_paid_from", "one:fund_account", False),
    (r"funds\.tier_city_share\.tier_[1-9]", "share", False),
    (r"funds\.overspend\.method", "one:overspend_method", False),
    (r"funds\.overspend\.surplus_level", "one:fund_level", False),
    (r"funds\.overspend\.city_covers_all_up_to", "share", False),
    (r"funds\.overspend\.shared_up_to", "share", False),
    (r"funds\.overspend\.city_share_when_shared", "share", False),
    (r"funds\.overspend\.band_applies_to_whole", "flag", False),
    (r"certification\.window_days", "count", False),
    (r"certification\.cost_share_of_base", "share", False),
    (r"certification\.income_multiple_of_dibao", "factor", False),
    (r"certification\.assets_multiple_of_urban_income", "factor", False),
    (r"certification\.reach_back_days", "count", False),
)
_COMPILED_SCHEMA = tuple((re.compile(f"^{p}$"), t, n) for p, t, n in SCHEMA)

_FIXED_SETS: dict[str, frozenset[str]] = {
    "mode": SETTLEMENTS,
    "kind": CLAIM_KINDS,
    "level": frozenset({"1", "2", "3"}),
    "identity": IDENTITY_CODES,
    "referral_exception": frozenset({"follow_up", "emergency"}),
    "stay_rule": frozenset({"discharge", "admission_or_discharge"}),
    "route": frozenset({"general", "major_disease"}),
    "fee_class": FEE_CLASSES,
    "refund": frozenset({"never", "collection_period", "always"}),
    "monitoring_basis": frozenset({"annual", "single_stay"}),
    "department": DEPARTMENT_KINDS,
    "fund_account": FUND_ACCOUNTS,
    "fund_level": frozenset({"city", "county"}),
    "overspend_method": frozenset({"bands", "surplus_then_county", "tier_shares"}),
    "base_rounding": frozenset({"cent", "yuan"}),
}
#: Sets whose members the pack itself defines; checked when the pack compiles.
PACK_SETS = frozenset({"profile", "pool"})

# share_of_pooling_area_income: a share of `pooling_area_per_capita_disposable_income` (Yunnan
# （十二）), or of the provincial base while the pooling area has not set its figure.
UNITS = frozenset({"yuan", "share_of_base", "share_of_pooling_area_income"})


def schema_for(name: str) -> tuple[str, bool] | None:
    for pattern, kind, nullable in _COMPILED_SCHEMA:
        if pattern.match(name):
            return kind, nullable
    return None


# --- values -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Value:
    """One value of a parameter, in force from `start` until the next value's start."""

    start: date
    value: Any
    ref: str
    unit: str = "yuan"
    #: The parameter change this value came from (`Amendment.key`); "" for the YAML's own.
    amendment: str = ""


@dataclass(frozen=True, slots=True)
class Amendment:
    """A dated value entered after the pack shipped (a parameter change, approved or a draft).

    It overlays the pack's YAML: from `start` the parameter takes `value` (text, parsed by the
    parameter's kind; an amount in the unit of the value it follows unless `unit` says) and the
    trace cites `ref`, the document that published it. `key` names the change (e.g. "变更12"),
    so a decision can say which changes it was made under. A node name (e.g. `annual_cap`)
    sets every amount leaf under it that has a value, as the preview contract's overrides do.
    """

    parameter: str
    start: date
    value: str
    ref: str
    key: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    kind: str
    values: tuple[Value, ...]
    file: str

    def at(self, day: date) -> Value | None:
        starts = [v.start for v in self.values]
        i = bisect.bisect_right(starts, day) - 1
        return self.values[i] if i >= 0 else None


def _parse_decimal(raw: Any, where: str, file: Path | str) -> Decimal:
    if isinstance(raw, (bool, int | float)):
        raise PackError(
            file,
            where,
            f"{raw!r} is a YAML number; write amounts and ratios as quoted decimal strings "
            f'(e.g. "{raw}") so they stay exact',
        )
    if not isinstance(raw, str) or not _DECIMAL_TEXT.match(raw.strip()):
        raise PackError(file, where, f"{raw!r} is not a decimal string")
    try:
        return Decimal(raw.strip())
    except InvalidOperation as exc:  # pragma: no cover - the regex already filters
        raise PackError(file, where, f"{raw!r} is not a decimal string") from exc


def parse_value(kind: str, raw: Any, where: str, file: Path | str) -> Any:
    """Turn one raw YAML value into its typed form, or raise PackError naming the problem."""
    if kind in ("amount", "share", "factor"):
        number = _parse_decimal(raw, where, file)
        if number < 0:
            raise PackError(file, where, f"{raw!r} is negative")
        if kind == "share" and number > 1:
            raise PackError(file, where, f"{raw!r} is a share and must be between 0 and 1")
        return number
    if kind == "count":
        if isinstance(raw, bool) or not isinstance(raw, str) or not raw.isdigit():
            raise PackError(file, where, f"{raw!r} must be a whole number written as a string")
        return int(raw)
    if kind == "flag":
        if not isinstance(raw, bool):
            raise PackError(file, where, f"{raw!r} must be true or false")
        return raw
    if kind == "date":
        if not isinstance(raw, str):
            raise PackError(file, where, f'{raw!r} must be a date "YYYY-MM-DD"')
        return _as_date(raw, where, file)
    if kind == "month_day":
        if not isinstance(raw, str) or not _MONTH_DAY.match(raw):
            raise PackError(file, where, f'{raw!r} must be a month and day "MM-DD"')
        return raw
    arity, _, set_name = kind.partition(":")
    items = [raw] if arity == "one" else raw
    if arity == "many" and not isinstance(raw, list):
        raise PackError(file, where, f"{raw!r} must be a list of codes")
    for item in items:
        if not isinstance(item, str):
            raise PackError(file, where, f"{item!r} must be a code written as a string")
        allowed = _FIXED_SETS.get(set_name)
        if allowed is not None and item not in allowed:
            raise PackError(
                file, where, f"{item!r} is not a known {set_name} (one of {sorted(allowed)})"
            )
    return raw if arity == "one" else tuple(raw)


def _as_date(raw: Any, where: str, file: Path | str) -> date:
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise PackError(file, where, f"{raw!r} is not an ISO date (YYYY-MM-DD)")


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is reported with its key, and refuses
    a key written twice in one mapping: plain YAML keeps the last one silently, which would
    hide two values for the same parameter and date (an overlap)."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(file: Path) -> Any:
    try:
        with file.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise PackError(file, "(file)", f"not valid YAML: {exc}") from exc


def _leaf(name: str, node: dict, file: Path) -> Parameter:
    spec = schema_for(name)
    if spec is None:
        raise PackError(file, name, "unknown parameter name (not in parameters.SCHEMA)")
    kind, nullable = spec
    extra = set(node) - {"values", "unit", "description"}
    if extra:
        raise PackError(file, name, f"unexpected keys {sorted(extra)} beside 'values'")
    unit = node.get("unit", "yuan")
    if unit not in UNITS or (unit != "yuan" and kind != "amount"):
        raise PackError(file, f"{name}.unit", f"{unit!r} is not a unit this parameter can take")
    raw_values = node["values"]
    if not isinstance(raw_values, dict) or not raw_values:
        raise PackError(file, f"{name}.values", "must map effective dates to values")
    values: list[Value] = []
    for raw_day, entry in raw_values.items():
        day = _as_date(raw_day, f"{name}.values", file)
        where = f"{name}.values.{day.isoformat()}"
        if not isinstance(entry, dict) or set(entry) - {"value", "ref"} or "value" not in entry:
            raise PackError(file, where, "each value must be {value: ..., ref: ...}")
        ref = entry.get("ref")
        if not isinstance(ref, str) or not ref.strip():
            raise PackError(file, f"{where}.ref", "missing the article reference (ref)")
        raw = entry["value"]
        if raw is None:
            if not nullable:
                raise PackError(file, f"{where}.value", "null is not allowed here")
            value = None
        else:
            value = parse_value(kind, raw, f"{where}.value", file)
        values.append(Value(day, value, ref.strip(), unit))
    values.sort(key=lambda v: v.start)
    return Parameter(name, kind, tuple(values), str(file))


def _walk(node: Any, prefix: str, file: Path, out: dict[str, Parameter]) -> None:
    if not isinstance(node, dict):
        raise PackError(file, prefix or "(top)", "expected a mapping")
    if "values" in node:
        if prefix in out:
            raise PackError(file, prefix, f"defined twice (also in {out[prefix].file})")
        out[prefix] = _leaf(prefix, node, file)
        return
    for key, child in node.items():
        if not isinstance(key, str) or not _NAME_PART.match(key):
            raise PackError(file, f"{prefix}.{key}" if prefix else str(key), "bad key name")
        _walk(child, f"{prefix}.{key}" if prefix else key, file, out)


# --- packs --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Version:
    start: date
    ref: str
    note: str


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    code: str
    label: str
    rank: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every parameter value in force on one date-range, with case overrides applied."""

    pack: Pack
    start: date
    version: Version
    values: dict[str, Value]
    digest: str

    def get(self, name: str) -> Value | None:
        return self.values.get(name)

    def value(self, name: str, default: Any = None) -> Any:
        found = self.values.get(name)
        return default if found is None else found.value

    def names(self, prefix: str) -> list[str]:
        dotted = prefix + "."
        return [n for n in self.values if n.startswith(dotted)]


#: How a change's effective date follows from its document (pack.yaml `parameter_changes`).
CHANGE_RULES = {
    "month_after_publication": "自公布次月1日起执行",
    "as_entered": "按录入的生效日期",
}


@dataclass(frozen=True, slots=True)
class ChangeRule:
    effective: str
    ref: str


def _month_after(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


class Pack:
    """One jurisdiction's rules: metadata, versions and date-ranged parameters.

    `compile_terms` turns a snapshot into the rules' terms. It is handed in (by `loader.py`)
    rather than imported, because the rules read snapshots: parameters sits below them.
    """

    def __init__(
        self, code: str, directory: Path, compile_terms: Callable[[Snapshot], Any]
    ) -> None:
        self.code = code
        self.directory = directory
        self._compile_terms = compile_terms
        meta_file = directory / "pack.yaml"
        if not meta_file.is_file():
            raise PackError(meta_file, "(file)", "missing pack.yaml")
        meta = _load_yaml(meta_file)
        if not isinstance(meta, dict):
            raise PackError(meta_file, "(top)", "expected a mapping")
        for key in ("code", "title", "short", "versions", "profiles"):
            if key not in meta:
                raise PackError(meta_file, key, "missing")
        if meta["code"] != code:
            raise PackError(meta_file, "code", f"{meta['code']!r} does not match folder {code!r}")
        self.title: str = meta["title"]
        self.short: str = meta["short"]
        self.document: str = meta.get("document", "")
        versions = []
        for raw_day, entry in (meta["versions"] or {}).items():
            day = _as_date(raw_day, "versions", meta_file)
            if not isinstance(entry, dict) or not entry.get("ref"):
                raise PackError(meta_file, f"versions.{day}", "needs {ref: ..., note: ...}")
            versions.append(Version(day, entry["ref"], entry.get("note", "")))
        if not versions:
            raise PackError(meta_file, "versions", "a pack needs at least one version")
        self.versions: tuple[Version, ...] = tuple(sorted(versions, key=lambda v: v.start))
        self.first_day: date = self.versions[0].start
        self._version_starts = [v.start for v in self.versions]
        expires = meta.get("expires")
        self.expires: date | None = _as_date(expires, "expires", meta_file) if expires else None
        self.expires_ref: str = meta.get("expires_ref", "")
        self.extra_identities = frozenset(meta.get("extra_identities") or ())
        self.profiles: dict[str, ProfileInfo] = {}
        for pcode, info in (meta["profiles"] or {}).items():
            if not isinstance(info, dict) or "label" not in info or "rank" not in info:
                raise PackError(meta_file, f"profiles.{pcode}", "needs {label: ..., rank: ...}")
            self.profiles[pcode] = ProfileInfo(pcode, info["label"], int(info["rank"]))
        self.pool_labels: dict[str, str] = dict(meta.get("pools") or {})
        self.refs: dict[str, str] = dict(meta.get("refs") or {})
        # The documents the refs cite, by the name they are cited by → the seed file's name
        # (read by the pack checker, not by the rules).
        self.sources: dict[str, str] = dict(meta.get("sources") or {})
        # How a parameter change entered after shipping takes effect (`change_effective`):
        # parameter name (or "*") → its rule and the article that sets it.
        self.change_rules: dict[str, ChangeRule] = {}
        for pname, entry in (meta.get("parameter_changes") or {}).items():
            if not isinstance(entry, dict) or not entry.get("ref"):
                raise PackError(meta_file, f"parameter_changes.{pname}", "needs {effective, ref}")
            if entry.get("effective") not in CHANGE_RULES:
                raise PackError(
                    meta_file,
                    f"parameter_changes.{pname}.effective",
                    f"one of {sorted(CHANGE_RULES)}",
                )
            self.change_rules[str(pname)] = ChangeRule(entry["effective"], entry["ref"])

        self.parameters: dict[str, Parameter] = {}
        files = sorted(p for p in directory.glob("*.yaml") if p.name != "pack.yaml")
        if not files:
            raise PackError(directory, "(files)", "no parameter files beside pack.yaml")
        for file in files:
            _walk(_load_yaml(file) or {}, "", file, self.parameters)
        for param in self.parameters.values():
            for v in param.values:
                if v.start < self.first_day:
                    raise PackError(
                        param.file,
                        f"{param.name}.values.{v.start}",
                        f"effective before the pack's first version {self.first_day}",
                    )
        self._breakpoints: list[date] = sorted(
            {v.start for v in self.versions}
            | {v.start for p in self.parameters.values() for v in p.values}
        )
        self._snapshots: dict[tuple[int, tuple[tuple[str, str], ...]], Snapshot] = {}
        self._overrides: dict[tuple[tuple[str, str], ...], dict[str, Parameter]] = {}
        self._terms: dict[tuple[int, tuple[tuple[str, str], ...]], Any] = {}
        # The approved or draft changes laid over the YAML (see `amended`); () for the base.
        self.amendments: tuple[Amendment, ...] = ()
        self._amended: dict[tuple[Amendment, ...], Pack] = {}

    def __repr__(self) -> str:
        return f"<Pack {self.code} {self.versions[0].start}…>"

    def amended(self, amendments: tuple[Amendment, ...]) -> Pack:
        """This pack with `amendments` laid over its YAML values (a new, separately cached pack).

        An amendment on a date the YAML already has replaces that value; otherwise it starts a
        new date-range. Raises OverrideError naming the amendment's key for an unknown
        parameter, a value its kind refuses, or a date before the pack's first version.
        """
        if not amendments:
            return self
        key = tuple(sorted(amendments, key=lambda a: (a.start, a.parameter, a.key)))
        found = self._amended.get(key)
        if found is not None:
            return found
        params = dict(self.parameters)
        for change in key:
            if change.start < self.first_day:
                raise OverrideError(
                    change.key, "date_before_policy", f"生效日期早于本政策首个版本 {self.first_day}"
                )
            for param in self._targets(change.parameter):
                param = params[param.name]
                typed: Any = change.value
                if param.kind == "flag":
                    typed = {"true": True, "false": False}.get(change.value, change.value)
                try:
                    value = parse_value(param.kind, typed, change.parameter, "(amendment)")
                except PackError as exc:
                    raise OverrideError(change.key, "invalid_field", exc.problem) from exc
                before = param.at(change.start)
                unit = change.unit or (before.unit if before is not None else "yuan")
                if unit not in UNITS or (unit != "yuan" and param.kind != "amount"):
                    raise OverrideError(change.key, "invalid_field", f"单位 {unit} 不适用于该参数")
                kept = tuple(v for v in param.values if v.start != change.start)
                new = Value(change.start, value, change.ref, unit, change.key)
                values = tuple(sorted((*kept, new), key=lambda v: v.start))
                params[param.name] = Parameter(param.name, param.kind, values, "(amendment)")
        pack = copy.copy(self)
        pack.parameters = params
        pack.amendments = key
        pack._breakpoints = sorted(
            {v.start for v in self.versions} | {v.start for p in params.values() for v in p.values}
        )
        pack.__dict__.pop("ranges", None)
        pack._snapshots, pack._overrides, pack._terms, pack._amended = {}, {}, {}, {}
        self._amended[key] = pack
        return pack

    def change_effective(
        self, parameter: str, published: date, entered: date | None
    ) -> tuple[date | None, str]:
        """The day a change of `parameter` published on `published` takes effect, and the rule
        it followed (Chinese, citing the article): the pack's rule for that parameter (or its
        "*" rule), else the date as entered."""
        rule = self.change_rules.get(parameter) or self.change_rules.get("*")
        if rule is None or rule.effective == "as_entered":
            where = f"（{rule.ref}）" if rule is not None else "（本政策包未规定生效规则）"
            return entered, CHANGE_RULES["as_entered"] + where
        return _month_after(published), f"{rule.ref}：{CHANGE_RULES[rule.effective]}"

    def _targets(self, name: str) -> list[Parameter]:
        """The parameters a name sets: the leaf itself, or every amount leaf under a node."""
        if name in self.parameters:
            return [self.parameters[name]]
        targets = [
            p
            for n, p in self.parameters.items()
            if n.startswith(name + ".") and any(v.value is not None for v in p.values)
        ]
        if not targets:
            raise OverrideError(name, "unknown_parameter", "本政策没有这个参数")
        if any(p.kind != "amount" for p in targets):
            raise OverrideError(name, "unknown_parameter", "只能按名称覆盖金额类参数组")
        return targets

    def version_on(self, day: date) -> Version:
        i = bisect.bisect_right(self._version_starts, day) - 1
        if i < 0:
            raise LookupError(f"{self.code}: {day} is before the first version {self.first_day}")
        return self.versions[i]

    @cached_property
    def ranges(self) -> tuple[date, ...]:
        """The start of every date-range over which no parameter changes."""
        return tuple(self._breakpoints)

    def range_end(self, start: date) -> date | None:
        """The first day after the date-range starting on `start`."""
        i = bisect.bisect_right(self._breakpoints, start)
        return self._breakpoints[i] if i < len(self._breakpoints) else None

    def range_index(self, day: date) -> int:
        i = bisect.bisect_right(self._breakpoints, day) - 1
        if i < 0:
            raise LookupError(f"{self.code}: {day} is before the first version {self.first_day}")
        return i

    def parse_overrides(self, overrides: tuple[tuple[str, str], ...]) -> dict[str, Parameter]:
        """Parse a case's overrides once; a node name (e.g. annual_cap) sets every leaf under it.

        Amount overrides are always in yuan, even where the pack's own value is a share of the
        base; a node override leaves null leaves (no cap) alone.
        """
        cached = self._overrides.get(overrides)
        if cached is not None:
            return cached
        parsed: dict[str, Parameter] = {}
        for name, raw in overrides:
            for param in self._targets(name):
                # A case gives every override as text; a flag is written "true" or "false".
                typed = (
                    {"true": True, "false": False}.get(raw, raw) if param.kind == "flag" else raw
                )
                try:
                    value = parse_value(param.kind, typed, name, "(case)")
                except PackError as exc:
                    raise OverrideError(name, "invalid_field", exc.problem) from exc
                parsed[param.name] = Parameter(
                    param.name,
                    param.kind,
                    (Value(self.first_day, value, "本案参数覆盖（parameters）", "yuan"),),
                    "(case)",
                )
        self._overrides[overrides] = parsed
        return parsed

    def snapshot(self, day: date, overrides: tuple[tuple[str, str], ...] = ()) -> Snapshot:
        index = self.range_index(day)
        key = (index, overrides)
        found = self._snapshots.get(key)
        if found is not None:
            return found
        start = self._breakpoints[index]
        params = dict(self.parameters)
        params.update(self.parse_overrides(overrides))
        values: dict[str, Value] = {}
        for name, param in params.items():
            value = param.at(start)
            if value is not None:
                values[name] = value
        digest = hashlib.sha256(
            repr(sorted((n, str(v.value), v.unit) for n, v in values.items())).encode()
        ).hexdigest()[:16]
        snap = Snapshot(self, start, self.version_on(start), values, digest)
        self._snapshots[key] = snap
        return snap

    def terms(self, day: date, overrides: tuple[tuple[str, str], ...] = ()) -> Any:
        """The compiled rules in force on `day` (cached per date-range and overrides)."""
        key = (self.range_index(day), overrides)
        found = self._terms.get(key)
        if found is None:
            found = self._compile_terms(self.snapshot(day, overrides))
            self._terms[key] = found
        return found


# --- descriptions -------------------------------------------------------------------------------
# The Chinese words for a parameter name's first part(s), longest prefix first; the remaining
# parts are read as a profile, identity, claim kind or hospital level.
_DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("pooling_area_per_capita_disposable_income", "统筹地区居民人均可支配收入"),
    ("urban_per_capita_disposable_income", "城镇居民人均可支配收入"),
    ("per_capita_disposable_income", "全省上年居民人均可支配收入（起付标准基数）"),
    ("base_rounding", "基数取整方式"),
    ("transition_period_end", "过渡期截止日期"),
    ("transition_identities", "过渡期内享受的身份"),
    ("health_poverty_scheme", "健康扶贫衔接"),
    ("annual_cap_major_disease", "重特大疾病年度救助限额"),
    ("annual_cap", "年度救助限额"),
    ("deductible_kinds", "设起付标准的救助项目"),
    ("deductible", "起付标准"),
    ("ratio", "救助比例"),
    ("identity", "身份对应的救助类别"),
    ("mode", "救助方式"),
    ("kinds", "救助项目"),
    ("hospital_levels", "定点医疗机构级别"),
    ("min_age_waived_by", "年龄条件豁免身份"),
    ("min_age", "最低年龄"),
    ("pool", "共用限额的项目"),
    ("referral", "转诊规定"),
    ("identity_on_stay", "跨身份住院的认定时点"),
    ("reach_back_days", "可追溯天数"),
    ("application_window_months", "申请时限（月）"),
    ("manual_claim", "手工报销"),
    ("tilt", "倾斜救助"),
    ("major_route", "重特大疾病救助"),
    ("top_up", "托底保障"),
    ("out_of_catalog", "目录外费用"),
    ("premium", "资助参保"),
    ("monitoring", "防范化解因病返贫致贫监测"),
    ("funds", "基金管理"),
    ("certification", "因病致贫认定"),
)
_PART_WORDS = {
    "threshold": "起付金额",
    "ratio": "比例",
    "annual_cap": "年度限额",
    "amount": "金额",
    "share": "比例",
    "floor": "最低金额",
    "full": "全额资助",
    "all": "共用限额",
    "level_1": "一级医院",
    "level_2": "二级医院",
    "level_3": "三级医院",
    "key_threshold": "重点监测对象标准",
    "kinds": "项目",
    "combined_ratio": "综合保障比例",
    "control": "控制比例",
    "assistance": "救助比例",
    "profiles": "适用类别",
    "required": "须转诊",
    "other_threshold": "其他监测对象标准",
}


def describe(pack: Pack, name: str) -> str:
    """A parameter's name in Chinese for a choice list: 起付标准 · 低保边缘家庭成员."""
    from medaid.policy.glossary import IDENTITY_LABELS, KIND_LABELS

    words: list[str] = []
    rest = name
    for prefix, label in _DESCRIPTIONS:
        if name == prefix or name.startswith(prefix + "."):
            words.append(label)
            rest = name[len(prefix) + 1 :]
            break
    for part in [p for p in rest.split(".") if p]:
        info = pack.profiles.get(part)
        words.append(
            info.label
            if info is not None
            else IDENTITY_LABELS.get(part) or KIND_LABELS.get(part) or _PART_WORDS.get(part, part)
        )
    return " · ".join(words) or name
