"""The Python API: keyword arguments in, one call into the Rust core, plain Python values out."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from genprompt import _native
from genprompt._progress import StderrProgress
from genprompt._results import Comparison, Generated
from genprompt.errors import ShortRunError

__all__ = ["compare", "evaluate", "generate"]

PathLike: TypeAlias = "str | os.PathLike[str]"
Progress: TypeAlias = "Callable[[dict[str, Any]], object] | bool | None"
Rows: TypeAlias = "PathLike | Sequence[Mapping[str, Any]] | Any"


def generate(
    task: PathLike | Mapping[str, Any],
    method: str = "genetic",
    n_per_label: int = 8,
    examples: PathLike | None = None,
    out: PathLike | None = None,
    seed: int = 0,
    llm: PathLike | None = None,
    base_url: str | list[str] | None = None,
    model: str | None = None,
    *,
    force: bool = False,
    allow_short: bool = False,
    progress: Progress = None,
    **settings: Any,
) -> Generated:
    """Generates a labelled synthetic dataset, as ``genprompt generate`` does.

    Args:
        task: a task file (TOML, see docs/task-file.md) or a dict with the same keys; a relative
            ``seeds.path`` in a dict is taken relative to the working directory.
        method: ``genetic``, ``simprompt``, ``attrprompt``, ``zeroshot``, ``fewshot`` or ``curated``.
        n_per_label: rows to keep per label.
        examples: real labelled rows (JSONL) that seed the method, instead of the task's seeds.
        out: output folder (default ``genprompt-out``): dataset.jsonl, dataset.parquet,
            manifest.json, README.md and the run journal.
        seed: random seed; the same seed, task and model give the same dataset.
        llm: a GGUF chat model file instead of the embedded default.
        base_url: an OpenAI-compatible endpoint (needs ``model``), or a list of endpoints
            serving the same model (requests go where there is free capacity); the key is read
            from the variable named by ``api_key_env`` (default ``OPENAI_API_KEY``).
        model: the endpoint's model name.
        force: replace a finished dataset in ``out``, or start an unfinished run over.
        allow_short: when a label ends with fewer rows than asked (its call cap was reached),
            warn (``RuntimeWarning``) instead of raising :class:`ShortRunError`.
        progress: ``None`` prints progress lines on stderr, ``False`` prints nothing, a callable
            receives every progress event (a dict); if it raises, the run stops cleanly and the
            exception propagates.
        **settings: the command line's other flags with underscores: ``batch_size``,
            ``schedule`` (``steady`` or ``generational``), ``window``, ``temperature``,
            ``top_p``, ``min_p``, ``repeat_penalty``, ``paper_sampling``, ``structured``,
            ``max_tokens``, ``parents``, ``genes_schedule``,
            ``ablation``, ``pool_update``, ``postprocess``, ``near_duplicates``,
            ``keep_near_duplicates``, ``encoder``, ``threads``, ``api_key_env``,
            ``max_in_flight``, ``price_input``, ``price_output``, ``encoder_base_url``,
            ``encoder_model``, ``cache_dir``, ``no_cache``, ``refresh_cache``, ``retry_failed``,
            ``max_failure_share``.

    Returns:
        a :class:`Generated` with the rows, the manifest and the output folder.

    Raises:
        BadInputError: the task, rows or arguments are wrong (``file:line:col: message``).
        EndpointError: the endpoint refused or failed the requests.
        ShortRunError: some labels got fewer rows than asked (unless ``allow_short``); the
            rows kept are written and in the exception's ``result``.
        RunError: the run could not finish; calling again resumes it.
        KeyboardInterrupt: after a clean stop; calling again resumes the run.
    """
    request = {
        "task": _task(task),
        "method": method,
        "n_per_label": n_per_label,
        "examples": _path(examples),
        "out": _path(out) or "genprompt-out",
        "seed": seed,
        "force": force,
        "settings": {"llm": _path(llm), "base_url": base_url, "model": model, **_settings(settings)},
    }
    reply = json.loads(_native.generate(_json(request), _callback(progress)))
    result = Generated(rows=reply["rows"], manifest=reply["manifest"], out=Path(reply["out"]))
    short = result.manifest.get("short_labels") or []
    if short:
        message = _short_message(short, allow_short)
        if not allow_short:
            raise ShortRunError(message, result)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return result


def _short_message(short: list[dict[str, Any]], allowed: bool) -> str:
    """The command line's report of a short run, in one message."""
    lines = [f"incomplete: {len(short)} label(s) got fewer rows than asked:"]
    for label in short:
        reasons = ", ".join(f"{r['reason']} {r['count']}" for r in label.get("top_rejections", []))
        lines.append(
            f"  {label['label']}: {label['kept']} of {label['requested']} rows from {label['llm_calls']} calls"
            + (f" (rejected: {reasons})" if reasons else "")
        )
    if not allowed:
        lines.append("try a better model or prompt, or pass allow_short=True to accept it")
    return "\n".join(lines)


def evaluate(
    train: Rows,
    test: Rows,
    real_train: Rows | None = None,
    mix: str = "synthetic",
    classifier: str = "probe",
    runs: int = 3,
    *,
    seed: int = 0,
    out: PathLike | None = None,
    progress: Progress = None,
    **settings: Any,
) -> dict[str, Any]:
    """Trains a classifier on ``train`` and tests it on ``test``, as ``genprompt eval`` does.

    Args:
        train, test, real_train: JSONL files, lists of ``{"text": ..., "label": ...}`` dicts, or
            Hugging Face ``datasets.Dataset`` objects with ``text`` and ``label`` columns.
        mix: ``synthetic`` (train only), ``real`` (real_train only), ``fusion`` or
            ``fusion-equal`` (both).
        classifier: ``probe`` (frozen encoder + logistic regression) or ``finetune``.
        runs: training runs with seeds ``seed``, ``seed + 1``, ...
        out: a folder to write ``metrics.json`` into as well.
        progress: as for :func:`generate`.
        **settings: ``epochs``, ``learning_rate``, ``batch_size``, ``max_length`` (fine-tuning),
            ``agreement_field``, ``agreement_thresholds``, ``encoder``, ``encoder_base_url``,
            ``encoder_model``, ``api_key_env``.

    Returns:
        the content of ``metrics.json`` (``format_version``, ``summary``, ``runs``, ``intrinsic``...).
    """
    request = {
        "train": _rows(train, "train"),
        "test": _rows(test, "test"),
        "real_train": None if real_train is None else _rows(real_train, "real_train"),
        "mix": mix,
        "classifier": classifier,
        "runs": runs,
        "seed": seed,
        "out": _path(out),
        **_settings(settings),
    }
    metrics: dict[str, Any] = json.loads(_native.evaluate(_json(request), _callback(progress)))
    return metrics


def compare(
    task: PathLike | Mapping[str, Any],
    test: Rows,
    methods: Iterable[str] = ("genetic", "simprompt", "attrprompt", "genetic-random"),
    n_per_label: int = 8,
    examples: PathLike | None = None,
    real_train: Rows | None = None,
    out: PathLike | None = None,
    seed: int = 0,
    runs: int = 3,
    *,
    allow_short: bool = False,
    progress: Progress = None,
    **settings: Any,
) -> Comparison:
    """Runs several methods with the same seeds and budget, evaluates each, writes report.html.

    Args:
        task: a task file or a dict, as for :func:`generate`.
        test: real rows to test on (file, list of dicts or ``Dataset``).
        methods: genetic, simprompt, attrprompt, zeroshot, fewshot, curated, genetic-random,
            genetic-argmax, genetic-no-mutation, genetic-word-as-gene.
        out: output folder (default ``genprompt-compare``).
        allow_short: when a method's label ends with fewer rows than asked, warn
            (``RuntimeWarning``) instead of raising :class:`ShortRunError`.
        **settings: as for :func:`generate`.

    Returns:
        a :class:`Comparison`: the comparison as a dict, with ``.report`` (the HTML file).

    Raises:
        ShortRunError: some method kept fewer rows than asked for some labels, so its scores are
            not at the others' budget (unless ``allow_short``); the report is written and the
            exception's ``result`` is the :class:`Comparison`, whose entries list them under
            ``short_labels``.
    """
    request = {
        "task": _task(task),
        "methods": list(methods),
        "n_per_label": n_per_label,
        "test": _rows(test, "test"),
        "examples": _path(examples),
        "real_train": None if real_train is None else _rows(real_train, "real_train"),
        "out": _path(out) or "genprompt-compare",
        "seed": seed,
        "runs": runs,
        "settings": _settings(settings),
    }
    reply = json.loads(_native.compare(_json(request), _callback(progress)))
    result = Comparison(reply["comparison"], report=Path(reply["report"]), out=Path(reply["out"]))
    short = {name: metrics["short_labels"] for name, metrics in result.items() if metrics.get("short_labels")}
    if short:
        message = "\n".join(f"{name}: " + _short_message(labels, allowed=True) for name, labels in short.items())
        if not allow_short:
            advice = "try a better model or prompt, or pass allow_short=True to accept it"
            raise ShortRunError(f"{message}\n{advice}", result)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
    return result


def _json(request: dict[str, Any]) -> str:
    """The request as JSON; paths anywhere in it (a task dict's seeds path) become strings."""

    def path_or_fail(value: object) -> str:
        if isinstance(value, os.PathLike):
            return str(os.fspath(value))
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return json.dumps(request, default=path_or_fail)


def _callback(progress: Progress) -> Callable[[dict[str, Any]], object] | None:
    if progress is None or progress is True:
        return StderrProgress()
    if progress is False:
        return None
    if not callable(progress):
        raise TypeError(f"progress must be a callable, None or False, not {type(progress).__name__}")
    return progress


def _path(value: PathLike | None) -> str | None:
    return None if value is None else os.fspath(value)


def _task(task: PathLike | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(task, Mapping):
        return {"table": dict(task)}
    return {"path": os.fspath(task)}


def _settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    # Paths among the settings (encoder, cache_dir) go over as strings.
    return {key: os.fspath(value) if isinstance(value, os.PathLike) else value for key, value in settings.items()}


def _rows(rows: Rows, name: str) -> dict[str, Any]:
    """A JSONL path as it is; rows in memory (a list of dicts, a ``Dataset``, a ``DataFrame``)
    as a list, named after the argument in messages."""
    if isinstance(rows, (str, os.PathLike)):
        return {"path": os.fspath(rows)}
    table: Any = rows
    records: list[dict[str, Any]]
    if callable(getattr(table, "to_list", None)):  # datasets.Dataset, without importing datasets
        records = table.to_list()
    elif callable(getattr(table, "to_dict", None)) and not isinstance(table, Mapping):  # pandas.DataFrame
        records = table.to_dict(orient="records")
    else:
        records = [dict(record) for record in table]
    return {"rows": records, "name": f"<{name} rows>"}
