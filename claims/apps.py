from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = "救助结算"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the app's tasks in every process: services send them by name
        # (medaid.core.jobs.task_send) and a name must never be sent nowhere.
        from claims import handlers, tasks  # noqa: F401

        # The platform format's steps in the declaration pipeline register on import.
        from claims.platform import services  # noqa: F401

        handlers.register()
