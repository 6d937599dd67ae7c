"""The `genprompt` command and `genprompt.models`, as installed from the wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_models_list_names_the_default_models() -> None:
    models = genprompt.models.list()
    assert {model["kind"] for model in models} == {"llm", "encoder"}
    assert all(model["present"] for model in models), "./x test fetches the models before the tests"
    assert all(Path(model["path"]).is_dir() for model in models)
    # fetch() is idempotent: with everything present it only checks.
    assert [model["name"] for model in genprompt.models.fetch(progress=False)] == [model["name"] for model in models]
