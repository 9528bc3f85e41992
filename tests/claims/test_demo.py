import pytest

from claims.demo import demo_claims_create
from claims.models import Claim, Declaration, Hospital
from tests.claims.conftest import committed, make_person


@pytest.mark.django_db
def test_demo_declares_months_through_the_production_path(county):
    for code in ("tekun", "dibao", "dibao_edge", "fanpin", "rural_monitored") * 4:
        make_person(county, code)
    with committed():
        summary = demo_claims_create(seed=7, months=[(2024, 3), (2024, 4)], per_hospital=6)
    assert Hospital.objects.filter(county=county, in_area=True).count() == 3
    assert summary["declarations"] == 6
    assert set(Declaration.objects.values_list("status", flat=True)) == {"done"}
    accepted = Claim.objects.filter(status=Claim.Status.ACCEPTED).count()
    assert accepted >= summary["claims"] * 0.8
    assert summary["applications"] >= 1
    # The hospital's own figure agrees with medaid's wherever it was not misstated on purpose.
    for claim in Claim.objects.filter(status=Claim.Status.ACCEPTED, source="declaration"):
        assert claim.decisions.get(is_current=True).total == claim.declared_assistance
