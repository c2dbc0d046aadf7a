"""What a task's data and an answer must look like, checked the same way by import, portal and API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.utils.translation import gettext as _

from tasks.models import TaskTemplate

DATA_KEYS = {"id", "text", "image_url", "meta", "gold_answer"}
DEFAULT_TEXT_LIMIT = 2000


class SchemaError(Exception):
    """One problem with one field; ``field`` names it for the person fixing the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def has_nul(value: Any) -> bool:
    """True if a string anywhere in ``value`` (keys included) holds U+0000.

    PostgreSQL stores no NUL in text or jsonb, so such input must be refused with a message
    naming the field, not left to fail as a database error on INSERT.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def check_answer(*, template: str, answer_schema: dict[str, Any], value: Any, field: str = "answer") -> Any:
    """Return the answer in canonical form, or raise SchemaError naming what does not fit."""
    if has_nul(value):
        raise SchemaError(field, _("Remove the NUL character (U+0000) from the answer; it cannot be stored."))
    choices = list(answer_schema.get("choices", []))
    if template == TaskTemplate.SINGLE_CHOICE:
        if not isinstance(value, str) or value not in choices:
            raise SchemaError(field, _("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)})
        return value
    if template == TaskTemplate.MULTI_LABEL:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SchemaError(field, _("Give a list of labels."))
        unknown = [v for v in value if v not in choices]
        if unknown:
            raise SchemaError(field, _("Unknown label(s): %(labels)s.") % {"labels": ", ".join(unknown)})
        if not value and not answer_schema.get("allow_empty", False):
            raise SchemaError(field, _("Pick at least one label."))
        return sorted(set(value), key=choices.index)
    if template == TaskTemplate.FREE_TEXT:
        limit = int(answer_schema.get("max_length", DEFAULT_TEXT_LIMIT))
        if not isinstance(value, str) or not value.strip():
            raise SchemaError(field, _("Write an answer."))
        if len(value) > limit:
            raise SchemaError(field, _("Keep the answer within %(limit)d characters.") % {"limit": limit})
        return value.strip()
    raise SchemaError("template", _("Unknown task template “%(t)s”.") % {"t": template})


def check_task_data(*, template: str, answer_schema: dict[str, Any], row: Any) -> tuple[dict[str, Any], Any]:
    """Validate one imported row. Returns (data shown to workers, gold answer or None)."""
    if not isinstance(row, dict):
        raise SchemaError("row", _("Each row must be an object with text and/or image_url."))
    unknown = sorted(set(row) - DATA_KEYS)
    if unknown:
        raise SchemaError(unknown[0], _("Unknown field; allowed: %(keys)s.") % {"keys": ", ".join(sorted(DATA_KEYS))})
    for key in sorted(row):
        if has_nul(row[key]):
            raise SchemaError(
                key, _("Remove the NUL character (U+0000) from %(field)s; it cannot be stored.") % {"field": key}
            )
    data: dict[str, Any] = {}
    text = row.get("text")
    if text not in (None, ""):
        if not isinstance(text, str):
            raise SchemaError("text", _("text must be a string."))
        data["text"] = text
    image_url = row.get("image_url")
    if image_url not in (None, ""):
        if not isinstance(image_url, str) or urlparse(image_url).scheme not in ("http", "https"):
            raise SchemaError("image_url", _("image_url must be an http or https URL."))
        data["image_url"] = image_url
    if not data:
        raise SchemaError("text", _("Give text, an image_url, or both."))
    meta = row.get("meta")
    if meta not in (None, ""):
        if not isinstance(meta, dict):
            raise SchemaError("meta", _("meta must be an object."))
        data["meta"] = meta
    external = row.get("id")
    if external not in (None, ""):
        if not isinstance(external, str | int) or isinstance(external, bool):
            raise SchemaError("id", _("id must be a string or a whole number."))
        data["id"] = str(external)
    gold = row.get("gold_answer")
    if gold not in (None, ""):
        gold = check_answer(template=template, answer_schema=answer_schema, value=gold, field="gold_answer")
    else:
        gold = None
    return data, gold
