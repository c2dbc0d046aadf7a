"""Projects, tasks and the work done on them: assignments, answers, reviews, time and quality."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from workforce.models import Decision, Skill


class TaskTemplate(models.TextChoices):
    SINGLE_CHOICE = "single_choice", _("Single-choice classification")
    MULTI_LABEL = "multi_label", _("Multi-label classification")
    FREE_TEXT = "free_text", _("Free text")


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    PAUSED = "paused", _("Paused")
    CLOSED = "closed", _("Closed")


class Project(models.Model):
    """A labeling project. ``answer_schema`` holds the choices (or the text limit) answers must fit."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    required_skill = models.ForeignKey(Skill, on_delete=models.PROTECT, related_name="projects")
    template = models.CharField(max_length=20, choices=TaskTemplate.choices)
    answer_schema = models.JSONField(default=dict, blank=True)
    overlap = models.PositiveSmallIntegerField(default=1, help_text=_("Answers wanted per task."))
    gold_rate = models.DecimalField(max_digits=4, decimal_places=3, default=0)
    min_quality = models.DecimalField(max_digits=4, decimal_places=3, default=0)
    lease_seconds = models.PositiveIntegerField(default=900)
    currency = models.CharField(max_length=3, default="USD")
    piece_rate_minor = models.PositiveIntegerField(default=0)
    hourly_rate_minor = models.PositiveIntegerField(default=0)
    is_sensitive = models.BooleanField(default=False)
    exposure_daily_seconds = models.PositiveIntegerField(default=4 * 3600)
    exposure_break_after_seconds = models.PositiveIntegerField(default=3600)
    exposure_break_seconds = models.PositiveIntegerField(default=900)
    status = models.CharField(max_length=10, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(condition=Q(gold_rate__gte=0, gold_rate__lte=1), name="project_gold_rate_fraction"),
            models.CheckConstraint(
                condition=Q(min_quality__gte=0, min_quality__lte=1), name="project_min_quality_fraction"
            ),
            models.CheckConstraint(condition=Q(lease_seconds__gte=30), name="project_lease_at_least_30s"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def choices(self) -> list[str]:
        return list(self.answer_schema.get("choices", []))


class InstructionVersion(models.Model):
    """Versioned instructions; a contractor reads the current one (paid time) before working."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="instructions")
    version = models.PositiveIntegerField()
    body = models.TextField()
    published_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["project", "-version"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["project", "version"], name="instruction_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.project} instructions v{self.version}"


class InstructionRead(models.Model):
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="instruction_reads")
    instruction = models.ForeignKey(InstructionVersion, on_delete=models.PROTECT, related_name="reads")
    started_at = models.DateTimeField(default=dj_timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["worker", "instruction"], name="instruction_read_once"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} read {self.instruction}"


class Batch(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="batches")
    name = models.CharField(max_length=200)
    priority = models.IntegerField(default=0, help_text=_("Higher runs first."))
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-priority", "id"]

    def __str__(self) -> str:
        return f"{self.project}: {self.name}"


class Task(models.Model):
    """One item to label. ``filled`` counts live and submitted assignments; never above ``overlap``."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="tasks")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="tasks")
    external_id = models.CharField(max_length=200, blank=True)
    data = models.JSONField()
    is_gold = models.BooleanField(default=False)
    priority = models.IntegerField(default=0)
    overlap = models.PositiveIntegerField(default=1)
    filled = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # The database itself refuses over-assignment, whatever the code does.
            models.CheckConstraint(condition=Q(filled__lte=F("overlap")), name="task_filled_within_overlap"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["project", "-priority", "id"],
                name="task_open_by_priority",
                condition=Q(filled__lt=F("overlap")),
            ),
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} ({self.project})"


class GoldAnswer(models.Model):
    """The known answer of a gold task. Kept apart so no contractor page or API can serialise it."""

    task = models.OneToOneField(Task, on_delete=models.PROTECT, related_name="gold")
    answer = models.JSONField()

    def __str__(self) -> str:
        return f"Gold answer of task {self.task_id}"


class AssignmentStatus(models.TextChoices):
    LEASED = "leased", _("In progress")
    SUBMITTED = "submitted", _("Submitted")
    EXPIRED = "expired", _("Lease expired")


class Assignment(models.Model):
    # No single-column indexes on the two keys: assignment_one_per_worker starts with task and
    # assignment_worker_status with worker, and every claim and submit writes each index.
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="assignments", db_index=False)
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments", db_index=False
    )
    status = models.CharField(max_length=10, choices=AssignmentStatus.choices, default=AssignmentStatus.LEASED)
    leased_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # Never the same worker twice on one task.
            models.UniqueConstraint(fields=["task", "worker"], name="assignment_one_per_worker"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            # Only live leases expire: the release job's index leaves every finished assignment out.
            models.Index(
                fields=["expires_at"], name="assignment_lease_expiry", condition=Q(status=AssignmentStatus.LEASED)
            ),
            models.Index(fields=["worker", "status"], name="assignment_worker_status"),
        ]

    def __str__(self) -> str:
        return f"Assignment {self.pk}: task {self.task_id} to {self.worker_id}"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    AUTO_APPROVED = "auto_approved", _("Approved automatically")
    REJECTED = "rejected", _("Rejected")


class RejectionCode(models.TextChoices):
    WRONG = "wrong", _("The answer is wrong")
    INCOMPLETE = "incomplete", _("The answer is incomplete")
    GUIDELINES = "guidelines", _("The instructions were not followed")
    OTHER = "other", _("Other")


class Answer(models.Model):
    """A submitted answer. A rejection never changes pay for time (all platform time is paid)."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="answer")
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="answers")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="answers")
    value = models.JSONField()
    submitted_at = models.DateTimeField(default=dj_timezone.now)
    review_status = models.CharField(max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    rejection_code = models.CharField(max_length=16, choices=RejectionCode.choices, blank=True)
    review_message = models.TextField(blank=True)
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["review_status", "submitted_at"], name="answer_review_queue"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=~Q(review_status=ReviewStatus.REJECTED) | (~Q(rejection_code="") & ~Q(review_message="")),
                name="answer_rejection_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Answer {self.pk} to task {self.task_id}"


class QualificationTest(models.Model):
    """A set of gold questions with a pass mark, per skill. Attempt time is paid, pass or fail."""

    skill = models.OneToOneField(Skill, on_delete=models.PROTECT, related_name="qualification_test")
    title = models.CharField(max_length=200)
    template = models.CharField(max_length=20, choices=TaskTemplate.choices, default=TaskTemplate.SINGLE_CHOICE)
    answer_schema = models.JSONField(default=dict, blank=True)
    pass_mark = models.DecimalField(max_digits=4, decimal_places=3, default=0.8)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(pass_mark__gt=0, pass_mark__lte=1), name="qualification_pass_mark"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def choices(self) -> list[str]:
        return list(self.answer_schema.get("choices", []))


class QualificationQuestion(models.Model):
    test = models.ForeignKey(QualificationTest, on_delete=models.PROTECT, related_name="questions")
    data = models.JSONField()
    answer = models.JSONField()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering: ClassVar[list[str]] = ["test", "position", "id"]

    def __str__(self) -> str:
        return f"Question {self.position} of {self.test}"


class QualificationAttempt(models.Model):
    test = models.ForeignKey(QualificationTest, on_delete=models.PROTECT, related_name="attempts")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attempts")
    started_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    correct = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    score = models.DecimalField(max_digits=4, decimal_places=3, null=True, blank=True)
    is_passed = models.BooleanField(null=True)
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["-started_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # At most one unfinished attempt per worker and test.
            models.UniqueConstraint(
                fields=["worker", "test"], condition=Q(finished_at__isnull=True), name="attempt_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.worker} on {self.test}"


class ActivityKind(models.TextChoices):
    TASK = "task", _("Task work")
    QUALIFICATION = "qualification", _("Qualification test")
    INSTRUCTION = "instruction", _("Reading instructions")


class ActivitySpan(models.Model):
    """A run of heartbeats with no gap longer than the idle limit: this much active, paid time."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activity")
    kind = models.CharField(max_length=16, choices=ActivityKind.choices)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, null=True, blank=True, related_name="spans")
    attempt = models.ForeignKey(
        QualificationAttempt, on_delete=models.PROTECT, null=True, blank=True, related_name="spans"
    )
    instruction_read = models.ForeignKey(
        InstructionRead, on_delete=models.PROTECT, null=True, blank=True, related_name="spans"
    )
    started_at = models.DateTimeField()
    last_beat_at = models.DateTimeField()
    active_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["worker", "started_at"], name="span_worker_time"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(
                    Q(kind="task", assignment__isnull=False, attempt__isnull=True, instruction_read__isnull=True)
                    | Q(
                        kind="qualification",
                        assignment__isnull=True,
                        attempt__isnull=False,
                        instruction_read__isnull=True,
                    )
                    | Q(
                        kind="instruction",
                        assignment__isnull=True,
                        attempt__isnull=True,
                        instruction_read__isnull=False,
                    )
                ),
                name="span_points_at_its_kind",
            ),
            models.CheckConstraint(condition=Q(last_beat_at__gte=F("started_at")), name="span_time_forward"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.kind} {self.active_seconds}s"


class FraudMark(models.Model):
    """A human decision that an assignment was fraudulent; only this excludes its time from pay.

    Overturning the decision on appeal sets ``is_active`` to False and the time counts again.
    """

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="fraud_marks")
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="fraud_mark")
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["assignment"], condition=Q(is_active=True), name="fraudmark_one_active_per_assignment"
            ),
        ]

    def __str__(self) -> str:
        return f"Fraud mark on assignment {self.assignment_id}"


class QualityEstimate(models.Model):
    """Quality per contractor and project: gold accuracy with a Wilson interval, and consensus agreement."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quality")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="quality")
    gold_correct = models.PositiveIntegerField(default=0)
    gold_total = models.PositiveIntegerField(default=0)
    accuracy = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    lower = models.DecimalField(max_digits=5, decimal_places=4, default=0)
    upper = models.DecimalField(max_digits=5, decimal_places=4, default=1)
    consensus_accuracy = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    computed_at = models.DateTimeField(default=dj_timezone.now)
    # The automated decision that keeps this worker from the project, while one is in force.
    block_decision = models.ForeignKey(Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # A human overturned the block on appeal: the engine no longer applies the minimum here.
    is_block_waived = models.BooleanField(default=False)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["worker", "project"], name="quality_one_per_worker_project"),
            models.CheckConstraint(condition=Q(lower__lte=F("upper")), name="quality_interval_ordered"),
        ]

    def __str__(self) -> str:
        return f"Quality of {self.worker} on {self.project}: [{self.lower}, {self.upper}]"


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    FAILED = "failed", _("Failed; nothing imported")
    DONE = "done", _("Imported")


class ImportJob(models.Model):
    """One uploaded file of tasks, applied all-or-nothing by a Celery job."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="imports")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    file_path = models.CharField(max_length=500)
    file_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=5)
    size_bytes = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    rows_done = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    bytes_done = models.PositiveBigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.pk} of {self.file_name} into {self.project}"

    @property
    def percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        return int(100 * self.bytes_done / self.size_bytes) if self.size_bytes else 0
