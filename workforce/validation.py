"""Checks of ISO codes and time zones, shared by forms, services and the API."""

from functools import cache
from zoneinfo import available_timezones

import pycountry
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


@cache
def country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@cache
def region_codes(country: str) -> frozenset[str]:
    return frozenset(s.code for s in pycountry.subdivisions.get(country_code=country) or [])


@cache
def language_codes() -> frozenset[str]:
    return frozenset(getattr(lang, "alpha_2", "") for lang in pycountry.languages) - {""}


@cache
def timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def check_country(code: str) -> str:
    code = code.strip().upper()
    if code not in country_codes():
        raise ValidationError(
            {
                "country": _("“%(code)s” is not an ISO 3166-1 country code; use two letters such as DE or US.")
                % {"code": code}
            }
        )
    return code


def check_region(country: str, code: str) -> str:
    code = code.strip().upper()
    if code and code not in region_codes(country):
        raise ValidationError(
            {
                "region": _(
                    "“%(code)s” is not an ISO 3166-2 region of %(country)s; "
                    "use a code such as US-CA, or leave it empty."
                )
                % {"code": code, "country": country}
            }
        )
    return code


def check_languages(codes: list[str]) -> list[str]:
    cleaned = [c.strip().lower() for c in codes if c.strip()]
    unknown = [c for c in cleaned if c not in language_codes()]
    if unknown:
        raise ValidationError(
            {"languages": _("Unknown ISO 639-1 language code(s): %(codes)s.") % {"codes": ", ".join(unknown)}}
        )
    if not cleaned:
        raise ValidationError({"languages": _("List at least one language you can work in.")})
    return sorted(set(cleaned), key=cleaned.index)


def check_timezone(name: str) -> str:
    name = name.strip()
    if name not in timezone_names():
        raise ValidationError(
            {"timezone": _("“%(name)s” is not a known time zone; use a name such as Europe/Berlin.") % {"name": name}}
        )
    return name
