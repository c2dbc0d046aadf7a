"""Factories that build valid objects, so a test sets only what it cares about."""

from __future__ import annotations

from typing import Any

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP

from workforce import services
from workforce.models import ContractorProfile, DocumentKind, LegalDocument, Role, Skill, User

PASSWORD = "a-long-test-password-42"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    role = Role.CONTRACTOR
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)
            obj.save()


def staff_user(role: str = Role.OPERATIONS, *, with_mfa: bool = True, **kwargs: Any) -> User:
    user = UserFactory.create(role=role, **kwargs)
    if with_mfa:
        TOTP.activate(user, TOTP_SECRET)
    return user


def has_mfa(user: User) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class SkillFactory(factory.django.DjangoModelFactory[Skill]):
    class Meta:
        model = Skill
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"skill-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


def legal_documents(version: str = "1") -> list[LegalDocument]:
    return [
        LegalDocument.objects.get_or_create(
            kind=kind, version=version, defaults={"title": f"{kind.label} v{version}", "body": "Terms."}
        )[0]
        for kind in (DocumentKind.AGREEMENT, DocumentKind.PRIVACY)
    ]


def contractor(state: str = "active", *, ops: User | None = None, **user_kwargs: Any) -> ContractorProfile:
    """A contractor walked through the real services up to ``state``."""
    user = UserFactory.create(**user_kwargs)
    profile = services.contractor_register(user=user)
    if state == "applied":
        return profile
    services.contractor_email_verified(user=user)
    profile.refresh_from_db()
    if state == "onboarding_empty":
        return profile
    services.profile_update(
        profile=profile,
        actor=user,
        legal_name="Test Person",
        display_name=user.email.split("@")[0],
        country="DE",
        region="DE-BE",
        timezone_name="Europe/Berlin",
        languages=["en", "de"],
        skills=[SkillFactory.create(slug="text-classification")],
    )
    for document in legal_documents():
        services.document_accept(user=user, document=document, accepted=True, ip_address="203.0.113.7")
    services.tax_form_submit(user=user, form_type="w8ben", tax_id="DE-123456789")
    if state == "onboarding":
        profile.refresh_from_db()
        return profile
    ops = ops or staff_user()
    services.contractor_transition(profile=profile, action="approve", actor=ops, reason="Checklist complete.")
    if state == "paused":
        services.contractor_transition(profile=profile, action="pause", actor=ops, reason="Quality check.")
    if state == "offboarded":
        services.contractor_transition(profile=profile, action="offboard", actor=ops, reason="Asked to leave.")
    profile.refresh_from_db()
    return profile
