from django.apps import AppConfig


class FundsConfig(AppConfig):
    name = "funds"
    verbose_name = "救助基金"
    default_auto_field = "django.db.models.BigAutoField"
