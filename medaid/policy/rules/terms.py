"""Compile one parameter snapshot into the flat lookup tables the hot path reads.

A snapshot is a dict of dotted names; deciding a claim from it directly would mean walking
fallback chains (ratio by profile, kind and level) and converting shares of the base into yuan
on every claim. `compile_terms` does that once per pack date-range and case overrides, and is
also the pack's validation: a name that points at an undefined profile or pool, or a covered
kind without a ratio or a cap pool, raises PackError here, at load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from medaid.core.money import CENT
from medaid.policy.errors import PackError
from medaid.policy.parameters import ProfileInfo, Snapshot, Value, Version

ZERO = Decimal("0")

LEVELS = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class Amount:
    """A yuan amount read from a parameter, with how it was derived (for the trace)."""

    value: Decimal
    ref: str
    base: Decimal | None = None  # set when the parameter is a share of the base income
    share: Decimal | None = None
    base_note: str = ""  # how the base was read, when not as the pack's plain figure


@dataclass(frozen=True, slots=True)
class Rate:
    value: Decimal
    ref: str


@dataclass(frozen=True, slots=True)
class RouteRule:
    """Kunming §四(二)2(2): the major-disease route for a profile (its own deductible and pool)."""

    deductible: Amount
    ratios: tuple[Rate | None, ...]  # by hospital level, index 0 unused
    pool: str
    cap: Amount | None
    kinds: frozenset[str]


@dataclass(frozen=True, slots=True)
class KindRule:
    """Everything needed to decide one kind of claim for one profile, resolved."""

    profile: str
    kind: str
    kinds_ref: str
    ratios: tuple[Rate | None, ...]  # by hospital level, index 0 unused
    deductible: Amount | None  # None: this kind does not bear the deductible
    pool: str
    cap: Amount | None  # None: no annual cap for this profile
    major_cap: Amount | None  # a major-disease claim raises the pool's cap to this (Zhangye)
    levels: frozenset[int] | None
    levels_ref: str
    min_age: int | None
    age_waivers: tuple[str, ...]
    age_ref: str
    top_up: Rate | None  # combined in-policy ratio topped up to this (Pingshun fanpin)
    top_up_in_province_only: bool
    ooc_assistance: Rate | None  # out-of-catalogue assistance within the control limit
    ooc_control: bool
    tilt: bool
    major_route: RouteRule | None


@dataclass(frozen=True, slots=True)
class TiltTerms:
    threshold: Amount
    ratio: Rate
    cap: Amount | None
    kinds: frozenset[str]
    profiles: frozenset[str]
    outside_annual_cap: bool
    local_without_referral: bool
    requires_in_province: bool
    counts_uncovered_kinds: bool  # Pingshun 第二十条: self-pay of kinds the profile is not
    # assisted for still counts toward the year's tilt (and the claim receives the increase)
    uncovered_ref: str


@dataclass(frozen=True, slots=True)
class HealthPovertyTerms:
    """Kunming 四（四）: holders of `identities` get only the 健康扶贫 treatment from this pack,
    unless they also hold one of `exempt` (特困供养人员 get both)."""

    identities: frozenset[str]
    exempt: frozenset[str]
    ref: str


@dataclass(frozen=True, slots=True)
class Terms:
    """The rules in force over one date-range of one pack (with a case's overrides)."""

    pack_code: str
    pack_title: str
    pack_short: str
    version: Version
    version_iso: str
    start: date
    end: date | None  # first day of the next date-range, None for the last
    policy_step: tuple
    digest: str
    snapshot: Snapshot
    profiles: dict[str, ProfileInfo]
    pool_labels: dict[str, str]
    base: Amount | None
    profile_of: dict[str, tuple[str, str]]  # identity code -> (profile, ref)
    mode: dict[str, tuple[str, str]]
    rules: dict[tuple[str, str], KindRule]
    covered_kinds: dict[str, frozenset[str]]
    referral_required: bool
    referral_outside_area_only: bool
    referral_exceptions: frozenset[str]
    referral_ref: str
    stay_rule: str
    stay_ref: str
    reach_back: dict[str, tuple[int, str]]  # identity -> (days before start, ref)
    application_window: dict[str, tuple[int, str]]  # profile -> (months before applied, ref)
    deadline_days: int | None
    deadline_ref: str
    deadline_batch: bool
    tilt: TiltTerms | None
    ooc_limits: dict[str, Rate]
    ooc_unknown_fee_class: str | None
    ooc_requires_in_province: bool
    tie_prefers_major: bool
    deductible_kinds: frozenset[str]
    health_poverty: HealthPovertyTerms | None
    transition_end: date | None  # 过渡期: after this day `transition_identities` have no tier
    transition_identities: frozenset[str]
    transition_ref: str

    def rank(self, profile: str) -> int:
        return self.profiles[profile].rank

    def label(self, profile: str) -> str:
        return self.profiles[profile].label


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class _Reader:
    """Reads a snapshot and turns a missing or misplaced name into a PackError."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.pack = snap.pack
        self.base = self._base()

    def fail(self, name: str, problem: str) -> PackError:
        param = self.pack.parameters.get(name)
        file = param.file if param is not None else str(self.pack.directory)
        return PackError(file, name, f"{problem} (in force on {self.snap.start})")

    def get(self, name: str) -> Value | None:
        return self.snap.values.get(name)

    def need(self, name: str) -> Value:
        found = self.snap.values.get(name)
        if found is None:
            raise self.fail(name, "required parameter is missing")
        return found

    def value(self, name: str, default: object = None) -> object:
        found = self.snap.values.get(name)
        return default if found is None else found.value

    def _base(self) -> Amount | None:
        found = self.snap.values.get("per_capita_disposable_income")
        if found is None:
            return None
        rounding = self.snap.values.get("base_rounding")
        if rounding is not None and rounding.value == "yuan":
            # Pingshun 第四十七条: the published figure 四舍五入取整 before anything is computed
            # from it — a case's override of the base included.
            whole = found.value.quantize(Decimal("1"), ROUND_HALF_UP)
            note = _changed(found)
            if whole != found.value:
                note += f"（公布数 {found.value.normalize():f} 四舍五入取整，{rounding.ref}）"
            return Amount(whole, f"{found.ref}；{rounding.ref}", base_note=note)
        return Amount(found.value, found.ref, base_note=_changed(found))

    def _area_income(self, name: str) -> tuple[Decimal, str]:
        """Yunnan （十二）: the pooling area's own per-capita income, or the provincial base
        (with the trace saying so) while the area has not set it."""
        found = self.snap.values.get("pooling_area_per_capita_disposable_income")
        if found is not None and found.value is not None:
            return found.value, f"（统筹地区城乡居民人均可支配收入，{found.ref}）"
        if self.base is None:
            raise self.fail(name, "needs pooling_area_per_capita_disposable_income or the base")
        return self.base.value, "（统筹地区未设定城乡居民人均可支配收入，按全省基数）"

    def amount(self, name: str, found: Value | None = None) -> Amount | None:
        """A yuan amount; a share of the base is multiplied out and rounded to 0.01 here."""
        found = found or self.get(name)
        if found is None or found.value is None:
            return None
        if found.unit == "share_of_base":
            if self.base is None:
                raise self.fail(name, "is a share of the base but per_capita_disposable_income")
            return Amount(
                cents(self.base.value * found.value),
                _cite(found),
                self.base.value,
                found.value,
                self.base.base_note,
            )
        if found.unit == "share_of_pooling_area_income":
            income, note = self._area_income(name)
            return Amount(cents(income * found.value), _cite(found), income, found.value, note)
        return Amount(found.value, _cite(found))

    def rate(self, name: str) -> Rate | None:
        found = self.get(name)
        return None if found is None else Rate(found.value, _cite(found))

    def first_rate(self, names: list[str]) -> Rate | None:
        for name in names:
            found = self.rate(name)
            if found is not None:
                return found
        return None


def _cite(found: Value) -> str:
    """The article a value cites, and the parameter change that set it, if one did."""
    return f"{found.ref}，参数变更 {found.amendment}" if found.amendment else found.ref


def _changed(found: Value) -> str:
    """A base that a parameter change set says so, with its document: the shipped pack's
    articles are cited anyway, but a clerk must see which published figure was used."""
    if not found.amendment:
        return ""
    return f"（基数 {found.value.normalize():f} 依{found.ref}，参数变更 {found.amendment}）"


def _ratios(r: _Reader, prefix: str, profile: str, kind: str | None) -> tuple[Rate | None, ...]:
    out: list[Rate | None] = [None]
    for level in LEVELS:
        names = []
        if kind:
            names += [f"{prefix}.{profile}.{kind}.level_{level}", f"{prefix}.{profile}.{kind}"]
        names += [f"{prefix}.{profile}.level_{level}", f"{prefix}.{profile}"]
        out.append(r.first_rate(names))
    return tuple(out)


def compile_terms(snap: Snapshot) -> Terms:
    r = _Reader(snap)
    pack = snap.pack

    profile_of: dict[str, tuple[str, str]] = {}
    for name in snap.names("identity"):
        identity = name.split(".", 1)[1]
        value = r.need(name)
        if value.value not in pack.profiles:
            raise r.fail(name, f"profile {value.value!r} is not declared in pack.yaml profiles")
        profile_of[identity] = (value.value, value.ref)
    profiles_used = {p for p, _ in profile_of.values()}

    pools: dict[str, frozenset[str]] = {}
    for name in snap.names("pool"):
        pools[name.split(".", 1)[1]] = frozenset(r.need(name).value)
    kind_pool: dict[str, str] = {}
    for pool, kinds in pools.items():
        for kind in kinds:
            if kind in kind_pool:
                raise r.fail(f"pool.{pool}", f"{kind} is already in pool {kind_pool[kind]}")
            kind_pool[kind] = pool

    deductible_kinds = frozenset(r.value("deductible_kinds", ()) or ())
    tilt = None
    if r.get("tilt.ratio") is not None:
        tilt_cap = r.get("tilt.annual_cap")
        tilt = TiltTerms(
            threshold=r.amount("tilt.threshold", r.need("tilt.threshold")),
            ratio=r.rate("tilt.ratio"),
            cap=r.amount("tilt.annual_cap", tilt_cap) if tilt_cap else None,
            kinds=frozenset(r.need("tilt.kinds").value),
            profiles=frozenset(r.need("tilt.profiles").value),
            outside_annual_cap=r.need("tilt.outside_annual_cap").value,
            local_without_referral=r.need("tilt.local_without_referral").value,
            requires_in_province=r.need("tilt.requires_in_province").value,
            counts_uncovered_kinds=bool(r.value("tilt.counts_uncovered_kinds", False)),
            uncovered_ref=(r.get("tilt.counts_uncovered_kinds") or r.need("tilt.ratio")).ref,
        )
        unknown = tilt.profiles - set(pack.profiles)
        if unknown:
            raise r.fail("tilt.profiles", f"unknown profiles {sorted(unknown)}")

    major_profiles = frozenset(r.value("major_route.profiles", ()) or ())
    major_pool = r.value("major_route.pool")
    if major_profiles and major_pool not in pools:
        raise r.fail("major_route.pool", f"pool {major_pool!r} is not defined")
    top_up_kinds = frozenset(r.value("top_up.kinds", ()) or ())
    ooc_kinds = frozenset(r.value("out_of_catalog.kinds", ()) or ())
    ooc_control_profiles = frozenset(r.value("out_of_catalog.control_profiles", ()) or ())

    rules: dict[tuple[str, str], KindRule] = {}
    covered: dict[str, frozenset[str]] = {}
    mode: dict[str, tuple[str, str]] = {}
    for profile in sorted(profiles_used):
        kinds_value = r.need(f"kinds.{profile}")
        mode_value = r.need(f"mode.{profile}")
        mode[profile] = (mode_value.value, mode_value.ref)
        covered[profile] = frozenset(kinds_value.value)
        for kind in kinds_value.value:
            ratios = _ratios(r, "ratio", profile, kind)
            if any(x is None for x in ratios[1:]):
                raise r.fail(f"ratio.{profile}", f"no ratio for {kind} at every hospital level")
            pool = kind_pool.get(kind)
            if pool is None:
                raise r.fail(f"kinds.{profile}", f"{kind} is covered but in no pool.*")
            cap_value = r.get(f"annual_cap.{pool}.{profile}") or r.get(f"annual_cap.{pool}")
            if cap_value is None:
                raise r.fail(f"annual_cap.{pool}", "missing (write null for no cap)")
            major_cap_value = r.get(f"annual_cap_major_disease.{pool}")
            ded_value = r.get(f"deductible.{profile}")
            deductible = None
            if kind in deductible_kinds:
                if ded_value is None:
                    raise r.fail(f"deductible.{profile}", "missing for a kind in deductible_kinds")
                deductible = r.amount(f"deductible.{profile}", ded_value)
            levels_value = r.get(f"hospital_levels.{kind}")
            age_value = r.get(f"min_age.{profile}.{kind}")
            waivers = r.get(f"min_age_waived_by.{profile}.{kind}")
            top_up_value = r.get(f"top_up.combined_ratio.{profile}")
            ooc_value = r.get(f"out_of_catalog.assistance.{profile}")
            route = None
            if profile in major_profiles and kind in (r.value("major_route.kinds") or ()):
                route_ratios = _ratios(r, "major_route.ratio", profile, None)
                if any(x is None for x in route_ratios[1:]):
                    raise r.fail(f"major_route.ratio.{profile}", "no ratio at every level")
                route_ded = r.need(f"major_route.deductible.{profile}")
                route_cap = r.get(f"annual_cap.{major_pool}.{profile}") or r.get(
                    f"annual_cap.{major_pool}"
                )
                if route_cap is None:
                    raise r.fail(f"annual_cap.{major_pool}", "missing (write null for no cap)")
                route = RouteRule(
                    deductible=r.amount(f"major_route.deductible.{profile}", route_ded),
                    ratios=route_ratios,
                    pool=major_pool,
                    cap=r.amount(f"annual_cap.{major_pool}", route_cap),
                    kinds=frozenset(r.value("major_route.kinds")),
                )
            rules[(profile, kind)] = KindRule(
                profile=profile,
                kind=kind,
                kinds_ref=kinds_value.ref,
                ratios=ratios,
                deductible=deductible,
                pool=pool,
                cap=r.amount(f"annual_cap.{pool}", cap_value),
                major_cap=r.amount(f"annual_cap_major_disease.{pool}", major_cap_value)
                if major_cap_value
                else None,
                levels=frozenset(int(x) for x in levels_value.value) if levels_value else None,
                levels_ref=levels_value.ref if levels_value else "",
                min_age=age_value.value if age_value else None,
                age_waivers=tuple(waivers.value) if waivers else (),
                age_ref=age_value.ref if age_value else "",
                top_up=Rate(top_up_value.value, top_up_value.ref)
                if top_up_value and kind in top_up_kinds
                else None,
                top_up_in_province_only=bool(r.value("top_up.requires_in_province", True)),
                ooc_assistance=Rate(ooc_value.value, ooc_value.ref)
                if ooc_value and kind in ooc_kinds
                else None,
                ooc_control=profile in ooc_control_profiles and kind in ooc_kinds,
                tilt=tilt is not None and profile in tilt.profiles and kind in tilt.kinds,
                major_route=route,
            )

    ooc_limits = {}
    for name in snap.names("out_of_catalog.control"):
        value = r.need(name)
        ooc_limits[name.rsplit(".", 1)[1]] = Rate(value.value, value.ref)

    reach_back = {}
    for name in snap.names("reach_back_days"):
        value = r.need(name)
        reach_back[name.split(".", 1)[1]] = (value.value, value.ref)
    windows = {}
    for name in snap.names("application_window_months"):
        value = r.need(name)
        profile = name.split(".", 1)[1]
        if profile not in pack.profiles:
            raise r.fail(name, f"profile {profile!r} is not declared in pack.yaml")
        windows[profile] = (value.value, value.ref)

    health_poverty = None
    if r.get("health_poverty_scheme.identities") is not None:
        excluded = r.need("health_poverty_scheme.identities")
        health_poverty = HealthPovertyTerms(
            identities=frozenset(excluded.value),
            exempt=frozenset(r.value("health_poverty_scheme.exempt_identities", ()) or ()),
            ref=excluded.ref,
        )
    transition = r.get("transition_period_end")
    transition_identities = r.get("transition_identities")
    if (transition is None) != (transition_identities is None):
        raise r.fail(
            "transition_period_end", "needs transition_identities beside it (both or none)"
        )

    referral = r.need("referral.required")
    stay = r.need("identity_on_stay")
    deadline = r.get("manual_claim.deadline_days")
    return Terms(
        pack_code=pack.code,
        pack_title=pack.title,
        pack_short=pack.short,
        version=snap.version,
        version_iso=snap.version.start.isoformat(),
        start=snap.start,
        end=pack.range_end(snap.start),
        policy_step=("policy", pack.title, snap.version.start, snap.version.ref, snap.digest),
        digest=snap.digest,
        snapshot=snap,
        profiles=pack.profiles,
        pool_labels=pack.pool_labels,
        base=r.base,
        profile_of=profile_of,
        mode=mode,
        rules=rules,
        covered_kinds=covered,
        referral_required=referral.value,
        referral_outside_area_only=bool(r.value("referral.outside_area_only", False)),
        referral_exceptions=frozenset(r.value("referral.exceptions", ()) or ()),
        referral_ref=referral.ref,
        stay_rule=stay.value,
        stay_ref=stay.ref,
        reach_back=reach_back,
        application_window=windows,
        deadline_days=deadline.value if deadline else None,
        deadline_ref=deadline.ref if deadline else "",
        deadline_batch=bool(r.value("manual_claim.batch_from_last_discharge", False)),
        tilt=tilt,
        ooc_limits=ooc_limits,
        ooc_unknown_fee_class=r.value("out_of_catalog.unknown_fee_class_as"),
        ooc_requires_in_province=bool(r.value("out_of_catalog.requires_in_province", True)),
        tie_prefers_major=r.value("major_route.tie_prefers", "major_disease") == "major_disease",
        deductible_kinds=deductible_kinds,
        health_poverty=health_poverty,
        transition_end=transition.value if transition else None,
        transition_identities=frozenset(transition_identities.value)
        if transition_identities
        else frozenset(),
        transition_ref=f"{transition.ref}；{transition_identities.ref}" if transition else "",
    )
