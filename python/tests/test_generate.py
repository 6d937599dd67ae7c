"""Generation on the embedded default models, evaluation, and the conversions to `datasets` and pandas."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import datasets
import pytest
from conftest import FAST, SEEDS, TEST_ROWS, read_jsonl, task_dict, write_task

import genprompt

N_PER_LABEL = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[genprompt.Generated, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("generate")
    task = write_task(folder)
    events: list[dict[str, Any]] = []
    result = genprompt.generate(
        task, n_per_label=N_PER_LABEL, out=folder / "out", seed=3, progress=events.append, cache_dir=cache_dir, **FAST
    )
    return result, events


def test_generate_on_the_embedded_model_returns_rows_manifest_and_folder(run: Any) -> None:
    result, events = run
    assert Counter(row["label"] for row in result.rows) == {"sports": N_PER_LABEL, "politics": N_PER_LABEL}
    assert all(row["text"].strip() for row in result.rows)
    seed_texts = {row["text"] for row in SEEDS}
    assert not seed_texts & {row["text"] for row in result.rows}, "a seed row came back as output"
    assert len({row["id"] for row in result.rows}) == len(result.rows)
    # The rows are the written dataset, in file order.
    assert read_jsonl(result.dataset_path) == result.rows
    assert (result.out / "manifest.json").is_file() and (result.out / "dataset.parquet").is_file()
    assert result.manifest["method"] == "genetic"
    assert result.manifest["rng_seed"] == 3
    assert result.manifest["llm"]["backend"] != "openai-compatible"
    assert {label: counts["kept"] for label, counts in result.manifest["labels"].items()} == {
        "sports": N_PER_LABEL,
        "politics": N_PER_LABEL,
    }
    # Progress reached the callback: every kept row was reported, with its text.
    reported = [text for event in events if event["event"] == "rows" for text in event["texts"]]
    assert sorted(reported) == sorted(row["text"] for row in result.rows)
    assert any(event["event"] == "step" for event in events)


def test_to_dataset_and_to_pandas_round_trip(run: Any, tmp_path: Path) -> None:
    result, _ = run
    dataset = result.to_dataset()
    assert dataset.num_rows == len(result.rows)
    assert dataset["text"] == [row["text"] for row in result.rows]
    assert dataset["label"] == [row["label"] for row in result.rows]
    frame = result.to_pandas()
    assert list(frame["text"]) == [row["text"] for row in result.rows]
    # The folder itself loads as a Hugging Face dataset (the card names dataset.jsonl).
    # A cache of this test's own: Hugging Face's is keyed by the folder, which an earlier test
    # session may have used for other rows.
    loaded = datasets.load_dataset(str(result.out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert loaded["text"] == dataset["text"]
    # A Dataset goes back into genprompt: the same metrics as from the file.
    from_dataset = genprompt.evaluate(dataset, TEST_ROWS, runs=1, progress=False)
    from_file = genprompt.evaluate(result.dataset_path, TEST_ROWS, runs=1, progress=False)
    assert from_dataset["n_train"] == len(result.rows)
    assert from_dataset["summary"] == from_file["summary"]
    assert from_dataset["runs"] == from_file["runs"]


def test_evaluate_returns_the_metrics_file_content(run: Any, tmp_path: Path) -> None:
    result, _ = run
    test_file = tmp_path / "test.jsonl"
    test_file.write_text((result.out.parent / "test.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    metrics = genprompt.evaluate(result.rows, test_file, runs=2, out=tmp_path / "eval", progress=False)
    assert metrics["format_version"] == 5
    assert (metrics["n_train"], metrics["n_test"]) == (len(result.rows), len(TEST_ROWS))
    assert metrics["mix"] == "synthetic" and metrics["classifier"] == "probe"
    assert len(metrics["runs"]) == 2
    assert sorted(metrics["labels"]) == ["politics", "sports"]
    accuracy = metrics["summary"]["accuracy"]["mean"]
    assert 0.0 <= accuracy <= 1.0
    interval = metrics["summary"]["bootstrap"]["micro_f1"]
    assert interval["low"] <= accuracy <= interval["high"], metrics["summary"]
    assert metrics["intrinsic"], "the training set's intrinsic metrics are there"
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text(encoding="utf-8")) == metrics


def test_a_task_given_as_a_dict_gives_the_same_dataset(run: Any, tmp_path: Path, cache_dir: Path) -> None:
    result, _ = run
    seeds = result.out.parent / "seeds.jsonl"
    from_dict = genprompt.generate(
        task_dict(seeds),
        n_per_label=N_PER_LABEL,
        out=tmp_path / "out",
        seed=3,
        progress=False,
        cache_dir=cache_dir,
        **FAST,
    )
    assert [row["text"] for row in from_dict.rows] == [row["text"] for row in result.rows]
    assert [row["label"] for row in from_dict.rows] == [row["label"] for row in result.rows]
    assert from_dict.manifest["task"] == "tiny-news"


def test_compare_writes_the_report_and_returns_every_method(run: Any, tmp_path: Path, cache_dir: Path) -> None:
    result, _ = run
    task = result.out.parent / "task.toml"
    comparison = genprompt.compare(
        task,
        test=TEST_ROWS,
        methods=["genetic", "simprompt"],
        n_per_label=N_PER_LABEL,
        out=tmp_path / "compare",
        seed=3,
        runs=1,
        progress=False,
        cache_dir=cache_dir,
        **FAST,
    )
    # Both methods, and the seed rows they started from as a reference.
    assert sorted(comparison) == ["genetic", "real seed rows", "simprompt"]
    assert comparison["real seed rows"]["n_train"] == 6
    assert comparison["genetic"]["n_train"] == 2 * N_PER_LABEL
    assert comparison.report == tmp_path / "compare" / "report.html"
    assert "<html" in comparison.report.read_text(encoding="utf-8").lower()
    assert json.loads((tmp_path / "compare" / "metrics.json").read_text(encoding="utf-8")) == dict(comparison)
