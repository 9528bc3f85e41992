from django.apps import AppConfig


class BeneficiariesConfig(AppConfig):
    name = "beneficiaries"
    verbose_name = "救助对象"
    default_auto_field = "django.db.models.BigAutoField"
