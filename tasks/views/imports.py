"""Operations: import tasks from a file, watch the import, download answers.

Operations managers upload; auditors may read the import list, the progress and the
exports, and change nothing; contractors get 403. The upload form is a plain form with
``{% csrf_token %}``; the progress page works without JavaScript (reload it) and a small
script polls ``import-status`` every second to move the bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from tasks.jobs import import_run_job
from tasks.models import ImportJob, Project
from tasks.services.exports import export_csv, export_jsonl
from tasks.services.imports import import_create, import_job_for_user, import_job_status, project_for_import
from workforce.permissions import _user, role_required


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Task file"),
        help_text=_(
            "A .jsonl file (one task object per line), a .json array of task objects, or a .csv file with "
            "the columns id, text, image_url, gold_answer, meta. The whole file is imported or none of it."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".jsonl,.json,.csv"}),
    )


@role_required(read=True)
def import_list(request: HttpRequest, pk: int) -> HttpResponse:
    """The project's imports, and (for operations managers) the upload form; a POST uploads."""
    user = _user(request)
    project = project_for_import(user=user, pk=pk, write=request.method == "POST")
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_create(project=project, uploaded_file=upload, file_name=upload.name, actor=user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            transaction.on_commit(lambda: import_run_job.delay(job.pk))
            return redirect("tasks:import-detail", pk=job.pk)
    imports = ImportJob.objects.filter(project=project).select_related("created_by")[:50]
    return render(
        request,
        "tasks/import_list.html",
        {
            "project": project,
            "form": form,
            "imports": imports,
            "max_size": filesizeformat(settings.FAIRTASK_IMPORT_MAX_BYTES),
        },
        status=400 if form.errors else 200,
    )


@role_required(read=True)
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = import_job_for_user(user=_user(request), pk=pk)
    return render(request, "tasks/import_detail.html", {"job": job, "project": job.project})


@role_required(read=True)
@require_GET
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the progress bar polls: rows and bytes done, percent, status, and the problems."""
    job = import_job_for_user(user=_user(request), pk=pk)
    response = JsonResponse(import_job_status(job=job))
    response["Cache-Control"] = "no-store"
    return response


def export_response(lines: Iterator[str], *, project: Project, fmt: str) -> StreamingHttpResponse:
    content_type = {"jsonl": "application/x-ndjson", "csv": "text/csv"}[fmt]
    response = StreamingHttpResponse(lines, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-answers.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


def _export_view(fmt: str, make: Callable[..., Iterator[str]]) -> Callable[..., HttpResponseBase]:
    @role_required(read=True)
    @require_GET
    def view(request: HttpRequest, pk: int) -> StreamingHttpResponse:
        project = project_for_import(user=_user(request), pk=pk, write=False)
        return export_response(make(project=project), project=project, fmt=fmt)

    view.__name__ = f"project_export_{fmt}"
    return view


project_export_jsonl = _export_view("jsonl", export_jsonl)
project_export_csv = _export_view("csv", export_csv)
