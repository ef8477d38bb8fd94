"""One clear error line for bad input, and the stage entry point that prints it."""

from __future__ import annotations

import sys
from typing import Callable


class PipelineError(Exception):
    """Bad input or configuration: the message names the input and what to do about it."""


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a :class:`PipelineError` becomes one ``error:`` line and exit code 2."""
    try:
        main()
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted; outputs of this stage were not written", file=sys.stderr)
        sys.exit(130)
