"""REST API for people. Same services and permission helpers as the portal."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from workforce import selectors, services
from workforce.models import ContractorProfile, Skill, User
from workforce.permissions import appeal_for_user, can_read_people, decision_for_user, profile_for_user
from workforce.serializers import (
    AppealAnswerInput,
    AppealInput,
    AppealOutput,
    ContractorFilterInput,
    ContractorOutput,
    DecisionOutput,
    ProfileInput,
    TransitionInput,
)


def _user(request: Request) -> User:
    assert isinstance(request.user, User)
    return request.user


def _require_staff_read(user: User) -> None:
    if not can_read_people(user):
        raise PermissionDenied("Only operations managers and auditors can list contractors.")


def _require_operations(user: User) -> None:
    if not user.is_operations:
        raise PermissionDenied("Only an operations manager can do this; auditors have read-only access.")


class MyProfileApi(APIView):
    @extend_schema(responses=ContractorOutput)
    def get(self, request: Request) -> Response:
        profile = services.contractor_register(user=_user(request)) if _user(request).is_contractor else None
        if profile is None:
            raise PermissionDenied("Only contractors have a profile.")
        return Response(ContractorOutput(profile).data)

    @extend_schema(request=ProfileInput, responses=ContractorOutput)
    def put(self, request: Request) -> Response:
        user = _user(request)
        if not user.is_contractor:
            raise PermissionDenied("Only contractors have a profile.")
        data = ProfileInput(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = data.validated_data
        skills = list(Skill.objects.filter(slug__in=values["skills"]))
        unknown = set(values["skills"]) - {s.slug for s in skills}
        if unknown:
            from django.core.exceptions import ValidationError

            raise ValidationError({"skills": f"Unknown skill(s): {', '.join(sorted(unknown))}."})
        profile = services.profile_update(
            profile=services.contractor_register(user=user),
            actor=user,
            legal_name=values["legal_name"],
            display_name=values["display_name"],
            country=values["country"],
            region=values["region"],
            timezone_name=values["timezone"],
            languages=values["languages"],
            skills=skills,
        )
        return Response(ContractorOutput(profile).data)


class DecisionListApi(APIView):
    @extend_schema(responses=DecisionOutput(many=True))
    def get(self, request: Request) -> Response:
        user = _user(request)
        qs = selectors.decision_list(subject=None if can_read_people(user) else user)
        return Response(DecisionOutput(qs[:200], many=True).data)


class DecisionDetailApi(APIView):
    @extend_schema(responses=DecisionOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(DecisionOutput(decision_for_user(_user(request), pk)).data)


class DecisionAppealApi(APIView):
    @extend_schema(request=AppealInput, responses={201: AppealOutput})
    def post(self, request: Request, pk: int) -> Response:
        user = _user(request)
        decision = decision_for_user(user, pk)
        data = AppealInput(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.appeal_file(decision=decision, appellant=user, message=data.validated_data["message"])
        return Response(AppealOutput(appeal).data, status=status.HTTP_201_CREATED)


class ContractorListApi(APIView):
    @extend_schema(parameters=[ContractorFilterInput], responses=ContractorOutput(many=True))
    def get(self, request: Request) -> Response:
        _require_staff_read(_user(request))
        filters = ContractorFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        values = filters.validated_data
        qs = selectors.contractor_list(
            search=values["q"], state=values["state"], country=values["country"], skill=values["skill"]
        )
        return Response(ContractorOutput(qs[:200], many=True).data)


class ContractorDetailApi(APIView):
    @extend_schema(responses=ContractorOutput)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ContractorOutput(profile_for_user(_user(request), pk)).data)


class ContractorTransitionApi(APIView):
    @extend_schema(request=TransitionInput, responses=ContractorOutput)
    def post(self, request: Request, pk: int) -> Response:
        user = _user(request)
        _require_operations(user)
        profile = get_object_or_404(ContractorProfile, pk=pk)
        data = TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        profile = services.contractor_transition(
            profile=profile, action=data.validated_data["action"], actor=user, reason=data.validated_data["reason"]
        )
        return Response(ContractorOutput(profile).data)


class AppealListApi(APIView):
    @extend_schema(responses=AppealOutput(many=True))
    def get(self, request: Request) -> Response:
        user = _user(request)
        qs = selectors.appeal_queue(include_answered=True)
        if not can_read_people(user):
            qs = qs.filter(appellant=user)
        return Response(AppealOutput(qs[:200], many=True).data)


class AppealAnswerApi(APIView):
    @extend_schema(request=AppealAnswerInput, responses=AppealOutput)
    def post(self, request: Request, pk: int) -> Response:
        user = _user(request)
        _require_operations(user)
        appeal = appeal_for_user(user, pk)
        data = AppealAnswerInput(data=request.data)
        data.is_valid(raise_exception=True)
        appeal = services.appeal_answer(
            appeal=appeal, actor=user, outcome=data.validated_data["outcome"], reason=data.validated_data["reason"]
        )
        return Response(AppealOutput(appeal).data)
