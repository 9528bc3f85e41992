"""An approved parameter change reaches the money (issue #16 part 1): it decides a new claim on
and after its date only, the decision's parameters_hash and trace name it, and one that reaches
back recomputes the area's claims through the outbox — a settled claim gets an adjustment.

Pingshun 第十四条（五）: 低保边缘 inpatient deductible 10 % of the published base, 60 %, cap
40 000. The YAML base from 2024-02-01 is 30 924 (deductible 3 092.40); the 2025 base 32 000,
published 2025-01-20, holds from 2025-02-01 (第四十七条): deductible 3 200.00.
"""

import datetime as dt
from decimal import Decimal

import pytest

from beneficiaries import services as registry
from claims.models import Adjustment, Claim, DecisionRun
from medaid.core.outbox import outbox_dispatch
from tests.claims.conftest import make_person
from tests.claims.test_recompute import current, decide_year, manual_claim
from tests.integration_support import require_postgresql
from tests.medaid.conftest import make_user

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def edge(county):
    return make_person(county, "dibao_edge", start=dt.date(2024, 1, 1), name="赵六")


def _approve_base(area, value="32000"):
    officer = make_user("officer", "city_administrator")
    checker = make_user("checker", "city_administrator")
    change = registry.parameter_change_propose(
        pooling_area=area,
        by=officer,
        parameter="per_capita_disposable_income",
        value=value,
        issuer="山西省统计局",
        document_number="晋统公告〔2025〕1号",
        article="2024年全省居民人均可支配收入",
        published_on=dt.date(2025, 1, 20),
        reason="公布新基数",
    )
    registry.parameter_change_submit(change=change, by=officer)
    return registry.parameter_change_approve(change=change, by=checker)


def _deliver(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return outbox_dispatch()


def test_an_approved_change_decides_new_claims_from_its_date_only(area, edge, hospital):
    january = manual_claim(edge, hospital, "J", dt.date(2025, 1, 31), "20000")
    february = manual_claim(edge, hospital, "F", dt.date(2025, 2, 1), "20000")
    decide_year(edge, 2025)
    old_hash, old_total = current(february).parameters_hash, current(february).total
    january_total = current(january).total
    assert current(january).deductible_applied == D("3092.40")  # met in January
    assert current(february).deductible_applied == D("0.00")

    change = _approve_base(area)
    # A new decision (here: a correction run of the year) takes the change from its day on.
    Claim.objects.filter(pk__in=[january.pk, february.pk]).update(status=Claim.Status.ACCEPTED)
    decide_year(edge, 2025)
    assert current(january).deductible_applied == D("3092.40")
    assert current(january).total == january_total  # before the change's day: untouched
    after = current(february)
    # From 02-01 the base is 32 000: the year's deductible rises, so February pays less.
    assert after.total < old_total
    assert after.parameters_hash != old_hash
    assert any(change.key in line and "晋统公告〔2025〕1号" in line for line in after.trace)


def test_a_change_that_reaches_back_recomputes_through_the_outbox_with_adjustments(
    area, edge, hospital, django_capture_on_commit_callbacks
):
    claim = manual_claim(edge, hospital, "M", dt.date(2025, 3, 1), "40000")
    earlier = manual_claim(edge, hospital, "E", dt.date(2024, 11, 1), "10000")
    decide_year(edge, 2025)
    decide_year(edge, 2024)
    before = current(claim)
    assert before.deductible_applied == D("3092.40")
    Claim.objects.filter(pk__in=[claim.pk, earlier.pk]).update(status=Claim.Status.SETTLED)
    earlier_decision = current(earlier).pk

    change = _approve_base(area)
    # Two events: the submission (which starts the approver's replay) and the approval.
    assert _deliver(django_capture_on_commit_callbacks)["delivered"] == 2
    from claims.replay.models import ReplayRun

    assert ReplayRun.objects.filter(parameter_change_id=change.pk).exists()
    run = DecisionRun.objects.get(kind=DecisionRun.Kind.PARAMETER)
    assert run.year == 2025 and run.people == 1 and str(change.pk) in run.reason
    after = current(claim)
    assert after.deductible_applied == D("3200.00")
    # 107.60 more deductible at 60 %: 64.56 less assistance, recovered at the next settlement.
    assert after.assistance == before.assistance - D("64.56")
    adjustment = Adjustment.objects.get(claim=claim)
    assert adjustment.amount == after.total - before.total < 0
    # 2024 lies before the change: not reached.
    assert current(earlier).pk == earlier_decision
    assert not Adjustment.objects.filter(claim=earlier).exists()
    # Delivered once.
    assert _deliver(django_capture_on_commit_callbacks)["delivered"] == 0
    assert Adjustment.objects.filter(claim=claim).count() == 1


@pytest.mark.integration
def test_the_reach_back_on_postgresql(area, edge, hospital, django_capture_on_commit_callbacks):
    require_postgresql()
    test_a_change_that_reaches_back_recomputes_through_the_outbox_with_adjustments(
        area, edge, hospital, django_capture_on_commit_callbacks
    )
