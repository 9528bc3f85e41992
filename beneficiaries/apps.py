from django.apps import AppConfig


class BeneficiariesConfig(AppConfig):
    name = "beneficiaries"
    verbose_name = "救助对象"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the app's tasks in every process: services send them by name
        # (medaid.core.jobs.task_send) and a name must never be sent nowhere.
        from beneficiaries import tasks  # noqa: F401
