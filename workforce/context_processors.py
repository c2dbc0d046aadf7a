from typing import Any

from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, Any]:
    """Which base layout and navigation a page uses, by role."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"portal_role": "anonymous"}
    if user.is_operations:
        return {"portal_role": "operations"}
    if user.is_auditor:
        return {"portal_role": "auditor"}
    return {"portal_role": "contractor"}
