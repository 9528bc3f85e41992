from claims.api import views
from medaid.core.api import Router

router = Router()
router.register("hospitals", views.HospitalViewSet, basename="hospital")
router.register("claims", views.ClaimViewSet, basename="claim")
router.register("decisions", views.DecisionViewSet, basename="decision")
router.register("declarations", views.DeclarationViewSet, basename="declaration")
router.register("applications", views.ApplicationViewSet, basename="application")
router.register("warnings", views.WarningViewSet, basename="warning")
router.register("warning-dispatches", views.WarningDispatchViewSet, basename="warning-dispatch")

urlpatterns = router.urls
