"""Reversals and re-sends the platform's way, and our figure against maf_pay on all five
jurisdictions."""

from decimal import Decimal

import pytest

from claims.models import (
    REVERSED_REASON,
    Adjustment,
    Claim,
    Decision,
    DecisionRun,
    LineError,
    ReviewReason,
)
from claims.platform import fixtures, selectors, services
from claims.platform.models import PlatformSettlement
from claims.services import ClaimsError
from tests.claims.conftest import make_user
from tests.claims.platform.conftest import (
    JURISDICTIONS,
    YEAR,
    YEAR_OF_PACK,
    declare,
    jurisdiction,
    records,
)

D = Decimal


@pytest.mark.django_db
@pytest.mark.parametrize("by_flag", [True, False])
def test_a_reversal_takes_the_claim_out_of_the_year(pingshun, by_flag):
    rows = records(pingshun, n=10)
    declare(rows)
    original = rows[3]
    reversal = fixtures.reversal_of(original, setl_id="R1", by_flag=by_flag)
    declaration = declare([reversal], month=4)
    claim = Claim.objects.get(external_ref=original["setl_id"])
    assert claim.status == Claim.Status.REJECTED
    assert claim.platform.outcome == PlatformSettlement.Outcome.REVERSED
    line = declaration.lines.get()
    assert line.error == LineError.REVERSAL and "冲销原明细" in line.error_detail
    assert declaration.lines_refused == 0  # a reversal applied is a note, not a refusal
    # The person's year was recomputed by a run of the reversal's declaration.
    assert declaration.runs.filter(status="done").exists()


def _reversal_run(claim):
    decision = Decision.objects.get(claim=claim, is_current=True)
    assert decision.run is not None and decision.run.kind == DecisionRun.Kind.REVERSAL
    return decision


@pytest.mark.django_db
def test_a_settled_claim_reversed_gets_an_adjustment_of_minus_what_was_paid(pingshun):
    rows = records(pingshun, n=5)
    declare(rows)
    claim = Claim.objects.get(external_ref=rows[0]["setl_id"])
    paid = claim.decisions.get(is_current=True)
    assert paid.total > 0
    Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.SETTLED)
    declare([fixtures.reversal_of(rows[0], setl_id="R9", by_flag=False)], month=4)
    # Written by the reversal's decision run, as every decision is: a decision of 0 current,
    # the paid one kept as history, the adjustment recovering it to the cent.
    zero = _reversal_run(claim)
    assert (zero.total, zero.eligible, zero.reason) == (0, False, REVERSED_REASON)
    assert zero.get_reason_display() == "医保平台已冲销该结算"
    assert "收回" in zero.trace[0]
    adjustment = Adjustment.objects.get(claim=claim)
    assert adjustment.amount == -paid.total
    assert (adjustment.decision, adjustment.previous_decision) == (zero, paid)
    assert adjustment.decision.run.adjustments_written == 1
    claim.refresh_from_db()
    assert claim.status == Claim.Status.REJECTED
    assert claim.review_reason == ReviewReason.PLATFORM_REVERSAL


@pytest.mark.django_db
def test_an_unsettled_claim_reversed_gets_a_decision_of_0_and_no_adjustment(pingshun):
    rows = records(pingshun, n=5)
    declare(rows)
    claim = Claim.objects.get(external_ref=rows[1]["setl_id"])
    assert claim.status == Claim.Status.ACCEPTED
    declare([fixtures.reversal_of(rows[1], setl_id="R8", by_flag=True)], month=4)
    assert _reversal_run(claim).total == 0
    assert not Adjustment.objects.exists()
    assert Decision.objects.filter(claim=claim).count() == 2
    claim.refresh_from_db()
    assert claim.status == Claim.Status.REJECTED


@pytest.mark.django_db
@pytest.mark.parametrize("settled", [True, False])
def test_a_reversal_recomputes_the_persons_later_claims(pingshun, settled):
    """Taking the first of a person's two claims out of the year decides the second again
    without it, in the same run; settled, the change is an adjustment to the cent."""
    from claims.services import recompute_preview

    rows = records(pingshun, n=40, seed=5)
    by_person: dict[str, list[dict]] = {}
    for row in rows:
        by_person.setdefault(row["certno"], []).append(row)
    pairs = [p for p in by_person.values() if len(p) == 2]
    assert pairs
    declare(rows)
    firsts = [Claim.objects.get(external_ref=a["setl_id"]) for a, _ in pairs]
    seconds = [Claim.objects.get(external_ref=b["setl_id"]) for _, b in pairs]
    before = {c.pk: c.decisions.get(is_current=True).total for c in seconds}
    if settled:
        Claim.objects.filter(pk__in=[c.pk for c in firsts + seconds]).update(
            status=Claim.Status.SETTLED
        )
    reversals = [
        fixtures.reversal_of(a, setl_id=f"R{i}", by_flag=False) for i, (a, _) in enumerate(pairs)
    ]
    declare(reversals, month=4)
    for first in firsts:
        assert _reversal_run(first).total == 0
    moved = 0
    for second in seconds:
        now = second.decisions.get(is_current=True)
        if now.total == before[second.pk]:
            assert not Adjustment.objects.filter(claim=second).exists()
            continue
        moved += 1
        assert now.run.kind == DecisionRun.Kind.REVERSAL
        adjustments = Adjustment.objects.filter(claim=second)
        if settled:
            assert adjustments.get().amount == now.total - before[second.pk]
        else:
            assert not adjustments.exists()
    assert moved, "no later claim depended on the reversed one"
    # What is stored is what the engine decides now without the reversed claims.
    people = Claim.objects.filter(pk__in=[c.pk for c in seconds]).values("person_id")
    assert recompute_preview(people=people, year=YEAR) == []


@pytest.mark.django_db
def test_a_reversal_in_the_same_file_leaves_neither_line_a_claim(pingshun):
    rows = records(pingshun, n=4)
    rows.append(fixtures.reversal_of(rows[1], setl_id="R2", by_flag=False))
    declaration = declare(rows)
    assert not Claim.objects.filter(external_ref=rows[1]["setl_id"]).exists()
    assert Claim.objects.count() == 3 and declaration.lines_refused == 0


@pytest.mark.django_db
def test_a_reversal_of_an_unknown_setl_id_is_a_row_error(pingshun):
    rows = records(pingshun, n=2)
    declaration = declare([fixtures.reversal_of(rows[0], setl_id="R3", by_flag=False)])
    line = declaration.lines.get()
    assert line.error == LineError.UNKNOWN_REVERSAL and declaration.lines_refused == 1


@pytest.mark.django_db
def test_a_resend_with_the_same_content_changes_nothing_and_a_changed_one_goes_to_review(
    pingshun,
):
    rows = records(pingshun, n=6)
    declare(rows)
    before = dict(Claim.objects.values_list("external_ref", "status"))
    changed = {
        **rows[1],
        "medfee_sumamt": rows[1]["medfee_sumamt"],
        "setl_time": "2024-03-31 23:59:59",
    }
    declaration = declare([rows[0], changed], month=4)
    errors = dict(declaration.lines.values_list("external_ref", "error"))
    assert errors == {
        rows[0]["setl_id"]: LineError.RESENT_SAME,
        rows[1]["setl_id"]: LineError.RESENT_CHANGED,
    }
    assert Claim.objects.count() == 6
    assert Claim.objects.get(external_ref=rows[0]["setl_id"]).status == before[rows[0]["setl_id"]]
    resent = Claim.objects.get(external_ref=rows[1]["setl_id"])
    assert resent.status == Claim.Status.REVIEW
    assert resent.review_reason == ReviewReason.PLATFORM_RESEND


@pytest.mark.django_db
@pytest.mark.parametrize("policy_code", sorted(JURISDICTIONS))
def test_our_figure_against_maf_pay_on_each_jurisdiction(policy_code):
    county = jurisdiction(policy_code, people=24)
    rows = records(county, n=40, wrong_identity=0.5, seed=7)
    assert any(r["psn_idet_type"] for r in rows)
    declare(rows, year=YEAR_OF_PACK.get(policy_code, YEAR))
    settlements = PlatformSettlement.objects.filter(claim__county=county)
    assert settlements.count() == 40
    assert not settlements.filter(outcome="pending").exists()
    mismatched = settlements.filter(outcome=PlatformSettlement.Outcome.MISMATCH)
    assert mismatched.exists(), policy_code
    for s in mismatched:
        decision = s.claim.decisions.get(is_current=True)
        assert s.ours == decision.total and s.difference == s.maf_pay - decision.total != 0
        assert s.claim.status == Claim.Status.REVIEW
        assert s.reason in PlatformSettlement.Reason.values
    # The generator's wrong identities are named as such.
    assert mismatched.filter(reason=PlatformSettlement.Reason.IDENTITY).exists()
    for s in settlements.filter(outcome=PlatformSettlement.Outcome.MATCH):
        assert s.maf_pay == s.claim.decisions.get(is_current=True).total
        assert s.claim.status == Claim.Status.ACCEPTED
    report = selectors.mismatch_report(settlements)
    assert sum(r.count for r in report) == mismatched.count()
    assert sum(r.difference for r in report) == sum(s.difference for s in mismatched)
    assert any("身份不同" in r.top_reasons for r in report if r.count)


@pytest.mark.django_db
def test_the_reviewer_keeps_ours_or_records_why_the_platforms_stands(pingshun):
    rows = records(pingshun, n=30, wrong_identity=0.6, seed=3)
    declare(rows)
    first, second = PlatformSettlement.objects.filter(outcome="mismatch")[:2]
    reviewer = make_user("rev", pingshun, ["claims.review_claim"])
    services.platform_review_resolve(settlement=first, by=reviewer, platform_stands=False)
    first.refresh_from_db()
    assert first.outcome == PlatformSettlement.Outcome.KEPT_OURS
    assert first.claim.status == Claim.Status.ACCEPTED
    with pytest.raises(ClaimsError):
        services.platform_review_resolve(settlement=second, by=reviewer, platform_stands=True)
    services.platform_review_resolve(
        settlement=second, by=reviewer, platform_stands=True, note="平台身份为民政最新认定"
    )
    second.refresh_from_db()
    assert second.outcome == PlatformSettlement.Outcome.PLATFORM_STANDS
    assert second.review_note == "平台身份为民政最新认定" and second.reviewed_by == reviewer
    with pytest.raises(ClaimsError):
        services.platform_review_resolve(settlement=second, by=reviewer, platform_stands=False)


@pytest.mark.django_db
def test_the_clearing_summary_adds_up_the_cleared_claims(pingshun):
    rows = records(pingshun, n=25)
    declare(rows)
    summary = selectors.clearing_summary(PlatformSettlement.objects.all(), year=2024, month=3)
    assert sum(r.visits for r in summary) == 25
    assert sum(r.total_cost for r in summary) == sum(D(r["medfee_sumamt"]) for r in rows)
    assert sum(r.assistance for r in summary) == sum(D(r["maf_pay"]) for r in rows)


@pytest.mark.django_db
def test_the_two_reports_write_excel(pingshun, tmp_path):
    from openpyxl import load_workbook

    from claims.platform.exports import platform_clearing_build, platform_mismatches_build
    from medaid.core.xlsx import write_workbook

    declare(records(pingshun, n=30, wrong_identity=0.5, seed=3))
    user = make_user("fin", pingshun, ["claims.view_platformsettlement"])
    for build in (platform_mismatches_build, platform_clearing_build):
        report = build(user=user, county=pingshun, parameters={"period": "2024-03"})
        path = tmp_path / report.filename
        write_workbook(path, report.reports)
        sheet = load_workbook(path).active
        assert sheet.max_row > 3


@pytest.mark.django_db
def test_a_persons_record_left_after_a_reversal_in_the_file_is_named_for_the_reversal(db):
    """The generator's maf_pay of a person's later record counts the earlier one, which the
    same file then reverses: our run decides the year without it, so the later record differs
    with the same identity — for the reversal, not for a rule computed differently."""
    county = jurisdiction("pingshun", people=60)
    rows = records(county, n=50, seed=5)
    by_person: dict[str, list[dict]] = {}
    for row in rows:
        by_person.setdefault(row["certno"], []).append(row)
    pairs = [p for p in by_person.values() if len(p) == 2]
    reversals = [
        fixtures.reversal_of(a, setl_id=f"R{i}", by_flag=False) for i, (a, _) in enumerate(pairs)
    ]
    declare(rows + reversals)
    later = PlatformSettlement.objects.filter(setl_id__in=[b["setl_id"] for _, b in pairs])
    moved = later.filter(outcome=PlatformSettlement.Outcome.MISMATCH)
    assert moved.exists()
    for s in moved:
        assert s.platform_identity == s.our_identity
        assert s.reason == PlatformSettlement.Reason.REVERSAL
    # Nobody else's amount mismatch is put down to a reversal.
    others = PlatformSettlement.objects.exclude(pk__in=later.values("pk"))
    assert not others.filter(reason=PlatformSettlement.Reason.REVERSAL).exists()
