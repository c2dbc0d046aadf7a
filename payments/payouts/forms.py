"""Portal forms for payouts. The services check everything again; these give each field its label."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from payments.money import currency_check


class PayoutRunForm(forms.Form):
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        help_text=_("Balances in this currency are paid; an ISO 4217 code such as USD."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = getattr(settings, "FAIRTASK_PAY_CURRENCY", "USD")

    def clean_currency(self) -> str:
        try:
            return currency_check(self.cleaned_data["currency"])
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from exc


class BankDetailsForm(forms.Form):
    holder = forms.CharField(
        label=_("Account holder"), max_length=200, help_text=_("Your name as your bank writes it.")
    )
    reference = forms.CharField(
        label=_("IBAN or account number"),
        max_length=64,
        help_text=_("Letters and digits; spaces are ignored."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class PayoutConfirmForm(forms.Form):
    OUTCOMES = (("paid", _("The bank paid it")), ("failed", _("The bank returned it")))

    outcome = forms.ChoiceField(label=_("What did the bank do?"), choices=OUTCOMES, widget=forms.RadioSelect)
    reason = forms.CharField(
        label=_("Reason (if returned)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The contractor reads this, e.g. “The account number does not exist.”"),
    )
