"""Money moves as production makes them, for tests that need money posted: one person proposes
(`funds.moves.move_propose`), another approves (`move_approve`), and what the approval sends is
run in-process."""

from __future__ import annotations

from funds.models import MoneyMove, SettlementRun
from funds.moves import move_approve, move_propose
from funds.settlement import settlement_run
from medaid.core.models import User


def person(username: str) -> User:
    """A superuser (every permission, every county) to act as maker or checker."""
    user = User.objects.filter(username=username).first()
    return user or User.objects.create_superuser(username, password="Maker-checker-2024")


def approved(kind: str, *, maker=None, checker=None, **params) -> MoneyMove:
    """A move proposed by `maker` and approved by `checker` (two superusers by default)."""
    move = move_propose(
        kind=kind, maker=maker or person("test_maker"), reason="测试：制单", **params
    )
    return move_approve(move=move, checker=checker or person("test_checker"), reason="测试：复核")


def settle(*, county, year: int, month: int, maker=None, checker=None) -> SettlementRun:
    """Settle a month: the run stages its statements, their posting is proposed and approved,
    and the run the approval sends posts them (run here: a test's transaction never commits)."""
    run = settlement_run(county=county, year=year, month=month)
    if run.status != SettlementRun.Status.STAGED:
        return run
    approved(MoneyMove.Kind.SETTLEMENT, maker=maker, checker=checker, run=run)
    return settlement_run(county=county, year=year, month=month)


def posting_approved(*, county, year: int, month: int, maker=None, checker=None):
    """Stage a month in-process and approve its posting; the approval sends the run's posting
    job when it commits (to the worker, when there is one)."""
    run = settlement_run(county=county, year=year, month=month)
    assert run.status == SettlementRun.Status.STAGED, run.status
    return approved(MoneyMove.Kind.SETTLEMENT, maker=maker, checker=checker, run=run)
