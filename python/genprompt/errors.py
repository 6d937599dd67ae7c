"""The exceptions genprompt raises.

Every error from the Rust core arrives as one of these; an interrupted run (Ctrl-C, or a
``progress`` callback raising ``KeyboardInterrupt``) raises ``KeyboardInterrupt`` after the run
stopped cleanly, so calling the same function again resumes it.
"""

from __future__ import annotations

__all__ = ["BadInputError", "EndpointError", "Error", "RunError"]


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
