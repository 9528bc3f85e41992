from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "claims"
    verbose_name = "救助结算"
    default_auto_field = "django.db.models.BigAutoField"
