"""One error shape for the whole API: {"message", "code", "extra": {"fields": {...}}}."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from workforce.services import WRONG_STATE


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        if any(error.code == WRONG_STATE for errors in getattr(exc, "error_dict", {}).values() for error in errors):
            field, messages = next(iter(detail.items()))
            return Response(
                {"message": f"{field}: {messages[0]}", "code": WRONG_STATE, "extra": {"fields": detail}},
                status=409,
            )
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    assert isinstance(exc, exceptions.APIException)
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        first_field = next(iter(fields), "non_field_errors")
        first = fields[first_field]
        first_text = first[0] if isinstance(first, list) and first else first
        message = f"{first_field}: {first_text}" if first_field != "non_field_errors" else str(first_text)
        response.data = {"message": message, "code": "invalid", "extra": {"fields": fields}}
    else:
        response.data = {"message": str(exc.detail), "code": exc.get_codes(), "extra": {}}
    return response
