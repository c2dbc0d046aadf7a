from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from workforce import api, views

portal_patterns = [
    path("", views.home, name="home"),
    path("onboarding/", views.onboarding, name="onboarding"),
    path("onboarding/profile/", views.profile_edit, name="profile-edit"),
    path("onboarding/agreements/", views.agreements, name="agreements"),
    path("onboarding/tax-form/", views.tax_form, name="tax-form"),
    path("decisions/", views.my_decisions, name="my-decisions"),
    path("decisions/<int:pk>/", views.decision_detail, name="decision-detail"),
    path("ops/contractors/", views.contractor_list, name="contractor-list"),
    path("ops/contractors/export.csv", views.contractor_export, name="contractor-export"),
    path("ops/contractors/bulk/", views.contractor_bulk, name="contractor-bulk"),
    path("ops/contractors/<int:pk>/", views.contractor_detail, name="contractor-detail"),
    path("ops/contractors/<int:pk>/transition/", views.contractor_transition, name="contractor-transition"),
    path("ops/proposals/<int:pk>/resolve/", views.proposal_resolve, name="proposal-resolve"),
    path("ops/appeals/", views.appeal_queue, name="appeal-queue"),
    path("ops/appeals/<int:pk>/", views.appeal_detail, name="appeal-detail"),
    path("ops/audit-log/", views.audit_log, name="audit-log"),
]

api_patterns = [
    path("me/profile/", api.MyProfileApi.as_view(), name="api-my-profile"),
    path("decisions/", api.DecisionListApi.as_view(), name="api-decision-list"),
    path("decisions/<int:pk>/", api.DecisionDetailApi.as_view(), name="api-decision-detail"),
    path("decisions/<int:pk>/appeal/", api.DecisionAppealApi.as_view(), name="api-decision-appeal"),
    path("contractors/", api.ContractorListApi.as_view(), name="api-contractor-list"),
    path("contractors/<int:pk>/", api.ContractorDetailApi.as_view(), name="api-contractor-detail"),
    path("contractors/<int:pk>/transition/", api.ContractorTransitionApi.as_view(), name="api-contractor-transition"),
    path("appeals/", api.AppealListApi.as_view(), name="api-appeal-list"),
    path("appeals/<int:pk>/answer/", api.AppealAnswerApi.as_view(), name="api-appeal-answer"),
]

# The admin's own password form would sign a superuser in without the TOTP step; send
# everyone through allauth's login instead, and refuse signed-in users who are not staff.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    # Tasks first: its API holds the hot paths (see tasks/urls.py); no two apps share a path.
    path("", include("tasks.urls")),
    path("", include(([*portal_patterns, path("api/v1/", include(api_patterns))], "workforce"))),
    path("", include("payments.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
