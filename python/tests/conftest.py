"""Fixtures: a tiny two-label task written by each test, and the project's fault-injecting
OpenAI-compatible test server (`genprompt-bench serve`, built by `cargo build --release`)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

SEEDS = [
    {"text": "The striker scored twice in the final minutes of the derby.", "label": "sports"},
    {"text": "Parliament passed the budget after a long night of debate.", "label": "politics"},
    {"text": "The tennis champion retired after her third title this season.", "label": "sports"},
    {"text": "The minister resigned after the election results came in.", "label": "politics"},
    {"text": "Our relay team broke the national record at the indoor games.", "label": "sports"},
    {"text": "Senators agreed on a new law to fund public hospitals.", "label": "politics"},
]

TEST_ROWS = [
    {"text": "The goalkeeper saved a penalty in the cup semi-final.", "label": "sports"},
    {"text": "The president vetoed the tax bill on Friday.", "label": "politics"},
    {"text": "She won the marathon in record time.", "label": "sports"},
    {"text": "Voters head to the polls for the regional election.", "label": "politics"},
]

TASK_TOML = """name = "tiny-news"
kind = "classification"
domain = "news topic classification"
text_kind = "news sentence"
genes = ["length", "style", "subtopic"]

[seeds]
path = "seeds.jsonl"
per_label = 3

[[labels]]
name = "sports"
definition = "news about sport events, athletes and teams"

[[labels]]
name = "politics"
definition = "news about governments, elections and laws"
"""

@pytest.fixture(scope="session", autouse=True)
def smallest_model() -> Iterator[None]:
    """These tests prove the pipeline, so they run SmolLM2-135M (fetched by ``./x test``), not the
    default generator; its rows are mostly off-task. Session-scoped, so that module-scoped
    fixtures (which run before function-scoped ones) see it too."""
    before = os.environ.get("GENPROMPT_LLM")
    os.environ["GENPROMPT_LLM"] = "smollm2-135m"
    yield
    if before is None:
        del os.environ["GENPROMPT_LLM"]
    else:
        os.environ["GENPROMPT_LLM"] = before


# Small and quick on the embedded 135M model; the same for every run so the cache can answer.
FAST = {"batch_size": 2, "max_tokens": 32}


def task_dict(seeds_path: Path) -> dict[str, Any]:
    """The task of TASK_TOML as a dict, with an absolute seeds path."""
    return {
        "name": "tiny-news",
        "kind": "classification",
        "domain": "news topic classification",
        "text_kind": "news sentence",
        "genes": ["length", "style", "subtopic"],
        "seeds": {"path": str(seeds_path), "per_label": 3},
        "labels": [
            {"name": "sports", "definition": "news about sport events, athletes and teams"},
            {"name": "politics", "definition": "news about governments, elections and laws"},
        ],
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_task(folder: Path) -> Path:
    """task.toml, seeds.jsonl and test.jsonl in `folder`; returns the task file."""
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "seeds.jsonl", SEEDS)
    write_jsonl(folder / "test.jsonl", TEST_ROWS)
    task = folder / "task.toml"
    task.write_text(TASK_TOML, encoding="utf-8")
    return task


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(autouse=True)
def _no_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A response cache of the test session's own, so tests never answer from a user's cache."""
    return tmp_path_factory.mktemp("response-cache")


@pytest.fixture
def fault_server() -> Iterator[Callable[..., str]]:
    """Starts the test server (answering every request with one fault if given) and returns its
    base URL; the servers are stopped at the end of the test."""
    binary = Path(os.environ.get("GENPROMPT_BENCH_BIN", REPO / "target" / "release" / "genprompt-bench"))
    assert binary.is_file(), f"{binary} is missing: run `cargo build --release` (./x test does)"
    servers: list[subprocess.Popen[str]] = []

    def start(fault: str | None = None, latency_ms: int = 1) -> str:
        # Without a fault, distinct made-up sentences: the plain `reply to {prompt}` echoes the
        # prompt, which the cleaning rightly rejects.
        args = [str(binary), "serve", str(latency_ms), fault or "varied"]
        server = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        servers.append(server)
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), f"the test server printed {url!r}"
        return url

    yield start
    for server in servers:
        assert server.stdin is not None
        server.stdin.close()  # the server exits when its stdin closes
        server.wait(timeout=30)
