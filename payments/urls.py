"""Portal pages and endpoints of the payments app, under the ``payments`` namespace."""

from django.urls import URLPattern, URLResolver, include, path

from payments import api, views

app_name = "payments"

# REST API under /api/v1/ (see payments/api.py), named ``payments:api:<name>``.
api_urlpatterns: list[URLPattern] = [
    path("pay-periods/", api.PayPeriodListApi.as_view(), name="pay-period-list"),
    path("pay-periods/<int:pk>/", api.PayPeriodDetailApi.as_view(), name="pay-period-detail"),
    path("reports/", api.ReportListApi.as_view(), name="report-list"),
    path("reports/<int:pk>/", api.ReportDetailApi.as_view(), name="report-detail"),
    path("findings/", api.FindingListApi.as_view(), name="finding-list"),
    path("findings/<int:pk>/", api.FindingDetailApi.as_view(), name="finding-detail"),
    path("findings/<int:pk>/resolve/", api.FindingResolveApi.as_view(), name="finding-resolve"),
    path("audit-runs/", api.AuditRunListApi.as_view(), name="audit-run-list"),
    path("audit-runs/<int:pk>/", api.AuditRunDetailApi.as_view(), name="audit-run-detail"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", include((api_urlpatterns, "api"))),
    path("", include("payments.payouts.urls")),
    path("", include("payments.transparency.urls")),
    path("ops/", include("payments.reports.urls")),
    path("", include("payments.statements.urls")),
    path("", include("payments.audits.urls")),
    path("ops/pay-periods/", views.pay_period_list, name="pay-period-list"),
    path("ops/pay-periods/<int:pk>/", views.pay_period_detail, name="pay-period-detail"),
    path("ops/pay-periods/<int:pk>/close/", views.pay_period_close, name="pay-period-close"),
    path("ops/pay-periods/<int:pk>/retry/", views.pay_period_retry, name="pay-period-retry"),
    path("ops/close-runs/<int:pk>/status.json", views.close_run_status_view, name="close-run-status"),
    path("ops/projects/<int:pk>/pay/", views.project_pay, name="project-pay"),
]
