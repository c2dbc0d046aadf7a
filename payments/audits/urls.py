"""The auditor portal's routes; included by ``payments/urls.py`` under the ``payments`` namespace."""

from django.urls import URLPattern, path

from payments.audits import views

urlpatterns: list[URLPattern] = [
    path("audit/", views.audit_home, name="audit-home"),
    path("audit/findings/", views.finding_list_view, name="audit-finding-list"),
    path("audit/findings/<int:pk>/", views.finding_detail, name="audit-finding-detail"),
    path("audit/runs/", views.audit_run_start, name="audit-run-start"),
    path("audit/chain/", views.chain_verify, name="audit-chain"),
    path("audit/periods/", views.period_list, name="audit-period-list"),
    path("audit/periods/<int:pk>/", views.period_detail, name="audit-period-detail"),
    path("audit/periods/<int:pk>/evidence.zip", views.evidence_download, name="audit-evidence"),
    path(
        "audit/periods/<int:pk>/contractors/<int:contractor_id>/",
        views.contractor_period,
        name="audit-contractor-period",
    ),
]
