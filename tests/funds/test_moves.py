"""Maker–checker for money moves (funds.moves): proposed by one person with a reason, posted only
when a second person holding the checker permission approves it; both people and both reasons
in the audit and on the printed voucher."""

import datetime as dt
from decimal import Decimal

import pytest

from funds import moves
from funds.models import (
    AccountKind,
    Entry,
    EntryKind,
    FundSource,
    MoneyMove,
    SettlementRun,
)
from funds.services import FundsError
from funds.settlement import settlement_run
from tests.funds.conftest import fund, make_claim
from tests.medaid.conftest import make_user

Kind, State = MoneyMove.Kind, MoneyMove.State
DAY = dt.date(2024, 4, 1)


@pytest.fixture
def maker(county):
    return make_user("finance_maker", "finance", county=county)


@pytest.fixture
def checker(county):
    return make_user("finance_checker", "finance", county=county)


def receipt_move(accounts, maker, *, county_id=None, date=DAY, amount="88.80") -> MoneyMove:
    return moves.move_propose(
        kind=Kind.MANUAL_ENTRY,
        maker=maker,
        reason="福彩公益金到账",
        entry_kind=EntryKind.RECEIPT,
        source=FundSource.LOTTERY,
        to_account=accounts[(county_id, AccountKind.FISCAL)],
        amount=amount,
        date=date,
        document_ref="保民福〔2024〕1号",
    )


def test_a_proposed_entry_posts_nothing_until_a_second_person_approves_it(
    county, accounts, maker, checker
):
    fiscal = accounts[(county.pk, AccountKind.FISCAL)]
    move = receipt_move(accounts, maker, county_id=county.pk)
    assert (move.state, move.amount, move.maker, move.maker_reason) == (
        State.PENDING,
        Decimal("88.80"),
        maker,
        "福彩公益金到账",
    )
    assert [line["amount"] for line in move.lines] == ["-88.80", "88.80"]
    assert fiscal.balance() == 0 and not Entry.objects.exists()

    with pytest.raises(FundsError) as err:
        moves.move_approve(move=move, checker=maker, reason="我自己批")
    assert err.value.code == "checker_is_maker" and "复核人不能是制单人" in err.value.message
    assert fiscal.balance() == 0

    move = moves.move_approve(move=move, checker=checker, reason="已核对到账通知")
    assert (move.state, move.checker, move.checker_reason) == (
        State.POSTED,
        checker,
        "已核对到账通知",
    )
    assert move.checked_at is not None and move.posted_at is not None
    assert fiscal.balance() == Decimal("88.80")
    entry = Entry.objects.get()
    assert (entry.move, entry.created_by) == (move, checker)


def test_both_decisions_need_a_reason_and_the_checker_permission(county, accounts, maker, checker):
    move = receipt_move(accounts, maker, county_id=county.pk)
    supervisor = make_user("shenhe", "supervisor", county=county)
    with pytest.raises(FundsError) as err:
        moves.move_approve(move=move, checker=supervisor, reason="同意")
    assert err.value.code == "permission_denied" and "复核资金变动" in err.value.message
    with pytest.raises(FundsError) as err:
        moves.move_approve(move=move, checker=checker, reason="  ")
    assert (err.value.code, err.value.field) == ("reason_required", "checker_reason")
    with pytest.raises(FundsError) as err:
        moves.move_propose(
            kind=Kind.MANUAL_ENTRY,
            maker=maker,
            reason="",
            entry_kind=EntryKind.RECEIPT,
            source=FundSource.LOTTERY,
            to_account=accounts[(county.pk, AccountKind.FISCAL)],
            amount="1.00",
            date=DAY,
            document_ref="X",
        )
    assert (err.value.code, err.value.field) == ("reason_required", "maker_reason")
    with pytest.raises(FundsError) as err:
        receipt_move(accounts, supervisor, county_id=county.pk)
    assert err.value.code == "permission_denied"


def test_a_refused_move_posts_nothing_and_cannot_be_approved_afterwards(
    county, accounts, maker, checker
):
    move = receipt_move(accounts, maker, county_id=county.pk)
    move = moves.move_refuse(move=move, checker=checker, reason="文号与到账通知不符")
    assert (move.state, move.checker_reason) == (State.REFUSED, "文号与到账通知不符")
    with pytest.raises(FundsError) as err:
        moves.move_approve(move=move, checker=checker, reason="再批")
    assert err.value.code == "move_not_pending"
    assert not Entry.objects.exists()


def test_a_checker_of_another_county_cannot_decide(county, other_county, accounts, maker):
    move = receipt_move(accounts, maker, county_id=county.pk)
    stranger = make_user("shidian_finance", "finance", county=other_county)
    with pytest.raises(FundsError) as err:
        moves.move_approve(move=move, checker=stranger, reason="同意")
    assert err.value.code == "out_of_scope"
    with pytest.raises(FundsError) as err:
        receipt_move(accounts, maker)  # the city's account: not the county officer's to move
    assert err.value.code == "out_of_scope"


def test_a_posting_refused_at_approval_leaves_the_move_waiting(county, accounts, maker, checker):
    exp = accounts[(county.pk, AccountKind.EXPENDITURE)]
    move = moves.move_propose(
        kind=Kind.MANUAL_ENTRY,
        maker=maker,
        reason="年末余额缴回",
        entry_kind=EntryKind.YEAR_END_RETURN,
        from_account=exp,
        to_account=accounts[(county.pk, AccountKind.FISCAL)],
        amount="10.00",
        date=DAY,
        document_ref="缴回1",
    )
    with pytest.raises(FundsError) as err:
        moves.move_approve(move=move, checker=checker, reason="同意")
    assert err.value.code == "insufficient_balance"
    move.refresh_from_db()
    assert (move.state, move.checker) == (State.PENDING, None)


def test_a_proposal_is_checked_as_its_posting_will_be(county, accounts, maker):
    with pytest.raises(FundsError) as err:
        moves.move_propose(
            kind=Kind.MANUAL_ENTRY,
            maker=maker,
            reason="拨款",
            entry_kind=EntryKind.TRANSFER,
            from_account=accounts[(county.pk, AccountKind.EXPENDITURE)],
            to_account=accounts[(county.pk, AccountKind.FISCAL)],
            amount="10.00",
            date=DAY,
            document_ref="拨1",
        )
    assert err.value.code == "flow_not_allowed"
    assert not MoneyMove.objects.exists()


def test_a_reversal_is_proposed_once_and_posts_the_negated_entry_today(
    county, hospitals, accounts, maker, checker
):
    exp = fund(accounts, county, 1000)
    receipt = Entry.objects.filter(kind=EntryKind.DISBURSEMENT).get()
    move = moves.move_propose(kind=Kind.REVERSAL, maker=maker, reason="拨款金额有误", entry=receipt)
    assert move.target_entry == receipt and move.amount == Decimal("1000.00")
    with pytest.raises(FundsError) as err:
        moves.move_propose(kind=Kind.REVERSAL, maker=maker, reason="再来一次", entry=receipt)
    assert err.value.code == "move_already_open"
    assert exp.balance() == 1000
    moves.move_approve(move=move, checker=checker, reason="同意冲销")
    reversal = Entry.objects.get(reverses=receipt)
    assert reversal.move == move and reversal.related_ref == receipt.document_ref
    assert exp.balance() == 0
    with pytest.raises(FundsError) as err:
        moves.move_propose(kind=Kind.REVERSAL, maker=maker, reason="又一次", entry=receipt)
    assert err.value.code == "already_reversed"
    with pytest.raises(FundsError) as err:
        moves.move_propose(kind=Kind.REVERSAL, maker=maker, reason="冲销的冲销", entry=reversal)
    assert err.value.code == "reverse_reversal"


def test_a_settlement_waits_staged_and_posts_only_after_approval(
    county, hospitals, accounts, maker, checker, django_capture_on_commit_callbacks
):
    exp = fund(accounts, county, 1000)
    make_claim(county, hospitals[0], "100.10")
    make_claim(county, hospitals[1], "30.30", settlement="application")
    run = settlement_run(county=county, year=2024, month=5)
    assert run.status == SettlementRun.Status.STAGED
    assert run.statements.count() == 2 and exp.balance() == 1000
    assert settlement_run(county=county, year=2024, month=5).status == "staged"  # still waiting

    move = moves.move_propose(kind=Kind.SETTLEMENT, maker=maker, reason="结算单已核对", run=run)
    assert move.amount == Decimal("130.40")
    assert move.lines[0] == {"account": exp.name, "amount": "-130.40"}
    assert "出院（就诊）日期截至 2024-05-31" in move.summary
    with django_capture_on_commit_callbacks(execute=True):
        move = moves.move_approve(move=move, checker=checker, reason="同意记账")
    assert move.state == State.APPROVED  # the run the approval sent has posted since
    run.refresh_from_db()
    move.refresh_from_db()
    assert run.status == SettlementRun.Status.SUCCEEDED
    assert (move.state, exp.balance()) == (State.POSTED, Decimal("869.60"))
    entries = Entry.objects.filter(settlement_statement__run=run)
    assert entries.count() == 2 and {e.move_id for e in entries} == {move.pk}
    assert {e.created_by_id for e in entries} == {checker.pk}


def test_only_a_staged_run_can_be_proposed(county, hospitals, accounts, maker):
    fund(accounts, county, 1000)
    run = SettlementRun.objects.create(county=county, year=2024, month=5)
    with pytest.raises(FundsError) as err:
        moves.move_propose(kind=Kind.SETTLEMENT, maker=maker, reason="结算", run=run)
    assert err.value.code == "run_not_staged"
