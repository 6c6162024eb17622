"""Parsing of user-facing quantities (sizes, token counts); errors name the field and the form."""

from __future__ import annotations

import re

from .errors import InputError

_SIZE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.I)
_FACTOR = {"b": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
SIZE_FORM = "a number with a unit, e.g. 4GB, 512MB, 1.5TB, 16GiB"
MIN_BUDGET_GB = 0.064  # a memory budget below 64 MB holds no model: a typo, not a machine


def parse_size_gb(text: str | float | int, field: str, *, minimum_gb: float | None = None) -> float:
    """'4GB' -> 4.0, '512MB' -> 0.512, '16GiB' -> 17.18 (decimal GB out). Never negative; with `minimum_gb`,
    at least that (memory budgets: `parse_budget_gb`)."""
    if isinstance(text, bool):
        raise InputError(field, f"cannot read '{text}' as a size", SIZE_FORM)
    if isinstance(text, (int, float)):
        gb = float(text)
    else:
        m = _SIZE.match(str(text))
        if not m:
            raise InputError(field, f"cannot read '{text}' as a size", SIZE_FORM)
        value, unit = float(m.group(1)), (m.group(2) or "GB").lower()
        unit = unit[:-1] if unit.endswith("b") and unit != "b" else unit
        if unit not in _FACTOR:
            raise InputError(field, f"unknown unit in '{text}'", SIZE_FORM)
        gb = value * _FACTOR[unit] / 1e9
    if gb < 0:
        raise InputError(field, f"'{text}' is negative", "0 or more, " + SIZE_FORM)
    if minimum_gb is not None and gb < minimum_gb:
        raise InputError(field, f"'{text}' is below {minimum_gb * 1000:.0f} MB, too little memory for any model",
                         f"at least {minimum_gb * 1000:.0f}MB, " + SIZE_FORM)
    return gb


def parse_budget_gb(text: str | float | int, field: str) -> float:
    """A memory budget (--ram, --vram): a size of at least 64 MB."""
    return parse_size_gb(text, field, minimum_gb=MIN_BUDGET_GB)


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
