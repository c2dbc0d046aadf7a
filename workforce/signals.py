from typing import Any

from allauth.account.signals import email_confirmed
from django.dispatch import receiver


@receiver(email_confirmed)
def start_onboarding_on_email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    from workforce.services import contractor_email_verified

    contractor_email_verified(user=email_address.user)
