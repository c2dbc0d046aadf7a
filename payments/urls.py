"""Portal pages and endpoints of the payments app, under the ``payments`` namespace."""

from django.urls import URLPattern, URLResolver, include, path

app_name = "payments"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("payments.payouts.urls")),
]
