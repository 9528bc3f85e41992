from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The composition layer: admin site pages, dashboard, URLs and the demo. It is the one
    place allowed to import every app, so it is the one that collects their reports."""

    name = "medaid"
    label = "medaid_site"
    verbose_name = "经办工作台"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Each app's exports.py registers its reports (medaid.core.reports.register_report).
        autodiscover_modules("exports")
