"""Demo data for ``make run``: one login per role and contractors in every state."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.contrib.auth.models import Group
from django.db import transaction

from workforce import services
from workforce.models import DocumentKind, LegalDocument, Role, Skill, User
from workforce.signals import OPERATIONS_GROUP

DEMO_PASSWORD = "fairtask-demo-2026"  # noqa: S105  (a published demo password)
# Published in the README so the demo's two-factor logins work; never use outside a demo.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105

STAFF = [
    ("ops@fairtask.example", Role.OPERATIONS, False),
    ("ops2@fairtask.example", Role.OPERATIONS, False),
    ("auditor@fairtask.example", Role.AUDITOR, False),
    ("admin@fairtask.example", Role.OPERATIONS, True),
]
# email, display name, country, region, timezone, final state
CONTRACTORS = [
    ("amara@fairtask.example", "Amara", "NG", "", "Africa/Lagos", "applied"),
    ("bruno@fairtask.example", "Bruno", "DE", "DE-BE", "Europe/Berlin", "onboarding"),
    ("chen@fairtask.example", "Chen", "US", "US-CA", "America/Los_Angeles", "active"),
    ("divya@fairtask.example", "Divya", "GB", "GB-ENG", "Europe/London", "active"),
    ("eli@fairtask.example", "Eli", "US", "US-TX", "America/Chicago", "paused"),
    ("fatima@fairtask.example", "Fatima", "DE", "DE-HH", "Europe/Berlin", "offboarded"),
]
SKILLS = [
    ("image-labeling", "Image labeling"),
    ("text-classification", "Text classification"),
    ("translation", "Translation"),
]


def _user(email: str, role: str, *, superuser: bool = False, verified: bool = True) -> tuple[User, bool]:
    user = User.objects.filter(email=email).first()
    if user:
        return user, False
    if superuser:
        user = User.objects.create_superuser(email, DEMO_PASSWORD, role=role)
    else:
        user = User.objects.create_user(email, DEMO_PASSWORD, role=role)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user, True


@transaction.atomic
def seed_demo() -> list[str]:
    """Create what is missing; running it again changes nothing."""
    created: list[str] = []
    for slug, name in SKILLS:
        Skill.objects.get_or_create(slug=slug, defaults={"name": name})
    for kind, title in ((DocumentKind.AGREEMENT, "Contractor agreement"), (DocumentKind.PRIVACY, "Privacy notice")):
        LegalDocument.objects.get_or_create(
            kind=kind,
            version="2026-01",
            defaults={
                "title": title,
                "body": f"{title}, version 2026-01.\n\nAll platform time is paid time. "
                "Every decision about you is explained and can be appealed.",
            },
        )
    staff: dict[str, User] = {}
    for email, role, superuser in STAFF:
        user, is_new = _user(email, role, superuser=superuser)
        staff[email] = user
        if is_new:
            created.append(email)
            if role == Role.OPERATIONS and not superuser:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
                user.groups.add(Group.objects.get(name=OPERATIONS_GROUP))
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(user, DEMO_TOTP_SECRET)
    ops = staff["ops@fairtask.example"]
    skills = list(Skill.objects.all())
    for email, name, country, region, tz, state in CONTRACTORS:
        user, is_new = _user(email, Role.CONTRACTOR, verified=state != "applied")
        if not is_new:
            continue
        created.append(email)
        profile = services.contractor_register(user=user)
        if state == "applied":
            continue
        services.contractor_email_verified(user=user)
        services.profile_update(
            profile=profile,
            actor=user,
            legal_name=f"{name} Example",
            display_name=name,
            country=country,
            region=region,
            timezone_name=tz,
            languages=["en"],
            skills=skills[:2],
        )
        for document in LegalDocument.objects.all():
            services.document_accept(user=user, document=document, accepted=True, ip_address="127.0.0.1")
        services.tax_form_submit(
            user=user, form_type="w8ben" if country != "US" else "w9", tax_id=f"DEMO{1000 + len(created)}"
        )
        if state == "onboarding":
            continue
        services.contractor_transition(
            profile=profile, action="approve", actor=ops, reason="Your profile, agreements and tax form are complete."
        )
        if state == "paused":
            services.contractor_transition(
                profile=profile,
                action="pause",
                actor=ops,
                reason=(
                    "Paused while we check three submissions flagged by a reviewer; "
                    "you will hear from us within 3 days."
                ),
            )
        if state == "offboarded":
            services.contractor_transition(
                profile=profile,
                action="offboard",
                actor=ops,
                reason="You asked us to close your account on 2026-11-02.",
            )
    return created
