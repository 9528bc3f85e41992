from django.apps import AppConfig


class FundsConfig(AppConfig):
    name = "funds"
    verbose_name = "救助基金"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the app's tasks in every process: services send them by name
        # (medaid.core.jobs.task_send) and a name must never be sent nowhere.
        from funds import tasks  # noqa: F401
        from funds.settlement import settlement_runs_sweep
        from medaid.core.jobs import sweeper_register

        # A settlement whose job the sweeper gave up must not stay "running" (beat, every minute).
        sweeper_register("funds.settlement_runs", settlement_runs_sweep)
