from django.urls import URLPattern, include, path

from tasks import api, api_imports
from tasks.views import dashboard, imports, quality, review, work

app_name = "tasks"

# Portal pages; each views module adds its routes here.
urlpatterns: list[URLPattern] = [
    path("work/", work.work_home, name="work-home"),
    path("work/next/", work.work_next, name="work-next"),
    path("work/heartbeat/", work.heartbeat, name="heartbeat"),
    path("work/assignments/<int:pk>/", work.assignment_page, name="assignment"),
    path("work/projects/<int:project_id>/instructions/", work.instructions, name="instructions"),
    path("work/qualifications/<int:test_id>/", work.qualification, name="qualification"),
    path("ops/review/", review.review_queue, name="review-queue"),
    path("ops/review/answers/<int:pk>/", review.review_answer, name="review-answer"),
    path("ops/review/assignments/<int:pk>/fraud/", review.assignment_fraud, name="assignment-fraud"),
    path("work/quality/", quality.my_quality, name="my-quality"),
    path("ops/projects/", dashboard.project_list, name="project-list"),
    path("ops/projects/<int:pk>/dashboard/", dashboard.project_dashboard, name="project-dashboard"),
    path("ops/projects/<int:pk>/imports/", imports.import_list, name="import-list"),
    path("ops/projects/<int:pk>/export.jsonl", imports.project_export_jsonl, name="project-export-jsonl"),
    path("ops/projects/<int:pk>/export.csv", imports.project_export_csv, name="project-export-csv"),
    path("ops/imports/<int:pk>/", imports.import_detail, name="import-detail"),
    path("ops/imports/<int:pk>/status.json", imports.import_status, name="import-status"),
]

# REST API under /api/v1/ (see tasks/api.py). The calls an annotator makes in a loop come
# first, and the API before the pages: Django tries patterns in order, on every request.
api_urlpatterns: list[URLPattern] = [
    path("next-task/", api.NextTaskApi.as_view(), name="next-task"),
    path("assignments/<int:pk>/submit/", api.SubmitApi.as_view(), name="submit"),
    path("heartbeat/", api.HeartbeatApi.as_view(), name="heartbeat"),
    path("projects/", api.ProjectListApi.as_view(), name="project-list"),
    path("projects/<int:pk>/", api.ProjectDetailApi.as_view(), name="project-detail"),
    path("projects/<int:pk>/batches/", api.BatchListApi.as_view(), name="batch-list"),
    path("answers/<int:pk>/review/", api.ReviewApi.as_view(), name="review"),
    path("projects/<int:pk>/imports/", api_imports.ImportCreateApi.as_view(), name="import-create"),
    path("imports/<int:pk>/", api_imports.ImportDetailApi.as_view(), name="import-detail"),
    path("projects/<int:pk>/export.jsonl", api_imports.ExportJsonlApi.as_view(), name="export-jsonl"),
    path("projects/<int:pk>/export.csv", api_imports.ExportCsvApi.as_view(), name="export-csv"),
]

urlpatterns = [path("api/v1/", include((api_urlpatterns, "api"))), *urlpatterns]  # type: ignore[list-item]
