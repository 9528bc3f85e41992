from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = "医疗救助经办管理系统"
admin.site.site_title = "medaid 医疗救助"
admin.site.index_title = "经办工作台"
# "查看站点" leads back to the admin: there is no public site (and so no page of Django's own).
admin.site.site_url = "/admin/"

api_v1 = [
    # Each app adds its own routes here.
    path("", include("medaid.core.api")),
    path("", include("claims.api.urls")),
    path("", include("beneficiaries.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # The OpenAPI schema (?format=json for JSON) and its Swagger UI, both for signed-in users.
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

# Chinese pages in the admin's look; JSON in the API's error shape under /api/.
handler400 = "medaid.core.views.bad_request"
handler403 = "medaid.core.views.permission_denied"
handler404 = "medaid.core.views.page_not_found"
handler500 = "medaid.core.views.server_error"
