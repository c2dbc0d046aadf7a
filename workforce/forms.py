from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from workforce.models import AppealStatus, ContractorState, Skill, TaxFormType

REASON_HELP = _("The contractor reads this, so write it for them.")


class ProfileForm(forms.Form):
    legal_name = forms.CharField(label=_("Legal name"), max_length=200, required=False)
    display_name = forms.CharField(label=_("Display name"), max_length=80, required=False)
    country = forms.CharField(
        label=_("Country"), max_length=2, required=False, help_text=_("Two-letter ISO 3166-1 code, e.g. DE.")
    )
    region = forms.CharField(
        label=_("Region"), max_length=6, required=False, help_text=_("ISO 3166-2 code, e.g. US-CA; optional.")
    )
    timezone = forms.CharField(label=_("Time zone"), max_length=64, required=False, help_text=_("e.g. Europe/Berlin"))
    languages = forms.CharField(
        label=_("Languages"), required=False, help_text=_("ISO 639-1 codes separated by commas, e.g. en, de.")
    )
    skills = forms.ModelMultipleChoiceField(
        label=_("Skills"), queryset=Skill.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def language_list(self) -> list[str]:
        return [c for c in self.cleaned_data.get("languages", "").split(",") if c.strip()]


class AcceptDocumentForm(forms.Form):
    accepted = forms.BooleanField(label=_("I have read and accept this document."), required=False)


class TaxForm(forms.Form):
    form_type = forms.ChoiceField(label=_("Tax form"), choices=TaxFormType.choices)
    tax_id = forms.CharField(
        label=_("Tax ID"),
        max_length=40,
        help_text=_("We keep only the last four characters; the full number is never stored."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text=REASON_HELP
    )


class TransitionForm(ReasonForm):
    action = forms.ChoiceField(
        choices=[
            ("approve", _("Approve")),
            ("pause", _("Pause")),
            ("reinstate", _("Reinstate")),
            ("offboard", _("Offboard")),
        ]
    )


class BulkForm(TransitionForm):
    selected: forms.ModelMultipleChoiceField[Any] = forms.ModelMultipleChoiceField(queryset=None, required=False)

    def __init__(self, *args: Any, queryset: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["selected"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = queryset


class AppealForm(forms.Form):
    message = forms.CharField(
        label=_("Why should this decision change?"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )


class AppealAnswerForm(ReasonForm):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[
            (AppealStatus.UPHELD, _("Uphold the decision")),
            (AppealStatus.OVERTURNED, _("Overturn the decision")),
        ],
        widget=forms.RadioSelect,
    )


class ContractorFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    state = forms.ChoiceField(
        label=_("State"), choices=[("", _("Any state")), *ContractorState.choices], required=False
    )
    country = forms.CharField(label=_("Country"), max_length=2, required=False)
    skill = forms.ChoiceField(label=_("Skill"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        skill = self.fields["skill"]
        assert isinstance(skill, forms.ChoiceField)
        skill.choices = [("", _("Any skill")), *Skill.objects.values_list("slug", "name")]
