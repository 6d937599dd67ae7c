"""The default models (the embedded chat model and sentence encoder) in ``GENPROMPT_HOME``."""

from __future__ import annotations

import builtins
import json
from typing import Any

from genprompt import _native
from genprompt._api import Progress, _callback

__all__ = ["fetch", "list"]


def fetch(progress: Progress = None) -> builtins.list[dict[str, Any]]:
    """Downloads and verifies the default models that are missing (idempotent).

    Args:
        progress: as for :func:`genprompt.generate` (default: lines on stderr).

    Returns:
        the models, as :func:`list` gives them.
    """
    models: builtins.list[dict[str, Any]] = json.loads(_native.models_fetch(_callback(progress)))
    return models


def list() -> builtins.list[dict[str, Any]]:  # noqa: A001 - mirrors `genprompt models list`
    """The default models: ``name``, ``kind``, ``licence``, ``path`` and ``present``."""
    models: builtins.list[dict[str, Any]] = json.loads(_native.models_list())
    return models
