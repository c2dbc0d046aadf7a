"""Shared by the access tests: the project's URL patterns and a small world of people and records.

The URL patterns are found by walking the resolver rather than listed by hand, so a URL added
to ``workforce/urls.py`` shows up in the access matrix and the MFA gate without anyone
remembering to add it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.workforce.factories import contractor, legal_documents, staff_user
from workforce import services
from workforce.models import (
    Appeal,
    AuditEvent,
    ContractorProfile,
    Decision,
    DecisionKind,
    DecisionProposal,
    DocumentAcceptance,
    LegalDocument,
    Role,
    TaxForm,
    User,
)

_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")

ROLES = ("anonymous", "contractor_a", "contractor_b", "ops", "auditor", "superuser")

# Text that only contractor A's records contain. Contractor B must never see any of it.
A_SECRETS = (
    "owner-ada@example.com",
    "Ada Private-Legalname",
    "PRIVATE-APPROVAL-REASON-ADA",
    "PRIVATE-PAUSE-REASON-ADA",
    "PRIVATE-APPEAL-MESSAGE-ADA",
    "PRIVATE-PROPOSAL-REASON-ADA",
)


@dataclass(frozen=True)
class Route:
    name: str  # the full name, e.g. "workforce:decision-detail"
    pattern: str  # the joined route, e.g. "decisions/<int:pk>/"
    callback: Any

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    @property
    def takes_pk(self) -> bool:
        return "<int:pk>" in self.pattern

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the URL's path parameters, e.g. ``("project_id",)``."""
        return tuple(_PARAMETER.findall(self.pattern))

    @property
    def api_write_methods(self) -> set[str]:
        """The HTTP methods that can change data, for a DRF class-based view."""
        view_class = getattr(self.callback, "view_class", None)
        if view_class is None:
            return set()
        return {m for m in ("post", "put", "patch", "delete") if hasattr(view_class, m)}


def _walk(patterns: Sequence[URLPattern | URLResolver], namespaces: tuple[str, ...], prefix: str) -> list[Route]:
    found: list[Route] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = (*namespaces, entry.namespace) if entry.namespace else namespaces
            found += _walk(entry.url_patterns, inner, prefix + str(entry.pattern))
        else:
            pattern = prefix + str(entry.pattern)
            # An unnamed pattern cannot be reversed or given an access rule, so it gets a
            # placeholder name that no table can match: the coverage test then names it.
            local = entry.name or f"<unnamed {pattern}>"
            found.append(Route(":".join((*namespaces, local)), pattern, entry.callback))
    return found


def project_routes(namespace: str) -> list[Route]:
    """Every URL pattern whose namespace is exactly ``namespace``, however deeply it is included."""
    prefix = f"{namespace}:"
    return [
        r
        for r in _walk(get_resolver().url_patterns, (), "")
        if r.name.startswith(prefix) and ":" not in r.name[len(prefix) :]
    ]


@dataclass
class World:
    """Contractor A (paused, with an appeal and an open proposal), contractor B, and staff.

    A's decisions were made by ``decider``, a different manager from ``users["ops"]``, so the
    ops manager under test is allowed to answer A's appeal.
    """

    users: dict[str, User]
    profile_a: ContractorProfile
    profile_b: ContractorProfile
    decision: Decision  # A's approval: not appealed yet, so A may still appeal it
    appealed_decision: Decision  # A's pause, which A has appealed
    appeal: Appeal
    proposal: DecisionProposal
    new_agreement: LegalDocument  # published after A accepted v1, so A has it to accept

    def client(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client

    def pk_for(self, route: Route) -> int:
        """The object of A's that a URL with ``<int:pk>`` points at."""
        local = route.name.split(":")[-1]
        if "appeal" in local and "decision" not in local:
            return self.appeal.pk
        if "decision" in local:
            return self.decision.pk
        if "proposal" in local:
            return self.proposal.pk
        if "contractor" in local:
            return self.profile_a.pk
        raise AssertionError(f"No object for {route.name}; teach World.pk_for about it.")

    def url(self, route: Route) -> str:
        return reverse(route.name, kwargs={"pk": self.pk_for(route)} if route.takes_pk else None)


def build_world() -> World:
    decider = staff_user(Role.OPERATIONS)
    profile_a = contractor("onboarding", email="owner-ada@example.com")
    user_a = profile_a.user
    services.profile_update(
        profile=profile_a,
        actor=user_a,
        legal_name="Ada Private-Legalname",
        display_name="ada",
        country="DE",
        region="DE-BE",
        timezone_name="Europe/Berlin",
        languages=["en"],
        skills=list(profile_a.skills.all()),
    )
    services.contractor_transition(
        profile=profile_a, action="approve", actor=decider, reason="PRIVATE-APPROVAL-REASON-ADA"
    )
    approval = Decision.objects.get(subject=user_a, kind=DecisionKind.APPROVAL)
    services.contractor_transition(profile=profile_a, action="pause", actor=decider, reason="PRIVATE-PAUSE-REASON-ADA")
    pause = Decision.objects.get(subject=user_a, kind=DecisionKind.PAUSE)
    appeal = services.appeal_file(decision=pause, appellant=user_a, message="PRIVATE-APPEAL-MESSAGE-ADA")
    proposal = services.proposal_create(
        subject=user_a, kind="offboard", rule="quality_below_floor", reason="PRIVATE-PROPOSAL-REASON-ADA", data={}
    )
    profile_b = contractor("active", ops=decider, email="other-bea@example.com")
    new_agreement = legal_documents(version="2")[0]
    profile_a.refresh_from_db()
    return World(
        users={
            "contractor_a": user_a,
            "contractor_b": profile_b.user,
            "ops": staff_user(Role.OPERATIONS),
            "auditor": staff_user(Role.AUDITOR),
            "superuser": staff_user(Role.OPERATIONS, is_superuser=True, is_staff=True),
        },
        profile_a=profile_a,
        profile_b=profile_b,
        decision=approval,
        appealed_decision=pause,
        appeal=appeal,
        proposal=proposal,
        new_agreement=new_agreement,
    )


def db_state(world: World) -> dict[str, Any]:
    """Everything a write could change, to compare before and after a refused request."""
    profile = ContractorProfile.objects.get(pk=world.profile_a.pk)
    return {
        "decisions": Decision.objects.count(),
        "appeals": list(Appeal.objects.order_by("pk").values_list("pk", "status", "answered_by_id")),
        "audit_events": AuditEvent.objects.count(),
        "proposals": list(DecisionProposal.objects.order_by("pk").values_list("pk", "status", "resolved_by_id")),
        "acceptances": DocumentAcceptance.objects.count(),
        "tax_forms": list(TaxForm.objects.order_by("pk").values_list("pk", "form_type", "tax_id_last4")),
        "profile_a": (
            profile.state,
            profile.legal_name,
            profile.display_name,
            profile.country,
            profile.region,
            profile.timezone,
            profile.languages,
            sorted(profile.skills.values_list("slug", flat=True)),
        ),
        "profile_b_state": ContractorProfile.objects.get(pk=world.profile_b.pk).state,
    }
