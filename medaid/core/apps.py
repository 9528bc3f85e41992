from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """The ground floor every app stands on: staff accounts and roles, jobs, the working-day
    calendar, audit. It keeps the label ``medaid`` so that its tables, permissions and
    ``AUTH_USER_MODEL = "medaid.User"`` stay what they were before the package moved."""

    name = "medaid.core"
    label = "medaid"
    verbose_name = "系统管理"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from medaid.core import signals, tasks  # noqa: F401  (tasks: in every process, see jobs.py)
        from medaid.core.admin import install_amount_display
        from medaid.core.roles import sync_roles_after_migrate

        install_amount_display()

        # Every app's permissions exist only after its own migrate: sync the roles each time.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="medaid.sync_roles")
