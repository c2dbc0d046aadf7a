"""Operations: review submitted work (approve, or reject with a code and a message)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tasks.models import Answer, Project, RejectionCode, ReviewStatus
from tasks.presenters import WORKER_VISIBLE_KEYS
from tasks.services.people import answer_review, fraud_mark
from workforce.permissions import _user, role_required
from workforce.views import flash_errors


@role_required(read=True)
def review_queue(request: HttpRequest) -> HttpResponse:
    qs = (
        Answer.objects.filter(review_status=ReviewStatus.PENDING)
        .select_related("task__project", "worker")
        .order_by("submitted_at", "id")
    )
    project_id = request.GET.get("project", "")
    if project_id.isdigit():
        qs = qs.filter(task__project_id=int(project_id))
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "tasks/review_queue.html",
        {
            "page": page,
            "projects": Project.objects.all(),
            "project_id": project_id,
            "codes": RejectionCode.choices,
            "visible_keys": WORKER_VISIBLE_KEYS,
        },
    )


@role_required()
@require_POST
def review_answer(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        answer_review(
            answer_id=pk,
            reviewer=_user(request),
            approve=request.POST.get("verdict") == "approve",
            code=request.POST.get("code", ""),
            message=request.POST.get("message", ""),
        )
    except ValidationError as exc:
        flash_errors(request, exc)
    else:
        messages.success(request, _("Review saved."))
    return redirect("tasks:review-queue")


@role_required()
@require_POST
def assignment_fraud(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        fraud_mark(assignment_id=pk, actor=_user(request), reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        flash_errors(request, exc)
    else:
        messages.success(request, _("Fraud finding recorded; the contractor can read it and appeal."))
    return redirect("tasks:review-queue")
