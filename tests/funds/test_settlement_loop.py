"""A posted settlement reaches the applications it paid, once; a reversed payment voucher opens
its claims again for the next run, which pays exactly what the reversal took back."""

import datetime as dt
from decimal import Decimal

import pytest

from claims.models import Adjustment, Application, Claim, Decision
from funds.models import SettlementLine, SettlementStatement
from funds.services import entry_reverse
from medaid.core.models import OutboxEvent
from medaid.core.outbox import outbox_dispatch
from tests.funds.conftest import at, fund, make_claim
from tests.money_support import settle


def _application_for(claim, state):
    app = Application.objects.create(
        number=f"A{claim.pk}", person=claim.person, county=claim.county, applied=claim.discharged
    )
    Application.objects.filter(pk=app.pk).update(state=state)
    Claim.objects.filter(pk=claim.pk).update(application=app)
    return Application.objects.get(pk=app.pk)


@pytest.fixture
def month(county, hospitals, accounts):
    h1, _, _ = hospitals
    direct = make_claim(county, h1, "100.10")
    counter = make_claim(county, h1, "40.00", settlement="application")
    app = _application_for(counter, Application.State.APPROVED)
    fund(accounts, county, 1000)
    return direct, counter, app


def _paid_total(claim) -> Decimal:
    return sum(
        (line.amount for line in SettlementLine.objects.filter(claim=claim, reopened=False)),
        Decimal("0"),
    )


def test_settled_applications_are_paid_once(county, month):
    _, _, app = month
    settle(county=county, year=2024, month=5)
    assert OutboxEvent.objects.filter(topic="settlement.posted").count() == 1
    assert outbox_dispatch()["delivered"] == 1
    app.refresh_from_db()
    assert app.state == Application.State.PAID
    assert app.transitions.filter(target=Application.State.PAID).count() == 1

    # The same fact told again (a second delivery, a duplicate event) pays nothing twice.
    event = OutboxEvent.objects.get(topic="settlement.posted")
    OutboxEvent.objects.create(topic=event.topic, payload=event.payload, key=event.key)
    outbox_dispatch()
    assert app.transitions.filter(target=Application.State.PAID).count() == 1


def test_a_reversed_voucher_reopens_its_claims_for_the_next_run(county, month):
    direct, counter, app = month
    run = settle(county=county, year=2024, month=5)
    outbox_dispatch()
    individuals = run.statements.get(payee="individuals")
    reversal = entry_reverse(
        entry=individuals.entry, date=dt.date(2024, 6, 3), document_ref="CX-1", memo="账号错误"
    )
    assert reversal.reverses_id == individuals.entry_id
    counter.refresh_from_db()
    assert counter.status == Claim.Status.ACCEPTED
    assert SettlementLine.objects.get(claim=counter).reopened
    direct.refresh_from_db()
    assert direct.status == Claim.Status.SETTLED  # another statement's voucher stands
    outbox_dispatch()
    app.refresh_from_db()
    assert app.state == Application.State.APPROVED

    # June's run pays the reopened claim again, at what the reversal took back.
    june = settle(county=county, year=2024, month=6)
    again = june.statements.get(payee="individuals")
    assert again.total == Decimal("40.00")
    assert SettlementStatement.objects.filter(run=june).count() == 1
    counter.refresh_from_db()
    assert counter.status == Claim.Status.SETTLED
    assert _paid_total(counter) == Decimal("40.00")
    outbox_dispatch()
    app.refresh_from_db()
    assert app.state == Application.State.PAID


def test_a_restaged_claim_keeps_its_adjustments_whole(county, hospitals, accounts):
    """Paid 100 in May, +10 adjustment paid in June, May's voucher reversed: July pays 100
    again (the current decision of 110 less the 10 that stands)."""
    h1, _, _ = hospitals
    claim = make_claim(county, h1, "100.00")
    fund(accounts, county, 1000)
    may = settle(county=county, year=2024, month=5)
    old = Decision.objects.get(claim=claim)
    Decision.objects.filter(pk=old.pk).update(is_current=False)
    new = Decision.objects.create(
        claim=claim,
        eligible=True,
        policy_code="baoshan",
        policy_version="2024",
        parameters_hash="y",
        policy_self_pay=Decimal("3000"),
        assistance=Decimal("110.00"),
        total=Decimal("110.00"),
    )
    Decision.objects.filter(pk=new.pk).update(decided_at=at(dt.date(2024, 6, 10)))
    adjustment = Adjustment.objects.create(
        claim=claim, decision=new, previous_decision=old, amount=Decimal("10.00"), reason="重算"
    )
    Adjustment.objects.filter(pk=adjustment.pk).update(created_at=at(dt.date(2024, 6, 10)))
    june = settle(county=county, year=2024, month=6)
    assert june.statements.get().total == Decimal("10.00")
    entry_reverse(entry=may.statements.get().entry, date=dt.date(2024, 7, 2), document_ref="CX-2")
    july = settle(county=county, year=2024, month=7)
    assert july.statements.get().total == Decimal("100.00")
    assert _paid_total(claim) == Decimal("110.00")
