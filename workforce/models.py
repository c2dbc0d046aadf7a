"""People: accounts and roles, profiles, onboarding documents, decisions, appeals, audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CONTRACTOR = "contractor", _("Contractor")
    OPERATIONS = "operations", _("Operations manager")
    AUDITOR = "auditor", _("Compliance auditor")


class FairtaskUserManager(UserManager["User"]):
    """Email is the login; there is no username."""

    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("role", Role.OPERATIONS)
        return self._create(email, password, **extra)


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CONTRACTOR)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = FairtaskUserManager()  # type: ignore[misc]

    def __str__(self) -> str:
        return self.email

    @property
    def is_contractor(self) -> bool:
        return self.role == Role.CONTRACTOR and not self.is_superuser

    @property
    def is_operations(self) -> bool:
        return self.role == Role.OPERATIONS or self.is_superuser

    @property
    def is_auditor(self) -> bool:
        return self.role == Role.AUDITOR and not self.is_superuser

    @property
    def needs_mfa(self) -> bool:
        """Operations managers, auditors and superusers must use two-factor login."""
        return self.is_superuser or self.role in (Role.OPERATIONS, Role.AUDITOR)


class Skill(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]

    def __str__(self) -> str:
        return self.name


class ContractorState(models.TextChoices):
    APPLIED = "applied", _("Applied")
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    OFFBOARDED = "offboarded", _("Offboarded")


class ContractorProfile(models.Model):
    """A contractor's profile. ``state`` changes only through ``contractor_transition``."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="profile")
    state = models.CharField(max_length=20, choices=ContractorState.choices, default=ContractorState.APPLIED)
    state_changed_at = models.DateTimeField(default=dj_timezone.now)
    legal_name = models.CharField(max_length=200, blank=True)
    display_name = models.CharField(max_length=80, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2 code"))
    region = models.CharField(max_length=6, blank=True, help_text=_("ISO 3166-2 subdivision code"))
    timezone = models.CharField(max_length=64, blank=True)
    languages = models.JSONField(default=list, blank=True, help_text=_("ISO 639-1 codes"))
    skills = models.ManyToManyField(Skill, blank=True, related_name="contractors")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["state", "country"])]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(state__in=ContractorState.values), name="contractorprofile_state_valid"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.user.email

    @property
    def jurisdiction(self) -> str:
        """The wage-floor jurisdiction: the ISO 3166-2 region if set, else the country."""
        return self.region or self.country

    @property
    def is_profile_complete(self) -> bool:
        return bool(self.legal_name and self.display_name and self.country and self.timezone and self.languages)


class DocumentKind(models.TextChoices):
    AGREEMENT = "agreement", _("Contractor agreement")
    PRIVACY = "privacy", _("Privacy notice")


class LegalDocument(models.Model):
    """A versioned document a contractor must accept. The newest published version is current."""

    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    version = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    body = models.TextField()
    published_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["kind", "-published_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["kind", "version"], name="legaldocument_kind_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"


class DocumentAcceptance(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="acceptances")
    document = models.ForeignKey(LegalDocument, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField(default=dj_timezone.now)
    ip_address = models.GenericIPAddressField()

    class Meta:
        ordering: ClassVar[list[str]] = ["-accepted_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "document"], name="documentacceptance_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} accepted {self.document}"


class TaxFormType(models.TextChoices):
    W9 = "w9", _("W-9 (US person)")
    W8BEN = "w8ben", _("W-8BEN (non-US individual)")
    LOCAL = "local", _("Local tax registration")


class TaxFormStatus(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted, awaiting check")
    VERIFIED = "verified", _("Verified")
    REJECTED = "rejected", _("Needs correction")


class TaxForm(models.Model):
    """Tax form status. Only the last four characters of a tax ID are kept, never the whole."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tax_form")
    form_type = models.CharField(max_length=10, choices=TaxFormType.choices)
    status = models.CharField(max_length=10, choices=TaxFormStatus.choices, default=TaxFormStatus.SUBMITTED)
    tax_id_last4 = models.CharField(max_length=4)
    submitted_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=Q(tax_id_last4__regex=r"^[0-9A-Za-z]{1,4}$"), name="taxform_at_most_last_four"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_form_type_display()} of {self.user} ({self.get_status_display()})"


class DecisionKind(models.TextChoices):
    ONBOARDING = "onboarding", _("Onboarding started")
    APPROVAL = "approval", _("Approval")
    PAUSE = "pause", _("Pause")
    REINSTATE = "reinstate", _("Reinstatement")
    OFFBOARD = "offboard", _("Offboarding")
    APPEAL = "appeal", _("Appeal outcome")
    QUALIFICATION = "qualification", _("Qualification result")
    REVIEW = "review", _("Review of submitted work")
    FRAUD = "fraud", _("Fraud finding")
    QUALITY = "quality", _("Quality limit on a project")


# Decisions that take work away from a person are never made by a machine alone.
HUMAN_ONLY_KINDS = (DecisionKind.PAUSE, DecisionKind.OFFBOARD, DecisionKind.FRAUD)


class Decision(models.Model):
    """A decision about a person: what, why in readable words, the numbers used, who decided."""

    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions")
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    outcome = models.CharField(max_length=40)
    reason = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    is_automated = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="decisions_made"
    )
    decided_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-decided_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=~Q(reason=""), name="decision_has_reason"),
            models.CheckConstraint(
                condition=Q(is_automated=True) | Q(decided_by__isnull=False), name="decision_human_has_decider"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=HUMAN_ONLY_KINDS) | Q(is_automated=False, decided_by__isnull=False),
                name="decision_pause_offboard_by_human",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.outcome} ({self.subject})"


class ProposalStatus(models.TextChoices):
    OPEN = "open", _("Waiting for a human")
    CONFIRMED = "confirmed", _("Confirmed")
    DISMISSED = "dismissed", _("Dismissed")


class DecisionProposal(models.Model):
    """An automated rule may propose a pause or offboarding; only a human can confirm it."""

    subject = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposals")
    kind = models.CharField(max_length=20, choices=[(k.value, k.label) for k in HUMAN_ONLY_KINDS])
    rule = models.CharField(max_length=100)
    reason = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    status = models.CharField(max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=~Q(reason=""), name="proposal_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Proposed {self.get_kind_display()} of {self.subject} by {self.rule}"


class AppealStatus(models.TextChoices):
    OPEN = "open", _("Open")
    UPHELD = "upheld", _("Decision upheld")
    OVERTURNED = "overturned", _("Decision overturned")


class Appeal(models.Model):
    """A contractor's appeal of a decision, answered by a different human before ``due_at``."""

    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="appeal")
    appellant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appeals")
    message = models.TextField()
    filed_at = models.DateTimeField(default=dj_timezone.now)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=AppealStatus.choices, default=AppealStatus.OPEN)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="appeals_answered"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    outcome_decision = models.OneToOneField(
        Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="answers_appeal"
    )

    class Meta:
        ordering: ClassVar[list[str]] = ["due_at"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=~Q(message=""), name="appeal_has_message"),
            models.CheckConstraint(
                condition=Q(status=AppealStatus.OPEN)
                | Q(answered_by__isnull=False, answered_at__isnull=False, outcome_decision__isnull=False),
                name="appeal_answer_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Appeal by {self.appellant} of decision {self.decision_id} ({self.get_status_display()})"

    @property
    def is_overdue(self) -> bool:
        return self.status == AppealStatus.OPEN and self.due_at < dj_timezone.now()


class AuditEvent(models.Model):
    """One link of the hash chain. ``hash`` covers every field and the previous event's hash."""

    seq = models.PositiveBigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    summary = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["seq"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditChainCheck(models.Model):
    """The result of one verification of the audit chain (by the beat job, command or page)."""

    checked_at = models.DateTimeField(default=dj_timezone.now)
    events_checked = models.PositiveBigIntegerField()
    is_intact = models.BooleanField()
    first_broken_seq = models.PositiveBigIntegerField(null=True, blank=True)
    message = models.TextField()

    class Meta:
        ordering: ClassVar[list[str]] = ["-checked_at"]

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M} {'intact' if self.is_intact else 'broken'}"
