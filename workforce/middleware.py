"""Operations managers, auditors and superusers reach nothing but MFA enrolment until enrolled."""

from collections.abc import Callable

from allauth.mfa.models import Authenticator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

# Paths a user without MFA may still reach: enrolment itself, signing out, email
# confirmation, and the static files those pages need.
_ALLOWED_PREFIXES = ("/accounts/", "/static/")


class RequireMfaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and getattr(user, "needs_mfa", False)
            and not request.path.startswith(_ALLOWED_PREFIXES)
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {
                        "message": "Two-factor authentication is required for your role; enrol at /accounts/2fa/.",
                        "code": "mfa_required",
                        "extra": {},
                    },
                    status=403,
                )
            return redirect(reverse("mfa_activate_totp"))
        return self.get_response(request)
