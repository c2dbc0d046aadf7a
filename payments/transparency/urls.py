"""Contractor transparency pages (included by ``payments.urls``)."""

from django.urls import URLPattern, URLResolver, path

from payments.transparency import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/rules/", views.my_rules, name="my-rules"),
    path("me/data/", views.my_data, name="my-data"),
    path("me/data/export.json", views.my_data_export, name="my-data-export"),
]
