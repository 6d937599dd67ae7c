"""genprompt: breed labelled synthetic text datasets with LLMs, and measure how good they are.

>>> import genprompt
>>> result = genprompt.generate("task.toml", n_per_label=8, out="out")
>>> metrics = genprompt.evaluate(result.rows, "real_test.jsonl")
>>> metrics["summary"]["macro_f1"]["mean"]

Everything runs in the Rust core (the same code as the ``genprompt`` command, which this package
also installs), offline on the embedded models unless given an OpenAI-compatible endpoint. Long
calls release the GIL, print progress on stderr (or call ``progress=``), and stop cleanly on
Ctrl-C: the run's journal is kept and calling the same function again resumes it.
"""

from genprompt import models
from genprompt._api import compare, evaluate, generate
from genprompt._native import __version__
from genprompt._results import Comparison, Generated
from genprompt.errors import BadInputError, EndpointError, Error, RunError, ShortRunError

__all__ = [
    "BadInputError",
    "Comparison",
    "EndpointError",
    "Error",
    "Generated",
    "RunError",
    "ShortRunError",
    "__version__",
    "compare",
    "evaluate",
    "generate",
    "models",
]
