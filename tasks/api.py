"""REST API for work: projects, batches, next task, submit, heartbeat, review."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks.models import Batch, Project, ProjectStatus
from tasks.presenters import task_for_worker
from tasks.serializers import (
    AssignmentOutput,
    BatchOutput,
    HeartbeatInput,
    NextTaskInput,
    ProjectOutput,
    RefusalOutput,
    ReviewInput,
    SubmitInput,
)
from tasks.services.people import answer_review
from tasks.services.timing import heartbeat_record
from tasks.services.work import (
    SubmitResult,
    WorkRefused,
    assignment_submit,
    assignment_submit_by_token,
    next_task,
    next_task_by_token,
)
from workforce.api import _user
from workforce.permissions import can_read_people


def _projects_for(user: object) -> QuerySet[Project]:
    assert hasattr(user, "pk")
    if can_read_people(user):  # type: ignore[arg-type]
        return Project.objects.select_related("required_skill")
    return Project.objects.filter(status=ProjectStatus.OPEN).select_related("required_skill")


class ProjectListApi(APIView):
    @extend_schema(responses=ProjectOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(ProjectOutput(_projects_for(_user(request)), many=True).data)


class ProjectDetailApi(APIView):
    @extend_schema(responses=ProjectOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ProjectOutput(get_object_or_404(_projects_for(_user(request)), pk=pk)).data)


class BatchListApi(APIView):
    @extend_schema(responses=BatchOutput(many=True))
    def get(self, request: Request, pk: int) -> Response:
        user = _user(request)
        if not can_read_people(user):
            raise PermissionDenied("Only operations managers and auditors can list batches.")
        project = get_object_or_404(Project, pk=pk)
        batches = Batch.objects.filter(project=project).annotate(task_count=Count("tasks")).order_by("-priority", "id")
        return Response(BatchOutput(batches, many=True).data)


# The fast path of the two calls an annotator makes in a loop, next task and submit. A plain
# request from a contractor's API token (well-formed JSON, valid input, nothing to refuse
# but a WorkRefused) is served without DRF's request cycle: the token is resolved in the same
# query as the worker's standing (services.work), instead of a query of its own. Any other
# request, and any plain one the fast path finds irregular before it changes anything, goes
# through the full DRF view, so every error keeps its one shape and message. Both paths run
# the same rules; tests/tasks/test_api.py drives them side by side.
def _fast_input(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """The token key and the JSON object of a plain token request, else None."""
    keyword, _space, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if keyword.lower() != "token" or not key or " " in key or request.method != "POST":
        return None
    if request.content_type != "application/json":
        return None
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return (key, body) if isinstance(body, dict) else None


def _json(body: Any, status_code: int) -> HttpResponse:
    # Serialized as DRF's JSON renderer does, so that both paths answer byte for byte alike.
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return HttpResponse(payload.encode(), status=status_code, content_type="application/json")


def _refusal(refusal: WorkRefused) -> dict[str, Any]:
    return {
        "message": refusal.message,
        "code": refusal.code,
        "retry_at": refusal.retry_at.isoformat() if refusal.retry_at else None,
        "extra": {},
    }


def _require_contractor(request: Request) -> None:
    if not _user(request).is_contractor:
        raise PermissionDenied("Only contractors take tasks.")


def next_task_plain(request: HttpRequest) -> HttpResponse | None:
    """The fast path of POST next-task, or None for the full view to answer."""
    plain = _fast_input(request)
    if plain is None:
        return None
    key, body = plain
    wanted = body.get("project")
    if body.keys() - {"project"} or not (wanted is None or (type(wanted) is int and wanted > 0)):
        return None  # anything NextTaskInput might refuse or read differently
    project = None
    if wanted is not None:
        project = Project.objects.exclude(status=ProjectStatus.DRAFT).filter(pk=wanted).first()
        if project is None:
            return None
    try:
        assignment = next_task_by_token(key=key, project=project)
    except WorkRefused as refusal:
        return _json(_refusal(refusal), status.HTTP_409_CONFLICT)
    return None if assignment is None else _json(task_for_worker(assignment), status.HTTP_200_OK)


def _submitted(result: SubmitResult) -> dict[str, Any]:
    return {"answer": result.answer.pk, "value": result.answer.value, "created": result.created}


def submit_plain(request: HttpRequest, pk: int) -> HttpResponse | None:
    """The fast path of POST submit, or None for the full view to answer."""
    plain = _fast_input(request)
    if plain is None:
        return None
    key, body = plain
    if "answer" not in body:
        return None  # SubmitInput names the missing field
    result = assignment_submit_by_token(key=key, assignment_id=pk, value=body["answer"])
    return None if result is None else _json(_submitted(result), status.HTTP_201_CREATED)


class NextTaskApi(APIView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return next_task_plain(request) or super().dispatch(request, *args, **kwargs)

    @extend_schema(request=NextTaskInput, responses={200: AssignmentOutput, 409: RefusalOutput})
    def post(self, request: Request) -> Response:
        """Lease the next task, or say why there is none and when to come back."""
        _require_contractor(request)
        data = NextTaskInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = None
        if data.validated_data.get("project"):
            # A draft project does not exist for contractors: 404, not a refusal that names it.
            drafts_hidden = Project.objects.exclude(status=ProjectStatus.DRAFT)
            project = get_object_or_404(drafts_hidden, pk=data.validated_data["project"])
        try:
            assignment = next_task(worker=_user(request), project=project)
        except WorkRefused as refusal:
            return Response(_refusal(refusal), status=status.HTTP_409_CONFLICT)
        # next_task returns the assignment with its task and project loaded.
        return Response(task_for_worker(assignment))


class SubmitApi(APIView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return submit_plain(request, kwargs["pk"]) or super().dispatch(request, *args, **kwargs)

    @extend_schema(request=SubmitInput, responses={200: None, 201: None})
    def post(self, request: Request, pk: int) -> Response:
        """Submit an answer; repeating the same submit returns the stored answer (idempotent)."""
        _require_contractor(request)
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = assignment_submit(assignment_id=pk, worker=_user(request), value=data.validated_data["answer"])
        return Response(_submitted(result), status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class HeartbeatApi(APIView):
    @extend_schema(request=HeartbeatInput, responses={200: None})
    def post(self, request: Request) -> Response:
        _require_contractor(request)
        data = HeartbeatInput(data=request.data)
        data.is_valid(raise_exception=True)
        span = heartbeat_record(
            worker=_user(request), kind=data.validated_data["kind"], target_id=data.validated_data["id"]
        )
        return Response({"active_seconds": span.active_seconds})


class ReviewApi(APIView):
    @extend_schema(request=ReviewInput, responses={200: None})
    def post(self, request: Request, pk: int) -> Response:
        user = _user(request)
        if not user.is_operations:
            raise PermissionDenied("Only an operations manager can review work; auditors have read-only access.")
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = answer_review(
            answer_id=pk,
            reviewer=user,
            approve=data.validated_data["verdict"] == "approve",
            code=data.validated_data["code"],
            message=data.validated_data["message"],
        )
        return Response({"answer": answer.pk, "review_status": answer.review_status})
