"""Phone numbers as people write them, for the agent console (``GET /api/phone-numbers``).

libphonenumber's own rules (the ``phonenumbers`` port): ``+14155550123`` and
``+1 (415) 555-0123`` become ``+1 415-555-0123``, ``+442079460123`` becomes
``+44 20 7946 0123``. A number without a country code (an extension, a national number) or
one that is not a valid number is returned as it was given: the console shows it as it is.
"""

from __future__ import annotations

from typing import Any

import phonenumbers

from ..core.errors import CtiRequestError

#: Numbers one request may ask for (a console asks for the few calls it shows).
MAX_NUMBERS = 50
MAX_LENGTH = 64


def check_numbers(values: list[str]) -> list[str]:
    """The ``number`` query values, if few and short enough; else a clear error."""
    if not values:
        raise CtiRequestError("give one or more number=... parameters")
    if len(values) > MAX_NUMBERS:
        raise CtiRequestError(f"at most {MAX_NUMBERS} numbers per request, got {len(values)}")
    for value in values:
        if len(value) > MAX_LENGTH:
            raise CtiRequestError(f"a number is at most {MAX_LENGTH} characters")
    return values


def formatted(number: str) -> dict[str, Any]:
    """``{"number", "valid", "international", "national", "e164"}``; the formats are the
    number as given when it is not a valid international number."""
    parsed = None
    if number.strip().startswith("+"):
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        return {
            "number": number,
            "valid": False,
            "international": number,
            "national": number,
            "e164": number,
        }
    fmt = phonenumbers.PhoneNumberFormat
    return {
        "number": number,
        "valid": True,
        "international": phonenumbers.format_number(parsed, fmt.INTERNATIONAL),
        "national": phonenumbers.format_number(parsed, fmt.NATIONAL),
        "e164": phonenumbers.format_number(parsed, fmt.E164),
    }
