"""Earnings and statement pages (included by ``payments.urls``)."""

from django.urls import URLPattern, URLResolver, path

from payments.statements import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("me/earnings/", views.my_earnings, name="my-earnings"),
    path("me/statements/<int:pk>/", views.my_statement, name="my-statement"),
    path("me/statements/<int:pk>/statement.pdf", views.my_statement_pdf, name="my-statement-pdf"),
    path("me/statements/<int:pk>/how/", views.my_pay_explained, name="my-pay-explained"),
    path("ops/contractors/<int:user_pk>/statements/<int:pk>/", views.contractor_statement, name="contractor-statement"),
    path(
        "ops/contractors/<int:user_pk>/statements/<int:pk>/statement.pdf",
        views.contractor_statement_pdf,
        name="contractor-statement-pdf",
    ),
]
