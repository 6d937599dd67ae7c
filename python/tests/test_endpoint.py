"""Runs through an OpenAI-compatible endpoint: the project's fault-injecting test server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import write_task

import genprompt

SECRET = "sk-test-0123456789abcdef-do-not-leak"


def test_generate_through_an_endpoint(
    tmp_path: Path, fault_server: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    task = write_task(tmp_path)
    monkeypatch.setenv("GENPROMPT_PY_TEST_KEY", SECRET)
    url = fault_server()
    result = genprompt.generate(
        task,
        n_per_label=3,
        out=tmp_path / "out",
        base_url=url,
        model="test-model",
        api_key_env="GENPROMPT_PY_TEST_KEY",
        keep_near_duplicates=True,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    assert Counter(row["label"] for row in result.rows) == {"sports": 3, "politics": 3}
    assert result.manifest["llm"]["backend"] == "openai-compatible"
    assert result.manifest["llm"]["name"] == "test-model"
    assert result.manifest["requests"]["sent"] >= 6
    for path in [*result.out.rglob("*"), *(tmp_path / "cache").rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"{path} holds the API key"


def test_an_endpoint_that_rejects_every_request_raises_endpoint_error(
    tmp_path: Path, fault_server: Callable[..., str]
) -> None:
    task = write_task(tmp_path)
    url = fault_server("401")
    with pytest.raises(genprompt.EndpointError) as raised:
        genprompt.generate(
            task, n_per_label=3, out=tmp_path / "out", base_url=url, model="m", no_cache=True, progress=False
        )
    assert not isinstance(raised.value, ValueError), "an endpoint failure is not bad input"
    assert "401" in str(raised.value) or "rejected" in str(raised.value), str(raised.value)
    # What happened is kept: the failed requests are listed for a later `retry_failed=True`.
    assert (tmp_path / "out" / "failed.jsonl").is_file()


def test_a_run_that_falls_short_raises_with_what_it_kept_unless_allowed(
    tmp_path: Path, fault_server: Callable[..., str]
) -> None:
    task = write_task(tmp_path)
    url = fault_server("refusal")  # every reply refuses: no label can keep a row
    with pytest.raises(genprompt.ShortRunError) as raised:
        genprompt.generate(task, n_per_label=2, out=tmp_path / "out", base_url=url, model="m", progress=False)
    assert isinstance(raised.value, genprompt.RunError)
    message = str(raised.value)
    assert "2 label(s) got fewer rows than asked" in message, message
    assert "refusal" in message and "allow_short=True" in message, message
    result = raised.value.result
    assert result.rows == []
    assert {s["label"] for s in result.manifest["short_labels"]} == {"sports", "politics"}
    assert (tmp_path / "out" / "manifest.json").is_file(), "a short run still writes what it kept"
    # Accepted, the same run warns instead.
    with pytest.warns(RuntimeWarning, match="got fewer rows than asked"):
        allowed = genprompt.generate(
            task, n_per_label=2, out=tmp_path / "allowed", base_url=url, model="m", allow_short=True, progress=False
        )
    assert allowed.manifest["short_labels"] == result.manifest["short_labels"]


def test_a_compare_whose_method_falls_short_raises_with_the_comparison_unless_allowed(
    tmp_path: Path, fault_server: Callable[..., str]
) -> None:
    task = write_task(tmp_path)
    url = fault_server("kept:3")  # three usable replies for the four rows asked, then refusals
    settings = {"base_url": url, "model": "m", "cache_dir": tmp_path / "cache", "progress": False}
    test_rows = tmp_path / "test.jsonl"
    with pytest.raises(genprompt.ShortRunError) as raised:
        genprompt.compare(
            task, test_rows, methods=["simprompt"], n_per_label=2, out=tmp_path / "cmp", runs=1, **settings
        )
    message = str(raised.value)
    assert "simprompt: incomplete: 1 label(s) got fewer rows than asked" in message, message
    assert "allow_short=True" in message, message
    comparison = raised.value.result
    assert isinstance(comparison, genprompt.Comparison) and comparison.report.is_file()
    assert comparison["simprompt"]["n_train"] == 3
    [short] = comparison["simprompt"]["short_labels"]
    assert (short["kept"], short["requested"]) == (1, 2)
    # Accepted, the same compare (its replies now from the cache) warns instead.
    with pytest.warns(RuntimeWarning, match="simprompt: incomplete"):
        allowed = genprompt.compare(
            task,
            test_rows,
            methods=["simprompt"],
            n_per_label=2,
            out=tmp_path / "ok",
            runs=1,
            allow_short=True,
            **settings,
        )
    assert allowed["simprompt"]["short_labels"] == comparison["simprompt"]["short_labels"]
