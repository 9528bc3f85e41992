"""Reconciliation (funds.reconciliation): a clean month has no difference; each kind of
difference, injected behind the services' back, is listed with the row that causes it."""

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import RequestFactory
from django.utils import timezone

from beneficiaries.models import Person
from claims import services as claims_services
from claims.models import Application, Claim, Decision
from funds import reconciliation
from funds.models import Account, AccountKind, Entry, SettlementStatement
from funds.reconciliation import reconcile
from medaid.core.models import Job
from medaid.core.outbox import outbox_dispatch
from tests.claims.conftest import make_person, make_user
from tests.funds.conftest import fund
from tests.money_support import settle

D = Decimal


def _claim(county, hospital, person, *, discharged, in_policy="9000.00", basic="5000.00"):
    n = Claim.objects.count() + 1
    return Claim.objects.create(
        person=person,
        county=county,
        hospital=hospital,
        source="manual",
        external_ref=f"REC{n}",
        kind="inpatient",
        admitted=discharged - dt.timedelta(days=4),
        discharged=discharged,
        settlement="direct",
        total_cost=D(in_policy),
        in_policy_cost=D(in_policy),
        basic_insurance_paid=D(basic),
        status="pending",
    )


@pytest.fixture
def month(county, hospitals, accounts):
    """This month, settled: three people's claims decided by the engine (manual claims, paid
    to their hospitals) and a counter application approved by a supervisor (paid to the
    individual) — every figure from the services."""
    today = timezone.localdate()
    discharged = today - dt.timedelta(days=10)
    fund(accounts, county, 200000, day=discharged - dt.timedelta(days=30))
    people = [make_person(county, code="dibao") for _ in range(3)]
    for i, person in enumerate(people):
        _claim(county, hospitals[i % 2], person, discharged=discharged)
        _claim(county, hospitals[2], person, discharged=discharged - dt.timedelta(days=20))
    run = claims_services.run_create(
        kind="recompute",
        year=discharged.year,
        people=Person.objects.filter(pk__in=[p.pk for p in people]).values("id"),
        partitions=1,
    )
    claims_services.run_execute(run=run)
    assert not Claim.objects.exclude(status="accepted").exists()
    clerk = make_user("rec_clerk", county, ["claims.add_application", "claims.submit_application"])
    supervisor = make_user("rec_sup", county, ["claims.approve_application"])
    applicant = make_person(county, code="dibao")
    app = claims_services.application_create(
        person=applicant,
        applied=today,
        created_by=clerk,
        claims=[
            {
                "hospital": hospitals[0].code,
                "kind": "inpatient",
                "admitted": discharged - dt.timedelta(days=3),
                "discharged": discharged,
                "in_policy_cost": D("6000.00"),
                "basic_insurance_paid": D("3500.00"),
                "receipt_numbers": "PJ1",
            }
        ],
    )
    claims_services.application_submit(application=app, by=clerk)
    claims_services.application_approve(application=app, by=supervisor)
    settled = settle(county=county, year=today.year, month=today.month)
    # The claims app hears of the posted statements through the outbox.
    outbox_dispatch()
    app.refresh_from_db()
    assert app.state == Application.State.PAID
    return settled


def _checks(result):
    return {d.check for d in result.differences}


def _rows(result, check):
    return [(r.model, r.id) for d in result.differences if d.check == check for r in d.rows]


def test_a_clean_month_has_no_difference(county, month):
    result = reconcile(county=county, year=month.year, month=month.month, full_recompute=True)
    assert result.differences == [], [d.as_dict() for d in result.differences]
    assert result.recomputed_people == 4
    period = result.period(county.pk, month.year, month.month)
    assert period.statements == month.statements.count()
    assert period.statements_total == period.ledger_total > 0
    assert reconcile().count == 0  # everything, sampled


def test_an_unbalanced_voucher_is_listed(county, month):
    entry = Entry.objects.filter(settlement_statement__run=month).first()
    other = county.fund_accounts.get(kind=AccountKind.FISCAL)
    with connection.cursor() as cursor:
        # Behind the services (and, in this test's transaction, before PostgreSQL's deferred
        # balance trigger would fire at commit).
        cursor.execute(
            "INSERT INTO funds_posting (entry_id, account_id, amount) VALUES (%s, %s, %s)",
            [entry.pk, other.pk, D("1.00")],
        )
    result = reconcile(county=county, year=month.year, month=month.month)
    assert ("funds.Entry", entry.pk) in _rows(result, "entry_unbalanced")
    (difference,) = [d for d in result.differences if d.check == "entry_unbalanced"]
    assert difference.rows[0].actual == D("1.00") and difference.rows[0].expected == 0
    assert (difference.county_id, difference.month) == (county.pk, month.month)
    # Balanced again before the test's end, where Django sets the deferred constraints
    # immediate and PostgreSQL's balance trigger would refuse the entry.
    city = Account.objects.get(code=f"{county.pooling_area.code}:fiscal")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO funds_posting (entry_id, account_id, amount) VALUES (%s, %s, %s)",
            [entry.pk, city.pk, D("-1.00")],
        )
    assert reconcile(county=county, year=month.year, month=month.month).count == 0


def test_a_statement_off_by_a_cent_is_listed(county, month):
    st = month.statements.filter(payee="hospital").first()
    SettlementStatement.objects.filter(pk=st.pk).update(total=F("total") + D("0.01"))
    result = reconcile(county=county, year=month.year, month=month.month)
    assert ("funds.SettlementStatement", st.pk) in _rows(result, "statement_lines")
    assert ("funds.Entry", st.entry_id) in _rows(result, "entry_amount")
    assert {"ledger_total", "report_totals"} <= _checks(result)
    (row,) = [
        r
        for d in result.differences
        if d.check == "statement_lines"
        for r in d.rows
        if "应付合计" in r.explanation
    ][:1]
    assert row.expected - row.actual == D("0.01")


def test_an_application_approved_and_settled_but_not_paid_is_listed(county, month):
    app = Application.objects.get()
    Application.objects.filter(pk=app.pk).update(state=Application.State.APPROVED)
    result = reconcile(county=county, year=month.year, month=month.month)
    assert _rows(result, "application_not_paid") == [("claims.Application", app.pk)]
    assert _checks(result) == {"application_not_paid"}


def test_a_decision_changed_behind_the_engines_back_is_listed(county, month):
    claim = Claim.objects.filter(settlement="direct").order_by("pk").first()
    decision = claim.decisions.get(is_current=True)
    Decision.objects.filter(pk=decision.pk).update(
        assistance=F("assistance") + D("5.00"), total=F("total") + D("5.00")
    )
    result = reconcile(county=county, year=month.year, month=month.month, full_recompute=True)
    assert ("claims.Decision", decision.pk) in _rows(result, "decision_changed")
    assert ("claims.Decision", decision.pk) in _rows(result, "recompute_differs")
    (row,) = [r for d in result.differences if d.check == "recompute_differs" for r in d.rows]
    assert row.actual - row.expected == D("5.00")


def test_the_command_prints_each_difference_and_exits_1(county, month):
    out = io.StringIO()
    call_command("reconcile", "--county", county.code, stdout=out)
    assert json.loads(out.getvalue().strip().splitlines()[-1])["differences"] == 0
    assert "账实相符" in out.getvalue()
    Application.objects.update(state=Application.State.APPROVED)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("reconcile", "--year", str(month.year), "--full", stdout=out)
    assert exit_.value.code == 1
    text = out.getvalue()
    assert "申请已批准已结算未支付" in text and "claims.Application#" in text
    assert json.loads(text.strip().splitlines()[-1])["differences"] == 1


def test_the_nightly_task_records_a_job_the_dashboard_shows(county, month, monkeypatch):
    from funds.tasks import reconcile_nightly
    from medaid import dashboard
    from medaid.core.models import User

    result = reconcile_nightly.apply().get()
    job = Job.objects.get(pk=result["job_id"])
    assert job.kind == reconciliation.JOB_KIND and job.status == Job.Status.SUCCEEDED
    assert job.result["differences"] == result["differences"] == 0
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("rec_admin", password="x" * 12)
    panel = dashboard.reconciliation(request)
    assert panel.title == "对账"
    items = {i.label: i for i in panel.items}
    assert items["差异数"].value == 0
    assert str(job.pk) in items["差异数"].url
