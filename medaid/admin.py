"""The admin site as a whole: the pages that belong to no single app (the benefit calculator,
the report center) join the site's own URLs here, in the composition layer."""

from django.contrib import admin
from django.urls import path

from medaid import views
from medaid.core.admin import LabelledAutocompleteView


def _with_medaid_pages(get_urls):
    """The benefit calculator and the report center live in the admin (its login, its look),
    under /admin/calculator/ and /admin/reports/; the finance charts under /admin/finance/."""

    def urls():
        site = admin.site
        return [
            path(
                "calculator/",
                site.admin_view(views.benefit_calculator),
                name="benefit_calculator",
            ),
            path("reports/", site.admin_view(views.report_center), name="report_center"),
            path("finance/", site.admin_view(views.finance_charts), name="finance_charts"),
            *get_urls(),
        ]

    return urls


admin.site.get_urls = _with_medaid_pages(admin.site.get_urls)


def _labelled_autocomplete(request):
    # Options read 「name（county·level）」 where the admin says so (medaid.core.admin).
    return LabelledAutocompleteView.as_view(admin_site=admin.site)(request)


admin.site.autocomplete_view = _labelled_autocomplete
