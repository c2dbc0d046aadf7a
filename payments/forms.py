"""Portal forms of the payments app. The services check everything again; the forms give each field its label."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.money import currency_check, exponent
from payments.services.rates import pay_currency
from tasks.models import Project

# The service's field names, and the form fields that show their errors.
SERVICE_FIELDS = {"currency": "currency", "piece_rate_minor": "piece_rate", "hourly_rate_minor": "hourly_rate"}


class ProjectPayForm(forms.Form):
    """A project's pay in major units (0.05 per answer, 15.00 an hour); the service stores minor units."""

    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        help_text=_("The organisation pays in one currency; a project's rates must be in it."),
    )
    piece_rate = forms.DecimalField(
        label=_("Piece rate (per approved answer)"),
        min_value=Decimal(0),
        max_digits=12,
        help_text=_("For example 0.05. Use 0 for a project paid by the hour only."),
    )
    hourly_rate = forms.DecimalField(
        label=_("Hourly rate (per hour of active task time)"),
        min_value=Decimal(0),
        max_digits=12,
        help_text=_("For example 15.00. Use 0 for a project paid by the piece only; the wage floor still applies."),
    )

    @classmethod
    def for_project(cls, project: Project, data: Any = None) -> ProjectPayForm:
        try:
            places = exponent(project.currency)
        except (TypeError, ValueError):  # a code the admin let through; the form asks for a real one
            places = 2
        initial = {
            "currency": project.currency,
            "piece_rate": Decimal(project.piece_rate_minor).scaleb(-places),
            "hourly_rate": Decimal(project.hourly_rate_minor).scaleb(-places),
        }
        return cls(data, initial=initial)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].help_text = _("The organisation pays in %(pay)s; a project's rates must be in it.") % {
            "pay": pay_currency()
        }

    def clean_currency(self) -> str:
        try:
            return currency_check(self.cleaned_data["currency"])
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from exc

    def _minor(self, field: str) -> int | None:
        value = self.cleaned_data.get(field)
        currency = self.cleaned_data.get("currency")
        if value is None or currency is None:
            return None
        places = exponent(currency)
        try:
            minor = value.scaleb(places)
            if minor != minor.to_integral_value():
                raise InvalidOperation
        except InvalidOperation:
            self.add_error(
                field,
                _("%(code)s has %(n)d decimal places; give the rate to at most that many.")
                % {"code": currency, "n": places},
            )
            return None
        return int(minor)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        cleaned["piece_rate_minor"] = self._minor("piece_rate")
        cleaned["hourly_rate_minor"] = self._minor("hourly_rate")
        return cleaned
