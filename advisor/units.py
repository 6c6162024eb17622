"""Parsing of user-facing quantities (sizes, token counts); errors name the field and the form."""

from __future__ import annotations

import re

from .errors import InputError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.I)
_FACTOR = {"b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
SIZE_FORM = "a number with a unit, e.g. 4GB, 512MB, 1.5TB, 16GiB"


def parse_size_gb(text: str | float | int, field: str) -> float:
    """'4GB' -> 4.0, '512MB' -> 0.512, '16GiB' -> 17.18 (decimal GB out)."""
    if isinstance(text, (int, float)):
        if text < 0:
            raise InputError(field, f"'{text}' is negative", SIZE_FORM)
        return float(text)
    m = _SIZE.match(str(text))
    if not m:
        raise InputError(field, f"cannot read '{text}' as a size", SIZE_FORM)
    value, unit = float(m.group(1)), (m.group(2) or "GB").lower()
    unit = unit[:-1] if unit.endswith("b") and unit != "b" else unit
    if unit not in _FACTOR:
        raise InputError(field, f"unknown unit in '{text}'", SIZE_FORM)
    return value * _FACTOR[unit] / 1e9


TOKENS_FORM = "a whole number of tokens, e.g. 8192, 8K or 128K"


def parse_tokens(text: str | int, field: str) -> int:
    if isinstance(text, int):
        n = text
    else:
        m = re.match(r"^\s*(\d+)\s*([kK])?\s*$", str(text))
        if not m:
            raise InputError(field, f"cannot read '{text}' as a token count", TOKENS_FORM)
        n = int(m.group(1)) * (1024 if m.group(2) else 1)
    if n <= 0:
        raise InputError(field, "must be positive", TOKENS_FORM)
    return n
