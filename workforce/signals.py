from typing import Any

from allauth.account.signals import email_confirmed
from django.dispatch import Signal, receiver

# Sent inside the transaction of an appeal that overturns ``decision`` (kwargs: decision,
# actor), so apps above workforce can undo what the decision did, e.g. restore fraud-excluded time.
decision_overturned = Signal()

OPERATIONS_GROUP = "Operations managers"


def operations_group_sync(sender: Any, **kwargs: Any) -> None:
    """Operations managers use the admin: their group may view and change people records.

    Add and delete stay off: people are created by signing up and never deleted, and
    decisions and the audit log are written only by services.
    """
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    group, _created = Group.objects.get_or_create(name=OPERATIONS_GROUP)
    people = Q(content_type__app_label="workforce", codename__regex=r"^(view|change)_")
    # Managers run projects: they may also create projects, batches, instructions and tests.
    work = Q(content_type__app_label="tasks", codename__regex=r"^(view|change)_") | Q(
        content_type__app_label="tasks",
        codename__in=[
            "add_project",
            "add_batch",
            "add_instructionversion",
            "add_qualificationtest",
            "add_qualificationquestion",
        ],
    )
    group.permissions.set(Permission.objects.filter(people | work))


@receiver(email_confirmed)
def start_onboarding_on_email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    from workforce.services import contractor_email_verified

    contractor_email_verified(user=email_address.user)
