"""REST API for task import and answer export; the same services and access rules as the portal.

Import (a multipart ``file``) is for operations managers and answers 202 with the job, whose
status URL shows the progress; export is for operations managers and auditors, streamed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks.jobs import import_run_job
from tasks.services.exports import export_csv, export_jsonl
from tasks.services.imports import import_create, import_job_for_user, import_job_status, project_for_import
from tasks.views.imports import export_response
from workforce.api import _user


class ImportJobOutput(serializers.Serializer[dict[str, Any]]):
    """What ``import_job_status`` returns, plus the URL to poll."""

    id = serializers.IntegerField()
    project = serializers.IntegerField()
    file_name = serializers.CharField()
    file_format = serializers.CharField()
    size_bytes = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["pending", "running", "failed", "done"])
    status_display = serializers.CharField()
    is_finished = serializers.BooleanField()
    rows_done = serializers.IntegerField()
    rows_imported = serializers.IntegerField()
    bytes_done = serializers.IntegerField()
    percent = serializers.IntegerField()
    batch = serializers.IntegerField(allow_null=True)
    problems = serializers.ListField(child=serializers.DictField(), help_text="Up to 100 of {row, field, message}.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.CharField()


def _job_data(job: Any) -> dict[str, Any]:
    return {**import_job_status(job=job), "status_url": reverse("tasks:api:import-detail", args=[job.pk])}


class ImportUploadInput(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(help_text="A .jsonl, .json or .csv file of tasks.")


class ImportCreateApi(APIView):
    parser_classes = (MultiPartParser, FormParser)

    @extend_schema(request={"multipart/form-data": ImportUploadInput}, responses={202: ImportJobOutput})
    def post(self, request: Request, pk: int) -> Response:
        user = _user(request)
        project = project_for_import(user=user, pk=pk, write=True)
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": _("Attach the task file as the multipart field “file”.")})
        job = import_create(project=project, uploaded_file=upload, file_name=upload.name or "", actor=user)
        transaction.on_commit(lambda: import_run_job.delay(job.pk))
        return Response(_job_data(job), status=status.HTTP_202_ACCEPTED)


class ImportDetailApi(APIView):
    @extend_schema(responses={200: ImportJobOutput})
    def get(self, request: Request, pk: int) -> Response:
        return Response(_job_data(import_job_for_user(user=_user(request), pk=pk)))


class _AnyAccept(BaseContentNegotiation):
    """The export's format is in its URL: a client asking for text/csv must not get a 406."""

    def select_parser(self, request: Any, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return (renderers[0], renderers[0].media_type)


class _ExportApi(APIView):
    content_negotiation_class = _AnyAccept
    fmt = ""

    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        project = project_for_import(user=_user(request), pk=pk, write=False)
        lines = export_jsonl(project=project) if self.fmt == "jsonl" else export_csv(project=project)
        return export_response(lines, project=project, fmt=self.fmt)


def _export_schema(media_type: str, description: str) -> Any:
    return extend_schema(responses={(200, media_type): OpenApiResponse(OpenApiTypes.STR, description=description)})


@_export_schema("application/x-ndjson", "One JSON object per answered task: data, answers, consensus.")
class ExportJsonlApi(_ExportApi):
    fmt = "jsonl"


@_export_schema("text/csv", "One row per answer, with the task's consensus label and confidence.")
class ExportCsvApi(_ExportApi):
    fmt = "csv"
