"""Admin for payments. Ledger entries and pay periods are read-only here: only services write them.

Wage floors, policy floors and FX rates are reference data that operations maintain: editable
by superusers and operations managers, every save audited, never deleted (a report that cited
a row must still find it; a wrong row is corrected by editing it, which the audit log records).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from payments.models import (
    CloseRun,
    FraudExclusion,
    FxRate,
    LedgerEntry,
    PayPeriod,
    PolicyFloor,
    QualityTier,
    WageFloor,
)
from workforce.admin import AuditedAdmin, ReadOnlyAdmin
from workforce.models import User


def _is_operations_staff(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and user.is_active and user.is_staff and user.is_operations


class OperationsViewMixin:
    """Operations staff see payments in the admin without a per-model permission in their group."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_operations_staff(request) or super().has_module_permission(request)  # type: ignore[misc]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operations_staff(request) or super().has_view_permission(request, obj)  # type: ignore[misc]


class ServiceWrittenAdmin(OperationsViewMixin, ReadOnlyAdmin):
    """Viewable by operations staff; written only by the payments services."""


class ReferenceDataAdmin(OperationsViewMixin, AuditedAdmin):
    """Operations staff may view, add and change; nobody deletes."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_operations_staff(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_operations_staff(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ServiceWrittenAdmin):
    list_display = (
        "id",
        "contractor",
        "kind",
        "amount_display",
        "period",
        "created_at",
        "created_by",
        "created_by_job",
    )
    list_filter = ("kind", "currency", "period")
    search_fields = ("contractor__email", "memo", "key", "source_type")
    list_select_related = ("contractor", "period", "created_by")
    raw_id_fields = ("contractor", "created_by", "reverses", "period")

    @admin.display(description="amount", ordering="amount_minor")
    def amount_display(self, obj: LedgerEntry) -> str:
        return obj.amount.format()


@admin.register(PayPeriod)
class PayPeriodAdmin(ServiceWrittenAdmin):
    list_display = ("start", "end", "timezone", "status", "closing_started_at", "closed_at")
    list_filter = ("status",)


@admin.register(WageFloor)
class WageFloorAdmin(ReferenceDataAdmin):
    list_display = ("jurisdiction", "hourly_rate", "currency", "effective_from", "checked_on", "source_url")
    list_filter = ("jurisdiction", "currency")
    search_fields = ("jurisdiction", "note", "source_url")


@admin.register(PolicyFloor)
class PolicyFloorAdmin(ReferenceDataAdmin):
    list_display = ("__str__", "jurisdiction", "hourly_rate", "currency", "effective_from", "created_by")
    list_filter = ("jurisdiction", "currency")
    search_fields = ("jurisdiction", "note")
    exclude = ("created_by",)
    readonly_fields = ("created_at",)

    def save_model(self, request: HttpRequest, obj: PolicyFloor, form: Any, change: bool) -> None:
        if not change:
            assert isinstance(request.user, User)
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(FxRate)
class FxRateAdmin(ReferenceDataAdmin):
    list_display = ("date", "base", "quote", "rate", "source")
    list_filter = ("base", "quote")
    search_fields = ("base", "quote", "source")
    date_hierarchy = "date"


# The payouts package registers its own models (payments/payouts/admin.py).
from payments.payouts import admin as payouts_admin  # noqa: E402,F401


@admin.register(QualityTier)
class QualityTierAdmin(ReferenceDataAdmin):
    """Quality tiers are pay settings: operations add and change them here; every save is audited."""

    list_display = ("project", "kind", "threshold", "multiplier", "note")
    list_filter = ("kind", "project")
    search_fields = ("project__name", "note")
    list_select_related = ("project",)
    readonly_fields = ("created_at",)


@admin.register(CloseRun)
class CloseRunAdmin(ServiceWrittenAdmin):
    list_display = ("period", "status", "done", "total", "entries_posted", "attempts", "started_at", "finished_at")
    list_filter = ("status",)
    list_select_related = ("period",)


@admin.register(FraudExclusion)
class FraudExclusionAdmin(ServiceWrittenAdmin):
    list_display = ("period", "contractor", "fraud_mark", "project", "seconds")
    list_select_related = ("period", "contractor", "project")
    search_fields = ("contractor__email",)
