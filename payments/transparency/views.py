"""Contractor pages: the automated rules that apply to them, and the download of all their data."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from payments.transparency.export import contractor_export
from payments.transparency.rules import automated_rules
from workforce.audit import audit_record
from workforce.permissions import contractor_required
from workforce.views import _user


@contractor_required
def my_rules(request: HttpRequest) -> HttpResponse:
    return render(request, "payments/my_rules.html", {"rules": automated_rules(user=_user(request))})


@contractor_required
def my_data(request: HttpRequest) -> HttpResponse:
    return render(request, "payments/my_data.html")


@contractor_required
def my_data_export(request: HttpRequest) -> StreamingHttpResponse:
    """All the contractor's own data as one JSON file, streamed; the download is audited."""
    user = _user(request)
    with transaction.atomic():
        audit_record(actor=user, action="contractor.data_export", obj=user)
    name = f"fairtask-my-data-{timezone.localdate().isoformat()}.json"
    response = StreamingHttpResponse(contractor_export(user=user), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
