from django.apps import AppConfig


class FundsConfig(AppConfig):
    name = "funds"
    verbose_name = "救助基金"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the app's tasks in every process: services send them by name
        # (medaid.core.jobs.task_send) and a name must never be sent nowhere.
        from funds import tasks  # noqa: F401
