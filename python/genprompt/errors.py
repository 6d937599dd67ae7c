"""The exceptions genprompt raises.

Every error from the Rust core arrives as one of these; an interrupted run (Ctrl-C, or a
``progress`` callback raising ``KeyboardInterrupt``) raises ``KeyboardInterrupt`` after the run
stopped cleanly, so calling the same function again resumes it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BadInputError", "EndpointError", "Error", "RunError", "ShortRunError"]


class Error(Exception):
    """Base class of every genprompt error.

    Raised as such only for a bug (a panic inside the Rust core, caught at the boundary).
    """


class BadInputError(Error, ValueError):
    """The task, the rows, an argument or a model file is wrong.

    The message is the command line's, ``file:line:col: what is wrong``; nothing was written.
    """


class EndpointError(Error):
    """The OpenAI-compatible endpoint refused or failed the run's requests (after retries)."""


class RunError(Error):
    """The run could not finish for another reason (disk, engine, too many failed calls).

    What was recorded is kept: calling the same function again resumes the run.
    """


class ShortRunError(RunError):
    """Some labels got fewer rows than asked: the call cap (``max_calls_per_row``) was reached.

    The run finished and wrote what it kept (its manifest lists the short labels under
    ``short_labels`` with their top rejection reasons); ``result`` holds the same
    :class:`~genprompt.Generated` that ``generate`` would have returned (from ``compare``, the
    :class:`~genprompt.Comparison`, whose short methods list ``short_labels``). Pass
    ``allow_short=True`` to get a warning instead (the command line's ``--allow-short``).
    """

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result
