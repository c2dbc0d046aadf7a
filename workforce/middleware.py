"""Operations managers, auditors and superusers reach nothing but MFA enrolment until enrolled."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from workforce.permissions import MfaEnrolled, has_required_mfa

# Paths a user without MFA may still reach: enrolment itself, signing out, email
# confirmation, and the static files those pages need.
_ALLOWED_PREFIXES = ("/accounts/", "/static/")


class RequireMfaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not request.path.startswith(_ALLOWED_PREFIXES) and not has_required_mfa(user):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "message": MfaEnrolled.message,
                        "code": MfaEnrolled.code,
                        "extra": {},
                    },
                    status=403,
                )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)


class UserTimezoneMiddleware:
    """Show times in the contractor's own time zone (from their profile); staff pages stay in UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from zoneinfo import ZoneInfo

        from django.utils import timezone

        from workforce.models import ContractorProfile

        user = request.user
        name = ""
        if user.is_authenticated and getattr(user, "is_contractor", False):
            name = ContractorProfile.objects.filter(user_id=user.pk).values_list("timezone", flat=True).first() or ""
        if name:
            timezone.activate(ZoneInfo(name))
        else:
            timezone.deactivate()
        return self.get_response(request)
