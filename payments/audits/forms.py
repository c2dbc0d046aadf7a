"""Forms of the auditor portal: the findings filter and the resolve form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.audits.checks import CHECKS
from payments.audits.models import FindingStatus, Severity


class FindingFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *FindingStatus.choices]
    )
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=[("", _("Any severity")), *Severity.choices]
    )
    check = forms.ChoiceField(
        label=_("Check"), required=False, choices=[("", _("Any check")), *((c.code, c.code) for c in CHECKS)]
    )


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("Resolution note"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "What was done about it, e.g. the correction entry or the answered appeal. It stays in the history."
        ),
    )
