"""The fair-wage report request form: fields only; the service checks what they mean together."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.models import PayPeriod, PeriodStatus, ReportFormat


class ReportRequestForm(forms.Form):
    period = forms.ModelChoiceField(
        queryset=PayPeriod.objects.none(),
        required=False,
        label=_("Pay period"),
        help_text=_("A closed week; or leave empty and give a date range."),
    )
    date_from = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))
    jurisdiction = forms.CharField(
        required=False,
        max_length=10,
        label=_("Jurisdiction"),
        help_text=_("Optional: a country (US, which includes its regions) or a region (US-CA)."),
    )
    format = forms.ChoiceField(choices=ReportFormat.choices, initial=ReportFormat.CSV, label=_("Format"))
    real_names = forms.BooleanField(required=False, label=_("Show real names instead of pseudonyms"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["period"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = PayPeriod.objects.filter(status=PeriodStatus.CLOSED).order_by("-start")
