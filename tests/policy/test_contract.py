"""The preview contract: defaults, the result's exact shape, ordering, and every error code."""

import json
from copy import deepcopy
from datetime import date
from decimal import Decimal

import pytest

from medaid.policy.contract import CaseError, parse_case, parse_case_json, preview
from tests.policy.helpers import case, claim, identity, run

BASE = case(
    "baoshan",
    [identity("dibao_edge", "2023-01-01")],
    [claim("c1", "inpatient", "2023-04-12", "30000.00", basic_insurance_paid="16000.00")],
)


def error_of(data) -> dict:
    out = preview(data)
    assert set(out) == {"error"}, out
    assert set(out["error"]) == {"code", "message", "field"}
    return out["error"]


def test_defaults():
    parsed = parse_case(BASE)
    c = parsed.claims[0]
    assert (c.in_area, c.in_province, c.referred) == (True, True, True)
    assert (c.follow_up, c.emergency, c.major_disease) == (False, False, False)
    assert c.settlement == "direct" and c.applied is None
    assert c.admission_date == date(2023, 4, 12)
    assert c.out_of_catalog_cost == c.critical_illness_paid == c.other_paid == Decimal("0.00")
    assert c.total_cost == Decimal("30000.00")
    assert parsed.premium is None and parsed.parameters == ()


def test_total_cost_defaults_to_in_policy_plus_out_of_catalogue():
    data = deepcopy(BASE)
    data["claims"][0]["out_of_catalog_cost"] = "500.50"
    assert parse_case(data).claims[0].total_cost == Decimal("30500.50")


def test_result_has_exactly_the_contract_fields():
    out = run(BASE)
    assert list(out) == ["policy", "policy_version", "claims", "totals", "premium"]
    assert out["policy_version"] == "2023-01-01"
    assert list(out["claims"][0]) == [
        "ref",
        "eligible",
        "reason",
        "identity",
        "policy_self_pay",
        "deductible_applied",
        "ratio",
        "assistance",
        "tilted_assistance",
        "total",
        "trace",
    ]
    assert list(out["totals"]) == ["assistance", "tilted_assistance", "total"]
    c = out["claims"][0]
    # (30000 − 16000 − 2693.70) × 60% = 6783.78
    assert (c["policy_self_pay"], c["deductible_applied"], c["ratio"], c["total"]) == (
        "14000.00",
        "2693.70",
        "0.60",
        "6783.78",
    )
    assert all(isinstance(line, str) for line in c["trace"])
    json.dumps(out, ensure_ascii=False)  # serialisable as is


def test_premium_block_shape():
    data = case("pingshun", [identity("dibao_edge", "2023-01-01")], [])
    data["premium"] = {"year": 2024, "individual_contribution": "400.00", "on": "2023-10-15"}
    out = run(data)
    assert out["premium"] == {
        "identity": "dibao_edge",
        "subsidy": "0.00",
        "reason": "not_subsidised",
    }
    assert out["policy_version"] == "2023-01-07"


def test_claims_decided_by_discharge_then_file_order_and_returned_in_file_order():
    """The earlier discharge takes the cap first even when listed second; ties keep file order."""
    data = case(
        "kunming",
        [identity("tekun")],
        [
            claim("late", "outpatient_general", "2021-06-01", "150.00", hospital_level=1),
            claim("tie1", "outpatient_general", "2021-03-01", "120.00", hospital_level=1),
            claim("tie2", "outpatient_general", "2021-03-01", "120.00", hospital_level=1),
        ],
    )
    out = run(data)
    assert [c["ref"] for c in out["claims"]] == ["late", "tie1", "tie2"]
    totals = {c["ref"]: c["total"] for c in out["claims"]}
    assert totals == {"tie1": "120.00", "tie2": "80.00", "late": "0.00"}


def test_ineligible_claim_shape():
    data = case(
        "yunnan", [identity("dibao")], [claim("a", "outpatient_general", "2023-03-01", "100.00")]
    )
    c = run(data)["claims"][0]
    assert (c["eligible"], c["reason"], c["ratio"]) == (False, "kind_not_covered", None)
    assert (
        c["assistance"] == c["tilted_assistance"] == c["total"] == c["deductible_applied"] == "0.00"
    )


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (lambda d: d.update(policy="atlantis"), "unknown_policy", "policy"),
        (lambda d: d.pop("policy"), "missing_field", "policy"),
        (
            lambda d: d["person"]["identities"][0].update(code="king"),
            "unknown_identity",
            "person.identities[0].code",
        ),
        (lambda d: d["claims"][0].update(kind="massage"), "unknown_kind", "claims[0].kind"),
        (lambda d: d["claims"][0].pop("discharged"), "missing_field", "claims[0].discharged"),
        (
            lambda d: d["claims"][0].pop("in_policy_cost"),
            "missing_field",
            "claims[0].in_policy_cost",
        ),
        (
            lambda d: d["claims"][0].pop("hospital_level"),
            "missing_field",
            "claims[0].hospital_level",
        ),
        (lambda d: d.pop("person"), "missing_field", "person"),
        (
            lambda d: d["claims"][0].update(discharged="2023-02-30"),
            "invalid_field",
            "claims[0].discharged",
        ),
        (
            lambda d: d["claims"][0].update(discharged="12/04/2023"),
            "invalid_field",
            "claims[0].discharged",
        ),
        (
            lambda d: d["claims"][0].update(in_policy_cost=30000),
            "invalid_field",
            "claims[0].in_policy_cost",
        ),
        (
            lambda d: d["claims"][0].update(in_policy_cost="3e4"),
            "invalid_field",
            "claims[0].in_policy_cost",
        ),
        (
            lambda d: d["claims"][0].update(in_policy_cost="1.234"),
            "invalid_field",
            "claims[0].in_policy_cost",
        ),
        (
            lambda d: d["claims"][0].update(hospital_level=4),
            "invalid_field",
            "claims[0].hospital_level",
        ),
        (lambda d: d["claims"][0].update(referred="yes"), "invalid_field", "claims[0].referred"),
        (
            lambda d: d["claims"][0].update(hospital_fee_class="first"),
            "invalid_field",
            "claims[0].hospital_fee_class",
        ),
        (
            lambda d: d["claims"][0].update(settlement="cash"),
            "invalid_field",
            "claims[0].settlement",
        ),
        (
            lambda d: d["claims"][0].update(chronic_category=5),
            "invalid_field",
            "claims[0].chronic_category",
        ),
        (lambda d: d["claims"].append(dict(d["claims"][0])), "invalid_field", "claims[1].ref"),
        (lambda d: d.update(claims={}), "invalid_field", "claims"),
        (
            lambda d: d["claims"][0].update(basic_insurance_paid="-1.00"),
            "negative_amount",
            "claims[0].basic_insurance_paid",
        ),
        (
            lambda d: d["claims"][0].update(critical_illness_paid="15000.00"),
            "inconsistent_amounts",
            "claims[0].in_policy_cost",
        ),
        (
            lambda d: d["claims"][0].update(total_cost="100.00"),
            "inconsistent_amounts",
            "claims[0].total_cost",
        ),
        (
            lambda d: d["claims"][0].update(admitted="2023-05-01"),
            "inconsistent_dates",
            "claims[0].admitted",
        ),
        (
            lambda d: d["claims"][0].update(applied="2023-04-01"),
            "inconsistent_dates",
            "claims[0].applied",
        ),
        (
            lambda d: d["person"]["identities"][0].update(end="2022-01-01"),
            "inconsistent_dates",
            "person.identities[0].end",
        ),
        (
            lambda d: d["claims"][0].update(discharged="2022-12-31"),
            "date_before_policy",
            "claims[0].discharged",
        ),
        (
            lambda d: d.update(parameters={"colour": "red"}),
            "unknown_parameter",
            "parameters.colour",
        ),
        (
            lambda d: d.update(parameters={"annual_cap": "lots"}),
            "invalid_field",
            "parameters.annual_cap",
        ),
        (
            lambda d: d.update(parameters={"annual_cap": 30000}),
            "invalid_field",
            "parameters.annual_cap",
        ),
        (
            lambda d: d.update(premium={"year": 2024, "on": "2023-10-01"}),
            "missing_field",
            "premium.individual_contribution",
        ),
        (
            lambda d: d.update(
                premium={"year": 2024, "individual_contribution": "1.00", "on": "2021-01-01"}
            ),
            "date_before_policy",
            "premium.on",
        ),
    ],
)
def test_error_codes(mutate, code, field):
    data = deepcopy(BASE)
    mutate(data)
    error = error_of(data)
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"] and not error["message"].isascii()  # Chinese for the clerk


def test_bad_json():
    error = error_of('{"policy": "baoshan", ')
    assert (error["code"], error["field"]) == ("invalid_json", None)
    assert error_of("[1, 2]")["code"] == "invalid_json"
    with pytest.raises(CaseError):
        parse_case_json(b"\xff\xfe")


def test_json_text_round_trip():
    out = preview(json.dumps(BASE))
    assert out["totals"]["total"] == "6783.78"


def test_overrides_are_accepted_by_name():
    data = deepcopy(BASE)
    data["parameters"] = {"per_capita_disposable_income": "30000", "annual_cap": "1000"}
    c = run(data)["claims"][0]
    assert (c["deductible_applied"], c["total"]) == ("3000.00", "1000.00")


def test_parameters_hash_changes_with_overrides():
    from medaid.policy import decide

    plain = decide(parse_case(BASE)).claims[0]
    data = deepcopy(BASE)
    data["parameters"] = {"annual_cap": "1000"}
    changed = decide(parse_case(data)).claims[0]
    assert plain.parameters_hash != changed.parameters_hash
    assert plain.policy_version == changed.policy_version == "2023-01-01"
    assert plain.parameters_hash == decide(parse_case(BASE)).claims[0].parameters_hash
