"""Fair-wage report routes, included by ``payments/urls.py`` under the ``payments`` namespace."""

from django.urls import URLPattern, path

from payments.reports import views

urlpatterns: list[URLPattern] = [
    path("reports/", views.report_list, name="report-list"),
    path("reports/<int:pk>/", views.report_detail, name="report-detail"),
    path("reports/<int:pk>/status.json", views.report_status, name="report-status"),
    path("reports/<int:pk>/download/", views.report_download, name="report-download"),
    path("reports/<int:pk>/verify/", views.report_verify_view, name="report-verify"),
    path("reports/<int:pk>/manifest.json", views.report_manifest_view, name="report-manifest"),
]
