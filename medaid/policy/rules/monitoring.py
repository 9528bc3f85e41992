"""Early-warning thresholds (监测预警) as pack data, for the monthly monitoring job.

The job sums each person's burden the way `basis` says — the natural year's cumulative
personal burden (Pingshun 第三十条, Baoshan 第二十六条, Yunnan （十三）) or one stay's
self-pay after the three schemes (Zhangye 五（一）) — and asks
`MonitoringThresholds.crosses()`.
"""

from __future__ import annotations

from datetime import date

from medaid.policy.parameters import Pack
from medaid.policy.results import MonitoringThresholds
from medaid.policy.rules.terms import _Reader


def monitoring_thresholds(
    pack: Pack, on: date, overrides: tuple[tuple[str, str], ...] = ()
) -> MonitoringThresholds | None:
    """The thresholds in force on `on`; None where the pack has no monitoring rule (Kunming)."""
    snap = pack.snapshot(on, overrides)
    basis = snap.get("monitoring.basis")
    if basis is None:
        return None
    reader = _Reader(snap)
    key = reader.amount("monitoring.key_threshold")
    other = reader.amount("monitoring.other_threshold")
    refs = [
        v.ref
        for name in sorted(snap.names("monitoring"))
        if (v := snap.get(name)) is not None and v.ref
    ]
    push = snap.value("monitoring.push_before_day")
    return MonitoringThresholds(
        policy=pack.code,
        policy_version=snap.version.start.isoformat(),
        basis=basis.value,
        key_threshold=key.value if key else None,
        other_threshold=other.value if other else None,
        key_identities=frozenset(snap.value("monitoring.key_identities", ())),
        rural_only_identities=frozenset(snap.value("monitoring.rural_only_identities", ())),
        rural_insured_only=bool(snap.value("monitoring.rural_insured_only", False)),
        push_before_day=push,
        departments=tuple(snap.value("monitoring.departments", ())),
        refs=tuple(dict.fromkeys(refs)),
    )
