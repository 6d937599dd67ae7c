"""The model catalogue (chat models and sentence encoders) in ``GENPROMPT_HOME``."""

from __future__ import annotations

import builtins
import json
from typing import Any

from genprompt import _native
from genprompt._api import Progress, _callback

__all__ = ["fetch", "list"]


def fetch(*names: str, progress: Progress = None) -> builtins.list[dict[str, Any]]:
    """Downloads, assembles and verifies the named catalogue models that are missing, or the
    defaults without names (idempotent; an interrupted download resumes).

    Args:
        names: catalogue names (``qwen2.5-coder-1.5b``, ``qwen2.5-coder-0.5b``, ``smollm2-135m``,
            ``all-minilm-l6-v2``); an unknown name raises :class:`~genprompt.BadInputError`.
        progress: as for :func:`genprompt.generate` (default: lines on stderr).

    Returns:
        the models, as :func:`list` gives them.
    """
    models: builtins.list[dict[str, Any]] = json.loads(_native.models_fetch(builtins.list(names), _callback(progress)))
    return models


def list() -> builtins.list[dict[str, Any]]:  # noqa: A001 - mirrors `genprompt models list`
    """Every catalogue model: ``name``, ``kind``, ``params``, ``size`` (bytes), ``licence``,
    ``note`` (speed and quality on a 2-core machine), ``default``, ``path`` and ``present``."""
    models: builtins.list[dict[str, Any]] = json.loads(_native.models_list())
    return models
