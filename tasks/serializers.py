from typing import Any

from rest_framework import serializers

from tasks.models import Batch, Project


class ProjectOutput(serializers.ModelSerializer[Project]):
    required_skill: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(read_only=True, slug_field="slug")

    class Meta:
        model = Project
        fields = (
            "id",
            "name",
            "slug",
            "required_skill",
            "template",
            "answer_schema",
            "overlap",
            "lease_seconds",
            "currency",
            "piece_rate_minor",
            "hourly_rate_minor",
            "is_sensitive",
            "status",
        )


class BatchOutput(serializers.ModelSerializer[Batch]):
    task_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Batch
        fields = ("id", "project", "name", "priority", "created_at", "task_count")


class NextTaskInput(serializers.Serializer[dict[str, Any]]):
    project = serializers.IntegerField(required=False, min_value=1)


class SubmitInput(serializers.Serializer[dict[str, Any]]):
    answer = serializers.JSONField()


class HeartbeatInput(serializers.Serializer[dict[str, Any]]):
    kind = serializers.ChoiceField(choices=["task", "qualification", "instruction"])
    id = serializers.IntegerField(min_value=1)


class ReviewInput(serializers.Serializer[dict[str, Any]]):
    verdict = serializers.ChoiceField(choices=["approve", "reject"])
    code = serializers.CharField(required=False, allow_blank=True, default="")
    message = serializers.CharField(required=False, allow_blank=True, default="")


class AssignmentOutput(serializers.Serializer[dict[str, Any]]):
    """What a worker sees of a task (tasks.presenters.task_for_worker); never a gold answer."""

    assignment = serializers.IntegerField()
    project = serializers.DictField()
    template = serializers.CharField()
    choices = serializers.ListField(child=serializers.CharField())
    max_length = serializers.IntegerField(allow_null=True)
    data = serializers.DictField()  # type: ignore[assignment]
    expires_at = serializers.DateTimeField()
    status = serializers.CharField()


class RefusalOutput(serializers.Serializer[dict[str, Any]]):
    message = serializers.CharField()
    code = serializers.CharField()
    retry_at = serializers.DateTimeField(allow_null=True)
