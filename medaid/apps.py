from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MedaidConfig(AppConfig):
    """Cross-cutting parts of the back office: staff accounts and roles, long jobs."""

    name = "medaid"
    verbose_name = "系统管理"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from medaid.roles import sync_roles_after_migrate

        # Each app's exports.py registers its reports (medaid.reports.register_report).
        autodiscover_modules("exports")

        # Every app's permissions exist only after its own migrate: sync the roles each time.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="medaid.sync_roles")
