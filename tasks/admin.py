from django.contrib import admin

from tasks.models import (
    ActivitySpan,
    Answer,
    Assignment,
    Batch,
    FraudMark,
    ImportJob,
    InstructionRead,
    InstructionVersion,
    Project,
    QualificationAttempt,
    QualificationQuestion,
    QualificationTest,
    QualityEstimate,
    Task,
)
from workforce.admin import AuditedAdmin, ReadOnlyAdmin


@admin.register(Project)
class ProjectAdmin(AuditedAdmin):
    list_display = ("name", "status", "template", "required_skill", "overlap", "is_sensitive")
    list_filter = ("status", "template", "is_sensitive", "required_skill")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    # Pay is set on the project's pay page (payments.services.rates.project_pay_set), which checks the
    # currency against the organisation's pay currency and audits the change; never edited here.
    readonly_fields = ("currency", "piece_rate_minor", "hourly_rate_minor")


@admin.register(InstructionVersion)
class InstructionVersionAdmin(AuditedAdmin):
    list_display = ("project", "version", "published_at")
    list_filter = ("project",)
    search_fields = ("project__name", "body")


@admin.register(Batch)
class BatchAdmin(AuditedAdmin):
    list_display = ("name", "project", "priority", "created_at")
    list_filter = ("project",)
    search_fields = ("name",)


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ("id", "project", "batch", "is_gold", "priority", "filled", "overlap")
    list_filter = ("project", "is_gold")
    search_fields = ("external_id",)


@admin.register(QualificationTest)
class QualificationTestAdmin(AuditedAdmin):
    list_display = ("title", "skill", "pass_mark")
    list_filter = ("skill",)
    search_fields = ("title",)


@admin.register(QualificationQuestion)
class QualificationQuestionAdmin(AuditedAdmin):
    list_display = ("test", "position")
    list_filter = ("test",)
    search_fields = ("test__title",)


for model, fields, filters in (
    (Assignment, ("id", "task", "worker", "status", "leased_at", "expires_at"), ("status",)),
    (Answer, ("id", "task", "worker", "review_status", "submitted_at"), ("review_status", "rejection_code")),
    (QualificationAttempt, ("id", "test", "worker", "score", "is_passed", "finished_at"), ("is_passed", "test")),
    (ActivitySpan, ("worker", "kind", "started_at", "active_seconds"), ("kind",)),
    (InstructionRead, ("worker", "instruction", "confirmed_at"), ("instruction__project",)),
    (FraudMark, ("assignment", "decision", "is_active"), ("is_active",)),
    (QualityEstimate, ("worker", "project", "gold_correct", "gold_total", "lower", "upper"), ("project",)),
    (ImportJob, ("id", "project", "file_name", "status", "rows_imported", "created_at"), ("status", "project")),
):
    admin.site.register(
        model,
        type(
            f"{model.__name__}Admin",
            (ReadOnlyAdmin,),
            {"list_display": fields, "list_filter": filters, "search_fields": ("worker__email",)}
            if model not in (ImportJob, FraudMark)
            else {"list_display": fields, "list_filter": filters, "search_fields": ("id",)},
        ),
    )
