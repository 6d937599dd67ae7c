"""Bad input raises `BadInputError` (a `ValueError`) with the command line's `file:line:col` message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TASK_TOML, task_dict, write_task

import genprompt


def test_a_typo_in_the_task_file_names_file_line_and_column(tmp_path: Path) -> None:
    task = write_task(tmp_path)
    task.write_text(TASK_TOML.replace("per_label = 3", "per_lable = 3"), encoding="utf-8")
    with pytest.raises(genprompt.BadInputError) as raised:
        genprompt.generate(task, n_per_label=1, out=tmp_path / "out", progress=False)
    message = str(raised.value)
    assert message.startswith(f"{task}:9:1: "), message
    assert "per_lable" in message
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, genprompt.Error)
    assert not (tmp_path / "out").exists(), "nothing is written on bad input"

    # The `genprompt` command installed with the package says the same, with exit code 2.
    command = [sys.executable, "-m", "genprompt", "generate", "--task", str(task), "-n", "1"]
    cli = subprocess.run([*command, "--out", str(tmp_path / "cli")], capture_output=True, text=True, check=False)
    assert cli.returncode == 2, cli.stderr
    assert message in cli.stderr


def test_a_dict_task_with_a_wrong_value_is_bad_input(tmp_path: Path) -> None:
    task = write_task(tmp_path)
    table = task_dict(task.parent / "seeds.jsonl")
    table["kind"] = "regression"
    with pytest.raises(genprompt.BadInputError, match='unknown kind "regression"'):
        genprompt.generate(table, n_per_label=1, out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_unknown_settings_and_bad_values_are_bad_input(tmp_path: Path) -> None:
    task = write_task(tmp_path)
    with pytest.raises(genprompt.BadInputError, match="batch_sise"):
        genprompt.generate(task, n_per_label=1, out=tmp_path / "out", batch_sise=2, progress=False)
    with pytest.raises(genprompt.BadInputError, match="method"):
        genprompt.generate(task, method="genetik", n_per_label=1, out=tmp_path / "out", progress=False)
    with pytest.raises(genprompt.BadInputError):
        genprompt.generate(task, n_per_label=0, out=tmp_path / "out", progress=False)
    with pytest.raises(genprompt.BadInputError, match="text"):
        genprompt.evaluate([{"label": "sports"}], tmp_path / "test.jsonl", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_bad_row_in_a_file_names_its_line(tmp_path: Path) -> None:
    write_task(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": "sports"}\n{"text": "no label"}\n', encoding="utf-8")
    with pytest.raises(genprompt.BadInputError) as raised:
        genprompt.evaluate(bad, tmp_path / "test.jsonl", progress=False)
    assert f"{bad}:2" in str(raised.value)
