from typing import Any

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

# Readable names for the keys services put in Decision.data.
_LABELS = {
    "from_state": _("State before"),
    "to_state": _("State after"),
    "rule": _("Rule"),
    "appeal": _("Appeal number"),
    "original_decision": _("Decision appealed"),
    "original_kind": _("Kind of decision appealed"),
    "proposal": _("Proposal number"),
}


@register.filter
def decision_numbers(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The numbers a decision used, as (readable label, value) pairs."""
    return [(str(_LABELS.get(key, key.replace("_", " ").capitalize())), value) for key, value in data.items()]
