"""Who may see and change what. One ``*_for_user`` helper per model, used by views and the API.

A contractor sees only their own records (another's gives 404, not a hint that it exists);
an auditor reads everything and changes nothing; an operations manager reads and acts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.mfa.models import Authenticator
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from rest_framework.permissions import BasePermission

from workforce.models import Appeal, ContractorProfile, Decision, User

View = Callable[..., HttpResponseBase]


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def can_read_people(user: User) -> bool:
    return user.is_operations or user.is_auditor


def has_required_mfa(user: Any) -> bool:
    """False for an operations manager, auditor or superuser who has not enrolled a TOTP authenticator."""
    if not getattr(user, "needs_mfa", False):
        return True
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class MfaEnrolled(BasePermission):
    """The API's half of ``RequireMfaMiddleware`` (a default permission class in settings).

    The middleware only sees users signed in by session; a client using a token is
    authenticated later, by DRF, so without this check a token would skip the MFA rule.
    """

    message = "Two-factor authentication is required for your role; enrol at /accounts/2fa/."
    code = "mfa_required"

    def has_permission(self, request: Any, view: Any) -> bool:
        return has_required_mfa(request.user)


def role_required(*, read: bool = False) -> Callable[[View], View]:
    """Staff-only views: ``read=True`` lets auditors in for GET (and only GET); writes need operations."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not isinstance(user, User):
                return redirect_to_login(request.get_full_path())
            if user.is_operations:
                return view(request, *args, **kwargs)
            if read and user.is_auditor and request.method in ("GET", "HEAD"):
                return view(request, *args, **kwargs)
            raise PermissionDenied("Your role does not allow this.")

        return wrapper

    return decorator


def contractor_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not isinstance(user, User):
            return redirect_to_login(request.get_full_path())
        if not user.is_contractor:
            raise PermissionDenied("This page is for contractors.")
        return view(request, *args, **kwargs)

    return wrapper


def profile_for_user(user: User, pk: int) -> ContractorProfile:
    profile = get_object_or_404(ContractorProfile.objects.select_related("user"), pk=pk)
    if can_read_people(user) or profile.user_id == user.pk:
        return profile
    raise Http404


def decision_for_user(user: User, pk: int) -> Decision:
    decision = get_object_or_404(Decision.objects.select_related("subject", "decided_by"), pk=pk)
    if can_read_people(user) or decision.subject_id == user.pk:
        return decision
    raise Http404


def appeal_for_user(user: User, pk: int) -> Appeal:
    appeal = get_object_or_404(Appeal.objects.select_related("decision", "appellant"), pk=pk)
    if can_read_people(user) or appeal.appellant_id == user.pk:
        return appeal
    raise Http404
