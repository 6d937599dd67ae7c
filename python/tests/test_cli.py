"""The `genprompt` command and `genprompt.models`, as installed from the wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import genprompt


def test_the_wheel_installs_the_genprompt_command() -> None:
    command = Path(sys.executable).parent / "genprompt"
    assert command.is_file(), f"{command} is missing: the wheel's [project.scripts] entry"
    help_run = subprocess.run([str(command), "--help"], capture_output=True, text=True, check=False)
    assert help_run.returncode == 0, help_run.stderr
    assert "Usage: genprompt" in help_run.stdout and "generate" in help_run.stdout
    usage = subprocess.run([str(command), "generate"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2, "usage errors exit with 2, as from the Rust binary"
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True, check=True)
    assert genprompt.__version__ in version.stdout


def test_models_list_shows_the_catalogue_and_fetch_is_idempotent() -> None:
    models = {model["name"]: model for model in genprompt.models.list()}
    assert set(models) == {"qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m", "all-minilm-l6-v2"}
    assert {model["kind"] for model in models.values()} == {"llm", "encoder"}
    defaults = [name for name, model in models.items() if model["default"]]
    assert sorted(defaults) == ["all-minilm-l6-v2", "qwen2.5-coder-1.5b"]
    # ./x test fetches the defaults and the model the tests run.
    for name in [*defaults, "smollm2-135m"]:
        assert models[name]["present"] and Path(models[name]["path"]).is_dir(), models[name]
        assert models[name]["size"] > 0 and models[name]["licence"] and models[name]["note"]
    # fetch() is idempotent: with everything present it only checks.
    assert [m["name"] for m in genprompt.models.fetch("smollm2-135m", progress=False)] == list(models)
    with pytest.raises(genprompt.BadInputError, match="no model called"):
        genprompt.models.fetch("gpt-5", progress=False)
