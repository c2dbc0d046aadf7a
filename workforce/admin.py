"""Admin for every model. Decisions and state changes go through the same services as the portal."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from workforce import services
from workforce.audit import audit_record
from workforce.models import (
    Appeal,
    AuditChainCheck,
    AuditEvent,
    ContractorProfile,
    Decision,
    DecisionProposal,
    DocumentAcceptance,
    LegalDocument,
    Skill,
    TaxForm,
    User,
)


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Records that only services write: viewable and searchable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditedAdmin(admin.ModelAdmin[Any]):
    """Admin edits are state changes too: each save writes an audit event in the same transaction."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        changed = sorted(form.changed_data) if form is not None else []
        audit_record(
            actor=_staff(request),
            action=f"admin.{'change' if change else 'add'}",
            obj=obj,
            summary={"fields": changed, "values": {f: str(form.cleaned_data.get(f)) for f in changed}},
        )


@admin.register(User)
class UserAdmin(AuditedAdmin):
    list_display = ("email", "role", "is_active", "is_superuser", "date_joined")
    list_filter = ("role", "is_active", "is_superuser")
    search_fields = ("email", "first_name", "last_name")
    fields = (
        "email",
        "role",
        "first_name",
        "last_name",
        "is_active",
        "is_staff",
        "is_superuser",
        "last_login",
        "date_joined",
    )
    readonly_fields = ("last_login", "date_joined")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The Operations managers group may change people records, but only a superuser
        # decides who is staff, superuser or which role; otherwise a manager could promote
        # themselves (or a contractor) to superuser.
        if _staff(request).is_superuser:
            return self.readonly_fields
        return (*self.readonly_fields, "role", "is_staff", "is_superuser")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Staff accounts are managed by superusers: a manager who could change another staff
        # member's email could reset that account's password and take it over.
        if obj is not None and obj.needs_mfa and not _staff(request).is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # people are offboarded with a reason, never deleted


def _staff(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


class ReasonActionForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Reason the contractor will read")


def _transition_action(action: str, label: str) -> Any:
    def run(
        modeladmin: ContractorProfileAdmin, request: HttpRequest, queryset: QuerySet[ContractorProfile]
    ) -> HttpResponse | None:
        form = ReasonActionForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                done = services.contractor_bulk_transition(
                    profiles=list(queryset),
                    action=action,
                    actor=_staff(request),
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as exc:
                modeladmin.message_user(request, "Nothing was changed: " + " ".join(exc.messages), messages.ERROR)
            else:
                modeladmin.message_user(request, f"{label}: {len(done)} contractor(s), with your reason recorded.")
            return None
        return TemplateResponse(
            request,
            "admin/workforce/reason_action.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": f"{label}: give a reason",
                "form": form,
                "queryset": queryset,
                "action": request.POST.get("action"),
                "opts": modeladmin.model._meta,
            },
        )

    run.__name__ = f"action_{action}"
    run.short_description = f"{label} selected contractors (asks for a reason)"  # type: ignore[attr-defined]
    return run


@admin.register(ContractorProfile)
class ContractorProfileAdmin(AuditedAdmin):
    list_display = ("__str__", "user", "state", "country", "region", "created_at")
    list_filter = ("state", "country", "skills")
    search_fields = ("display_name", "legal_name", "user__email")
    readonly_fields = ("user", "state", "state_changed_at", "created_at")
    actions = [
        _transition_action("approve", "Approve"),
        _transition_action("pause", "Pause"),
        _transition_action("reinstate", "Reinstate"),
        _transition_action("offboard", "Offboard"),
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ("subject", "kind", "outcome", "is_automated", "decided_by", "decided_at")
    list_filter = ("kind", "outcome", "is_automated")
    search_fields = ("subject__email", "reason")


@admin.register(DecisionProposal)
class DecisionProposalAdmin(ReadOnlyAdmin):
    list_display = ("subject", "kind", "rule", "status", "created_at")
    list_filter = ("kind", "status", "rule")
    search_fields = ("subject__email", "reason")


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ("appellant", "decision", "status", "filed_at", "due_at")
    list_filter = ("status",)
    search_fields = ("appellant__email", "message")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "action", "actor_label", "object_type", "object_id", "created_at")
    list_filter = ("action", "object_type")
    search_fields = ("action", "actor_label", "object_id")


@admin.register(AuditChainCheck)
class AuditChainCheckAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "events_checked", "is_intact", "first_broken_seq")
    list_filter = ("is_intact",)
    search_fields = ("message",)


@admin.register(Skill)
class SkillAdmin(AuditedAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    list_filter = ("name",)


@admin.register(LegalDocument)
class LegalDocumentAdmin(AuditedAdmin):
    list_display = ("kind", "version", "title", "published_at")
    list_filter = ("kind",)
    search_fields = ("title", "version")


@admin.register(DocumentAcceptance)
class DocumentAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ("user", "document", "accepted_at", "ip_address")
    list_filter = ("document__kind",)
    search_fields = ("user__email",)


@admin.register(TaxForm)
class TaxFormAdmin(AuditedAdmin):
    list_display = ("user", "form_type", "status", "tax_id_last4", "submitted_at")
    list_filter = ("form_type", "status")
    search_fields = ("user__email",)
    readonly_fields = ("user", "tax_id_last4", "submitted_at")
