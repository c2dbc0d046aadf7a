"""Payout pages and the Stripe webhook (included by ``payments.urls``, namespace ``payments``)."""

from django.urls import URLPattern, URLResolver, path

from payments.payouts import views, webhooks

urlpatterns: list[URLPattern | URLResolver] = [
    # Stripe calls this one: no login, no CSRF token, a signature instead.
    path("payments/stripe/webhook/", webhooks.stripe_webhook, name="payout-stripe-webhook"),
    path("payments/payouts/", views.payout_list, name="payout-list"),
    path("payments/payouts/setup/", views.payout_setup, name="payout-setup"),
    path("payments/payouts/setup/return/", views.payout_setup_return, name="payout-setup-return"),
    path("payments/payouts/setup/refresh/", views.payout_setup_refresh, name="payout-setup-refresh"),
    path("payments/payouts/<int:pk>/", views.payout_detail, name="payout-detail"),
    path("payments/payouts/<int:pk>/confirm/", views.payout_confirm_view, name="payout-confirm"),
    path("ops/payout-runs/", views.payout_run_list, name="payout-run-list"),
    path("ops/payout-runs/<int:pk>/", views.payout_run_detail, name="payout-run-detail"),
    path("ops/payout-runs/<int:pk>/status.json", views.payout_run_status, name="payout-run-status"),
    path("ops/payout-runs/<int:pk>/resume/", views.payout_run_resume_view, name="payout-run-resume"),
    path("ops/payout-runs/<int:pk>/bank-file/", views.payout_run_bank_file, name="payout-run-bank-file"),
    path("ops/bank-files/<int:pk>.csv", views.payout_bank_file_download, name="payout-bank-file"),
]
