"""One clear error line for bad input, and the stage entry point that prints it."""

from __future__ import annotations

import signal
import sys
from typing import Callable


class PipelineError(Exception):
    """Bad input or configuration: the message names the input and what to do about it."""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a :class:`PipelineError` becomes one ``error:`` line and exit code 2."""
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C: temporaries removed
    try:
        main()
    except PipelineError as exc:
        # One line even when the message quotes a multi-line error (YAML, pandas).
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted; outputs of this stage were not written", file=sys.stderr)
        sys.exit(130)
