"""Money moves in a bench, as production makes them: a month's settlement stages, one person
proposes its posting, a second approves, and the run posts (in this process, as the eager
default does). Imported after `django.setup()`."""

from __future__ import annotations


def bench_people():
    """The maker and the checker: two superusers (every permission, every county)."""
    from medaid.core.models import User

    people = []
    for username in ("bench_maker", "bench_checker"):
        user = User.objects.filter(username=username).first()
        people.append(user or User.objects.create_superuser(username, password="Bench-2026-x"))
    return people


def settle(*, county, year: int, month: int):
    """Settle a month through the maker–checker: stage, propose, approve, post."""
    from funds.models import MoneyMove, SettlementRun
    from funds.moves import move_approve, move_propose
    from funds.settlement import settlement_run

    run = settlement_run(county=county, year=year, month=month)
    if run.status != SettlementRun.Status.STAGED:
        return run
    maker, checker = bench_people()
    move = move_propose(kind=MoneyMove.Kind.SETTLEMENT, maker=maker, reason="压测：制单", run=run)
    move_approve(move=move, checker=checker, reason="压测：复核")
    return settlement_run(county=county, year=year, month=month)
