"""Portal pages and endpoints of the payments app, under the ``payments`` namespace."""

from django.urls import URLPattern, URLResolver, include, path

from payments import views

app_name = "payments"

urlpatterns: list[URLPattern | URLResolver] = [
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
