"""Payout pages and the Stripe webhook (included by ``payments.urls``)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
