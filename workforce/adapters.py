from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    """Every new signup is a contractor applicant; staff accounts are created by admins."""

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        from workforce.models import Role
        from workforce.services import contractor_register

        user.role = Role.CONTRACTOR
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            contractor_register(user=user)
        return user
