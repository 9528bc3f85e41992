from django.apps import AppConfig


class MedaidConfig(AppConfig):
    """Cross-cutting parts of the back office: staff accounts and roles, long jobs."""

    name = "medaid"
    verbose_name = "系统管理"
    default_auto_field = "django.db.models.BigAutoField"
