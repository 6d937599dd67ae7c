"""Progress events and the default ``progress`` callback, which prints plain lines on stderr.

Every event is a dict with an ``"event"`` key:

- ``step``: ``message`` (``"loading models"``, ``"== genetic"``)
- ``notice``: ``message``, something to read (why a run stopped, how to go on)
- ``label``: ``label``, ``seed_rows``, ``target``: generation of a label starts
- ``rows``: ``label``, ``batch``, ``requests``, ``kept``, ``done``, ``target``, ``texts`` (the rows
  kept in this batch, already journaled), ``status`` (replays, cache hits, retries, spending)
- ``counter``: ``what``, ``total`` (0 if unknown): embedding or fine-tuning starts
- ``count``: ``done``, ``message``
- ``cleared``: the current label or counter is over
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["StderrProgress"]


class StderrProgress:
    """Prints progress events on stderr, row and counter updates at most once a second."""

    def __init__(self, min_interval_s: float = 1.0) -> None:
        self._min_interval_s = min_interval_s
        self._last = 0.0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind in ("rows", "count"):
            finished = kind == "rows" and event.get("done", 0) >= event.get("target", 0)
            now = time.monotonic()
            if not finished and now - self._last < self._min_interval_s:
                return
            self._last = now
        line = _describe(event)
        if line:
            print(f"genprompt: {line}", file=sys.stderr, flush=True)


def _describe(event: dict[str, Any]) -> str:
    kind = event.get("event")
    if kind in ("step", "notice", "count"):
        return str(event.get("message", ""))
    if kind == "label":
        return f"{event.get('label')}: {event.get('target')} rows to generate from {event.get('seed_rows')} seed rows"
    if kind == "rows":
        line = f"{event.get('label')}: {event.get('done')}/{event.get('target')} rows"
        status = event.get("status") or ""
        return f"{line} ({status})" if status else line
    if kind == "counter":
        total = event.get("total") or 0
        return f"{event.get('what')}" + (f" ({total})" if total else "")
    return ""
