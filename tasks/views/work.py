"""Contractor pages: pick up work, label with the keyboard, read instructions, qualify, see time."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tasks import selectors
from tasks.models import (
    ActivityKind,
    Assignment,
    InstructionVersion,
    Project,
    ProjectStatus,
    QualificationAttempt,
    QualificationTest,
)
from tasks.presenters import task_for_worker
from tasks.services import people as people_services
from tasks.services.timing import heartbeat_record
from tasks.services.work import WorkRefused, assignment_submit, next_task
from workforce.permissions import _user, contractor_required
from workforce.views import flash_errors


def _heartbeat(kind: str, target_id: int) -> dict[str, Any]:
    """What the page's script needs to send heartbeats for one assignment, attempt or instruction read."""
    return {"kind": kind, "id": target_id, "seconds": settings.FAIRTASK_HEARTBEAT_SECONDS}


def _form_answer(request: HttpRequest, template: str) -> Any:
    if template == "multi_label":
        return request.POST.getlist("answer")
    return request.POST.get("answer", "")


@contractor_required
def work_home(request: HttpRequest) -> HttpResponse:
    worker = _user(request)
    return render(request, "tasks/work_home.html", {"overview": selectors.work_overview(worker=worker)})


@contractor_required
@require_POST
def work_next(request: HttpRequest) -> HttpResponse:
    worker = _user(request)
    project = None
    project_id = request.POST.get("project", "")
    if project_id:
        # A draft project does not exist for contractors: 404, not a refusal that names it.
        if not project_id.isdigit():
            raise Http404
        project = get_object_or_404(Project.objects.exclude(status=ProjectStatus.DRAFT), pk=int(project_id))
    try:
        assignment = next_task(worker=worker, project=project)
    except WorkRefused as refusal:
        messages.warning(request, refusal.message)
        return redirect("tasks:work-home")
    return redirect("tasks:assignment", pk=assignment.pk)


@contractor_required
def assignment_page(request: HttpRequest, pk: int) -> HttpResponse:
    worker = _user(request)
    assignment = get_object_or_404(Assignment.objects.select_related("task__project"), pk=pk)
    if assignment.worker_id != worker.pk:
        raise Http404
    view = task_for_worker(assignment)
    error = ""
    if request.method == "POST":
        try:
            assignment_submit(assignment_id=assignment.pk, worker=worker, value=_form_answer(request, view["template"]))
        except ValidationError as exc:
            error = " ".join(m for msgs in exc.message_dict.values() for m in msgs)
        else:
            messages.success(request, _("Answer saved."))
            if request.POST.get("then") == "stop":
                return redirect("tasks:work-home")
            try:
                following = next_task(worker=worker, project=assignment.task.project)
            except WorkRefused as refusal:
                messages.info(request, refusal.message)
                return redirect("tasks:work-home")
            return redirect("tasks:assignment", pk=following.pk)
    return render(
        request,
        "tasks/assignment.html",
        {
            "assignment": assignment,
            "view": view,
            "error": error,
            "heartbeat": _heartbeat(ActivityKind.TASK, assignment.pk),
        },
    )


@contractor_required
@require_POST
def heartbeat(request: HttpRequest) -> JsonResponse:
    """The work page's script calls this while the page is visible; the server measures the time."""
    try:
        body = json.loads(request.body or b"{}")
        kind, target = str(body["kind"]), int(body["id"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"message": "Send JSON with kind and id.", "code": "invalid"}, status=400)
    if kind not in ActivityKind.values:
        return JsonResponse(
            {"message": "kind must be task, qualification or instruction.", "code": "invalid"}, status=400
        )
    try:
        span = heartbeat_record(worker=_user(request), kind=kind, target_id=target)
    except ValidationError as exc:
        return JsonResponse({"message": " ".join(exc.messages), "code": "wrong_state"}, status=409)
    return JsonResponse({"active_seconds": span.active_seconds})


@contractor_required
def instructions(request: HttpRequest, project_id: int) -> HttpResponse:
    worker = _user(request)
    # A draft is not announced yet: its instructions are not public, and reading them must not start paid time.
    project = get_object_or_404(Project.objects.exclude(status=ProjectStatus.DRAFT), pk=project_id)
    current = InstructionVersion.objects.filter(project=project).order_by("-version").first()
    if current is None:
        raise Http404
    read = people_services.instruction_read_start(worker=worker, instruction=current)
    if request.method == "POST":
        people_services.instruction_read_confirm(worker=worker, read_id=read.pk)
        messages.success(request, _("Thank you; you can start working on “%(p)s”.") % {"p": project})
        return redirect("tasks:work-home")
    return render(
        request,
        "tasks/instructions.html",
        {
            "project": project,
            "instruction": current,
            "read": read,
            "heartbeat": _heartbeat(ActivityKind.INSTRUCTION, read.pk),
        },
    )


@contractor_required
def qualification(request: HttpRequest, test_id: int) -> HttpResponse:
    worker = _user(request)
    test = get_object_or_404(QualificationTest, pk=test_id)
    attempt = QualificationAttempt.objects.filter(worker=worker, test=test, finished_at__isnull=True).first()
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and request.POST.get("start"):
        try:
            people_services.attempt_start(worker=worker, test=test)
        except ValidationError as exc:
            flash_errors(request, exc)
        return redirect("tasks:qualification", test_id=test.pk)
    if request.method == "POST" and attempt is not None:
        answers = {
            str(q.pk): (
                request.POST.getlist(f"q{q.pk}") if test.template == "multi_label" else request.POST.get(f"q{q.pk}", "")
            )
            for q in test.questions.all()
            if f"q{q.pk}" in request.POST
        }
        try:
            done = people_services.attempt_submit(attempt_id=attempt.pk, worker=worker, answers=answers)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            assert done.decision is not None
            return redirect("workforce:decision-detail", pk=done.decision.pk)
    last = QualificationAttempt.objects.filter(worker=worker, test=test, finished_at__isnull=False).first()
    return render(
        request,
        "tasks/qualification.html",
        {
            "test": test,
            "attempt": attempt,
            "last": last,
            "questions": test.questions.all() if attempt else [],
            "errors": errors,
            "heartbeat": _heartbeat(ActivityKind.QUALIFICATION, attempt.pk) if attempt else None,
        },
    )
