from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "医疗救助经办管理系统"
admin.site.site_title = "medaid 医疗救助"
admin.site.index_title = "经办工作台"

api_v1 = [
    # Each app adds its own routes here.
    path("", include("medaid.core.api")),
    path("", include("claims.api.urls")),
    path("", include("beneficiaries.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]
