from beneficiaries.api import parameter_changes, views
from medaid.core.api import Router

router = Router(trailing_slash=True)
router.include_root_view = False
router.register("people", views.PersonViewSet, basename="person")
router.register("identities", views.IdentityViewSet, basename="identity")
router.register("imports", views.RosterImportViewSet, basename="rosterimport")
router.register(
    "parameter-changes", parameter_changes.ParameterChangeViewSet, basename="parameterchange"
)
router.register("subsidy-rosters", views.SubsidyRosterViewSet, basename="subsidyroster")

urlpatterns = router.urls
