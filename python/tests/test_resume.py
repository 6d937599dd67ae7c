"""An interrupted run stops cleanly, keeps its journal, and resumes to exactly the requested rows."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any, Callable

import pytest
from conftest import FAST, write_task

import genprompt

N_PER_LABEL = 3


def test_keyboard_interrupt_stops_cleanly_and_a_rerun_resumes(tmp_path: Path) -> None:
    task = write_task(tmp_path)
    settings: dict[str, Any] = {"n_per_label": N_PER_LABEL, "seed": 5, "no_cache": True, **FAST}
    whole = genprompt.generate(task, out=tmp_path / "whole", progress=False, **settings)

    # A callback raising KeyboardInterrupt (as Ctrl-C does while the call waits) after the first
    # batch that kept rows: the run stops after that batch and the exception propagates.
    seen: list[dict[str, Any]] = []

    def interrupt_after_first_rows(event: dict[str, Any]) -> None:
        if event["event"] == "rows" and event["kept"] > 0:
            seen.append(event)
            raise KeyboardInterrupt

    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        genprompt.generate(task, out=out, progress=interrupt_after_first_rows, **settings)
    assert len(seen) == 1, "no event reaches the callback after it raised"
    assert (out / ".genprompt" / "run.sqlite").is_file(), "the journal is kept"
    assert not (out / "dataset.jsonl").exists(), "an interrupted run writes no dataset"

    # The rerun replays what was journaled and finishes: exactly N rows per label, no
    # duplicates, the same dataset as the uninterrupted run.
    resumed = genprompt.generate(task, out=out, progress=False, **settings)
    assert Counter(row["label"] for row in resumed.rows) == {"sports": N_PER_LABEL, "politics": N_PER_LABEL}
    assert len({row["id"] for row in resumed.rows}) == len(resumed.rows)
    assert len({row["text"] for row in resumed.rows}) == len(resumed.rows)
    assert resumed.manifest["requests"]["replayed"] >= seen[0]["requests"]
    assert resumed.rows == whole.rows


def test_a_second_ctrl_c_returns_without_waiting_for_the_clean_stop(
    tmp_path: Path, fault_server: Callable[..., str]
) -> None:
    # Every reply takes a minute, so the clean stop after the first Ctrl-C has to wait for the
    # requests in flight. The first Ctrl-C is the callback raising KeyboardInterrupt on the first
    # event; the second is a real SIGINT, sent by a thread that can only run once the call waits
    # again: with a switch interval of an hour, this thread gets the GIL only when the waiting
    # call releases it.
    url = fault_server(latency_ms=60_000)
    task = write_task(tmp_path)
    first_raised = threading.Event()
    ctrl_c: list[int] = []

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        ctrl_c.append(signum)
        raise KeyboardInterrupt

    def first_ctrl_c(event: dict[str, Any]) -> None:
        first_raised.set()
        raise KeyboardInterrupt

    def second_ctrl_c() -> None:
        first_raised.wait()
        os.kill(os.getpid(), signal.SIGINT)

    previous_handler = signal.signal(signal.SIGINT, on_sigint)
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(3600)
    sender = threading.Thread(target=second_ctrl_c)
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            genprompt.generate(
                task, n_per_label=2, out=tmp_path / "out", base_url=url, model="m", no_cache=True, progress=first_ctrl_c
            )
        # The second Ctrl-C ended the call: had the call waited for the clean stop (a minute),
        # the signal would only be handled after it returned, outside the `raises` block.
        assert ctrl_c == [signal.SIGINT]
    finally:
        sys.setswitchinterval(previous_interval)
        sender.join()
        signal.signal(signal.SIGINT, previous_handler)
    assert not (tmp_path / "out" / "dataset.jsonl").exists(), "a stopped run writes no dataset"


def test_the_gil_is_released_while_a_call_runs(tmp_path: Path) -> None:
    task = write_task(tmp_path)
    started = threading.Event()
    finished = threading.Event()
    ticks: list[int] = []

    def count() -> None:
        started.wait()
        while not finished.is_set():
            ticks.append(1)
            finished.wait(0.001)

    counter = threading.Thread(target=count)
    counter.start()

    def on_event(event: dict[str, Any]) -> None:
        started.set()

    try:
        genprompt.generate(task, n_per_label=1, out=tmp_path / "out", seed=1, no_cache=True, progress=on_event, **FAST)
        ticks_during_the_call = len(ticks)
    finally:
        started.set()
        finished.set()
        counter.join()
    assert ticks_during_the_call > 0, "another Python thread ran while generate() worked"
