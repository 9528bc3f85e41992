"""The claim figures' rules are one list (claims.services.checks.FIGURE_RULES) read two ways:
`claim_figures_errors` on one claim and the set-based SQL of `declarations_check` over staged
lines. Both must refuse the same claims, for the same first reason and detail."""

import datetime as dt
from decimal import Decimal

import pytest

from claims import services
from claims.models import Declaration, DeclarationLine, LineError
from claims.services.checks import FIGURE_RULES, claim_figures_errors

D = Decimal

GOOD = {
    "admitted": dt.date(2024, 3, 1),
    "discharged": dt.date(2024, 3, 10),
    "total_cost": D("10000.00"),
    "in_policy_cost": D("9000.00"),
    "out_of_catalog_cost": D("1000.00"),
    "basic_insurance_paid": D("5000.00"),
    "critical_illness_paid": D("1000.00"),
    "other_paid": D("0.00"),
    "declared_assistance": D("2000.00"),
}

CASES = {
    "good": {},
    # A missing in-policy cost is a missing field on both paths, never a cost of 0 (the
    # Python check once took it as 0 and refused "paid exceeds cost"; the SQL let it pass).
    "no_in_policy": {"in_policy_cost": None},
    "no_in_policy_nothing_paid": {
        "in_policy_cost": None,
        "basic_insurance_paid": D("0"),
        "critical_illness_paid": D("0"),
    },
    **{f"negative_{name}": {name: D("-1.00")} for name in services.MONEY_FIELDS},
    "negative_declared_assistance": {"declared_assistance": D("-1.00")},
    "back": {"admitted": dt.date(2024, 3, 12)},
    "paid": {"basic_insurance_paid": D("8500.00")},
    "paid_missing_parts_count_as_zero": {
        "basic_insurance_paid": D("9000.01"),
        "critical_illness_paid": None,
        "other_paid": None,
    },
    "cost": {"total_cost": D("9999.99")},
    "cost_missing_out_of_catalog": {"total_cost": D("8999.99"), "out_of_catalog_cost": None},
    "no_total": {"total_cost": None},
    "no_paid": {"basic_insurance_paid": None, "critical_illness_paid": None, "other_paid": None},
    "no_admission": {"admitted": None},
    # Several problems: the first rule broken is the reason.
    "negative_and_back": {"other_paid": D("-1"), "admitted": dt.date(2024, 3, 12)},
    "paid_and_cost": {"basic_insurance_paid": D("9500"), "total_cost": D("100")},
}


def python_reason(data):
    errors = claim_figures_errors(data)
    return errors[0] if errors else ("", "")


@pytest.mark.django_db
def test_python_and_sql_refuse_the_same_lines_for_the_same_reason(hospital, tekun):
    declaration = Declaration.objects.create(
        hospital=hospital, year=2024, month=3, channel=Declaration.Channel.API, file_hash="x"
    )
    for line_no, (ref, change) in enumerate(CASES.items(), start=1):
        DeclarationLine.objects.create(
            declaration=declaration,
            line_no=line_no,
            hospital_code=hospital.code,
            id_number=tekun.id_number,
            name=tekun.name,
            external_ref=ref,
            kind="inpatient",
            **{**GOOD, **change},
        )
    services.declarations_check(declarations=[declaration])
    sql = {line.external_ref: (line.error, line.error_detail) for line in declaration.lines.all()}
    for ref, change in CASES.items():
        code, message = python_reason({**GOOD, **change})
        error, detail = sql[ref]
        assert error == code, ref
        if error:
            label = LineError(error).label
            assert message == (f"{label}：{detail}" if detail else label), ref

    assert sql["good"] == ("", "")
    assert sql["no_in_policy"] == (LineError.MISSING_FIELD, "in_policy_cost")
    assert sql["negative_other_paid"] == (LineError.NEGATIVE_AMOUNT, "other_paid")
    assert sql["negative_and_back"][0] == LineError.NEGATIVE_AMOUNT
    assert sql["paid_and_cost"][0] == LineError.PAID_EXCEEDS_COST
    assert sql["paid_missing_parts_count_as_zero"][0] == LineError.PAID_EXCEEDS_COST
    assert sql["cost_missing_out_of_catalog"][0] == LineError.COST_MISMATCH
    for ref in ("no_total", "no_paid", "no_admission"):
        assert sql[ref] == ("", ""), ref
    # Every rule is shown breaking by at least one case.
    reasons = {python_reason({**GOOD, **change}) for change in CASES.values()}
    assert {(rule.code, rule.message) for rule in FIGURE_RULES} <= reasons


@pytest.mark.django_db
def test_a_counter_claim_without_in_policy_cost_is_refused_as_incomplete(dibao, clerk, hospital_b):
    receipt = {
        "hospital": "H002",
        "kind": "inpatient",
        "discharged": dt.date(2024, 4, 1),
        "basic_insurance_paid": D("100"),
        "receipt_numbers": "PJ1",
    }
    with pytest.raises(services.ClaimsError) as err:
        services.application_create(
            person=dibao, applied=dt.date(2024, 4, 2), created_by=clerk, claims=[receipt]
        )
    assert err.value.code == LineError.MISSING_FIELD
    assert "in_policy_cost" in err.value.message
