"""What is offered on a date (`--as-of`): models have a life as products.

A platform built-in (Phi Silica, its successor Aion Instruct) is offered from its first `available` event
until a `removed` event; an open-weights model from its release date. Dates with a month only (a vendor's
"November 2026") count from the first day of that month. The result is data; words are in advisor.explain.
"""

from __future__ import annotations

import datetime as _dt
from typing import Optional

from .errors import InputError

DATE_FORM = "a date as YYYY-MM-DD, e.g. 2026-06-01 (default: today)"


def parse_date(text, field: str = "--as-of") -> _dt.date:
    if isinstance(text, _dt.date):
        return text
    try:
        return _dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(field, f"cannot read '{text}' as a date", DATE_FORM) from None


def event_date(text: str) -> _dt.date:
    """'2026-11-15' or '2026-11' (the first of the month)."""
    return _dt.date.fromisoformat(text if len(text) == 10 else text + "-01")


def offered(m, on: _dt.date) -> Optional[dict]:
    """None when the model is offered on that date; otherwise why not, as data:
    {"cause": "not-yet-offered", "from": date text or None, "channel": ...} or
    {"cause": "retired", "date": date text, "channel": ..., "successor": id or None}."""
    events = sorted(m.lifecycle, key=lambda e: event_date(e.date))
    avail = [e for e in events if e.event == "available"]
    if avail or any(e.event == "removed" for e in events):
        first = avail[0] if avail else None
        if first is None or event_date(first.date) > on:
            nxt = next((e for e in events if e.event in ("preview", "available") and event_date(e.date) > on), None)
            return {"cause": "not-yet-offered", "from": first.date if first else None,
                    "channel": first.channel if first else None,
                    "preview": nxt.date if nxt is not None and nxt.event == "preview" else None}
        removed = [e for e in events if e.event == "removed" and event_date(e.date) <= on]
        if removed:
            r = removed[-1]
            return {"cause": "retired", "date": r.date, "channel": r.channel, "successor": m.successor}
        return None
    if m.release_date and event_date(m.release_date[:10]) > on:
        return {"cause": "not-yet-offered", "from": m.release_date, "channel": None, "preview": None}
    return None
