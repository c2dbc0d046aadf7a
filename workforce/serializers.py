from typing import Any

from rest_framework import serializers

from workforce.models import Appeal, ContractorProfile, ContractorState, Decision


class DecisionOutput(serializers.ModelSerializer[Decision]):
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = ("id", "subject", "kind", "outcome", "reason", "data", "is_automated", "decided_by", "decided_at")

    def get_decided_by(self, obj: Decision) -> str | None:
        return obj.decided_by.email if obj.decided_by else None


class ContractorOutput(serializers.ModelSerializer[ContractorProfile]):
    email = serializers.EmailField(source="user.email")
    skills: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="slug"
    )

    class Meta:
        model = ContractorProfile
        fields = (
            "id",
            "email",
            "state",
            "legal_name",
            "display_name",
            "country",
            "region",
            "timezone",
            "languages",
            "skills",
            "created_at",
        )


class AppealOutput(serializers.ModelSerializer[Appeal]):
    class Meta:
        model = Appeal
        fields = (
            "id",
            "decision",
            "appellant",
            "message",
            "filed_at",
            "due_at",
            "status",
            "answered_at",
            "outcome_decision",
        )


class ContractorFilterInput(serializers.Serializer[dict[str, str]]):
    """The contractor list's query parameters; checked, so a stray NUL byte is a 400 and not a database error."""

    q = serializers.CharField(allow_blank=True, default="", help_text="Search name and email.")
    state = serializers.ChoiceField(choices=ContractorState.choices, allow_blank=True, default="")
    country = serializers.CharField(allow_blank=True, default="", max_length=2)
    skill = serializers.CharField(allow_blank=True, default="", help_text="A skill slug.")


class TransitionInput(serializers.Serializer[dict[str, str]]):
    action = serializers.ChoiceField(choices=["approve", "pause", "reinstate", "offboard"])
    reason = serializers.CharField(allow_blank=True)


class AppealInput(serializers.Serializer[dict[str, str]]):
    message = serializers.CharField(allow_blank=True)


class AppealAnswerInput(serializers.Serializer[dict[str, str]]):
    outcome = serializers.ChoiceField(choices=["upheld", "overturned"])
    reason = serializers.CharField(allow_blank=True)


class ProfileInput(serializers.Serializer[dict[str, object]]):
    legal_name = serializers.CharField(allow_blank=True)
    display_name = serializers.CharField(allow_blank=True)
    country = serializers.CharField(allow_blank=True)
    region = serializers.CharField(allow_blank=True, required=False, default="")
    timezone = serializers.CharField(allow_blank=True)
    languages = serializers.ListField(child=serializers.CharField())
    skills = serializers.ListField(child=serializers.SlugField(), required=False, default=list)
