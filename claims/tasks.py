"""Thin tasks: load ids, call a service. Every task here is idempotent (a partition already done
is skipped, a processed declaration is left alone, warnings are unique per person and stay), so
they are acknowledged late and re-delivered if a worker dies."""

from medaid.core.celery import app


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def decide_partition(self, run_id: int, number: int) -> None:
    from claims.services import run_finish, run_partition_decide

    run_partition_decide(run_id=run_id, number=number)
    run_finish(run_id=run_id)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def process_declaration(self, declaration_id: int) -> None:
    from claims.services import declaration_process

    declaration_process(declaration_id=declaration_id, dispatch=True)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def monitor_burdens(self) -> int:
    from claims.services import burdens_monitor

    return burdens_monitor()


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def send_warning_lists(self) -> list:
    from claims.services import warning_lists_send

    return warning_lists_send()


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def replay_prepare(self, replay_id: int) -> None:
    from claims.replay.services import replay_prepare

    replay_prepare(replay_id=replay_id)


@app.task(bind=True, acks_late=True, reject_on_worker_lost=True)
def replay_partition(self, replay_id: int, number: int) -> None:
    from claims.replay.services import replay_partition

    replay_partition(replay_id=replay_id, number=number)
