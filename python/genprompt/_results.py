"""What the API returns: plain rows and dicts, with lazy conversions to ``datasets`` and pandas."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datasets
    import pandas

__all__ = ["Comparison", "Generated"]


class Generated:
    """A finished generation: the rows of ``dataset.jsonl``, the manifest and the output folder.

    Attributes:
        rows: one dict per row (``text``, ``label``, ``id``, ``lineage``), in file order.
        manifest: the content of ``manifest.json``.
        out: the output folder (``dataset.jsonl``, ``dataset.parquet``, ``README.md``...).
    """

    def __init__(self, rows: list[dict[str, Any]], manifest: dict[str, Any], out: Path) -> None:
        self.rows = rows
        self.manifest = manifest
        self.out = out

    @property
    def dataset_path(self) -> Path:
        """``out/dataset.jsonl``."""
        return self.out / "dataset.jsonl"

    def to_dataset(self) -> datasets.Dataset:
        """The rows as a Hugging Face ``datasets.Dataset`` (needs the ``datasets`` package)."""
        import datasets  # noqa: PLC0415 - optional dependency, imported when asked for

        return datasets.Dataset.from_list(self.rows)

    def to_pandas(self) -> pandas.DataFrame:
        """The rows as a pandas ``DataFrame`` (needs the ``pandas`` package)."""
        import pandas  # noqa: PLC0415 - optional dependency, imported when asked for

        return pandas.DataFrame.from_records(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Generated({len(self.rows)} rows, method={self.manifest.get('method')!r}, out={str(self.out)!r})"


class Comparison(dict):  # type: ignore[type-arg]
    """The comparison written to ``out/metrics.json`` (the ``metrics.json`` content of every
    method, by name, plus ``"real data"`` with real training rows), and where the report is."""

    def __init__(self, comparison: dict[str, Any], report: Path, out: Path) -> None:
        super().__init__(comparison)
        self.report = report
        self.out = out

    def __repr__(self) -> str:
        return f"Comparison(methods={list(self)!r}, report={str(self.report)!r})"
