"""Small builders for contract cases, so each golden case reads like its arithmetic."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from medaid.policy.contract import preview


def claim(ref: str, kind: str, discharged: str, in_policy: str, **fields: Any) -> dict:
    return {
        "ref": ref,
        "kind": kind,
        "discharged": discharged,
        "in_policy_cost": in_policy,
        "hospital_level": fields.pop("hospital_level", 2),
        **fields,
    }


def identity(code: str, start: str = "2020-01-01", end: str | None = None) -> dict:
    return {"code": code, "start": start, "end": end}


def case(policy: str, identities: list[dict], claims: list[dict], **extra: Any) -> dict:
    person = {"identities": identities}
    if "birth_date" in extra:
        person["birth_date"] = extra.pop("birth_date")
    return {"policy": policy, "person": person, "claims": claims, **extra}


def run(data: dict) -> dict:
    out = preview(data)
    assert "error" not in out, out
    return out


def totals(out: dict) -> dict[str, Decimal]:
    """ref -> claim total, plus "_total"."""
    got = {c["ref"]: Decimal(c["total"]) for c in out["claims"]}
    got["_total"] = Decimal(out["totals"]["total"])
    return got


def by_ref(out: dict) -> dict[str, dict]:
    return {c["ref"]: c for c in out["claims"]}


def amounts(c: dict) -> tuple[str, str, str]:
    return c["assistance"], c["tilted_assistance"], c["total"]


def premium(policy: str, identities: list[dict], **request) -> dict:
    request.setdefault("year", 2024)
    request.setdefault("individual_contribution", "380.00")
    request.setdefault("on", "2023-10-15")
    out = preview(case(policy, identities, [], premium=request))
    assert "error" not in out, out
    return out["premium"]
