"""The contractor's own quality page: each estimate, its interval, and how it is used."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tasks import selectors
from workforce.permissions import _user, contractor_required


@contractor_required
def my_quality(request: HttpRequest) -> HttpResponse:
    rows = selectors.quality_list(worker=_user(request))
    return render(request, "tasks/my_quality.html", {"rows": rows})
