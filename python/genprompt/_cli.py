"""The ``genprompt`` command installed with the package: the same program as the Rust binary."""

from __future__ import annotations

import signal
import sys

from genprompt import _native


def main() -> None:
    """Runs the command line with this process's arguments and exits with its code."""
    # The command installs its own Ctrl-C handling (stop after the batch in flight, a second
    # Ctrl-C quits); Python's handler would only turn the signal into a late KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_native.run_cli(["genprompt", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
