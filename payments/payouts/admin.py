"""Admin for payouts: everything read-only (the services write it), bank numbers shown masked."""

from __future__ import annotations

from django.contrib import admin

from payments.admin import ServiceWrittenAdmin
from payments.payouts.models import BankFile, Payout, PayoutAccount, PayoutRun, PayoutSkip, StripeEvent


@admin.register(PayoutAccount)
class PayoutAccountAdmin(ServiceWrittenAdmin):
    list_display = ("contractor", "provider", "stripe_account_id", "is_usable", "disabled_reason", "updated_at")
    list_filter = ("provider", "payouts_enabled", "transfers_active")
    search_fields = ("contractor__email", "stripe_account_id")
    list_select_related = ("contractor",)
    exclude = ("bank_account_reference",)
    readonly_fields = ("bank_reference_masked",)

    @admin.display(boolean=True, description="usable")
    def is_usable(self, obj: PayoutAccount) -> bool:
        return obj.is_usable


@admin.register(PayoutRun)
class PayoutRunAdmin(ServiceWrittenAdmin):
    list_display = ("id", "started_at", "started_by", "currency", "status", "planned_count", "finished_at")
    list_filter = ("status", "currency")
    list_select_related = ("started_by",)


@admin.register(Payout)
class PayoutAdmin(ServiceWrittenAdmin):
    list_display = ("id", "contractor", "amount_display", "provider", "state", "provider_reference", "created_at")
    list_filter = ("state", "provider", "currency")
    search_fields = ("contractor__email", "key", "provider_reference")
    list_select_related = ("contractor",)
    raw_id_fields = ("run", "contractor", "account", "bank_file", "entry", "return_entry", "settled_by")

    @admin.display(description="amount", ordering="amount_minor")
    def amount_display(self, obj: Payout) -> str:
        return obj.amount.format()


@admin.register(PayoutSkip)
class PayoutSkipAdmin(ServiceWrittenAdmin):
    list_display = ("run", "contractor", "reason_code", "created_at")
    list_filter = ("reason_code",)
    list_select_related = ("run", "contractor")


@admin.register(BankFile)
class BankFileAdmin(ServiceWrittenAdmin):
    list_display = ("id", "run", "created_at", "created_by", "payout_count", "sha256")
    list_select_related = ("run", "created_by")


@admin.register(StripeEvent)
class StripeEventAdmin(ServiceWrittenAdmin):
    list_display = ("event_id", "type", "account", "received_at", "result")
    list_filter = ("type",)
    search_fields = ("event_id", "account")
