"""What every ``iesg`` command shares: its description, argument types, options, and the run it reads."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable

from pipeline.api.run import RETRIEVALS
from pipeline.api.run import Run
from pipeline.evaluation.model_choice import BEST
from pipeline.evaluation.protocol import SCORES


@dataclass(frozen=True)
class Command:
    """A sub-command: its options, what it computes, how its result reads as text, the artifacts it reads
    (each gets a ``--name PATH`` flag)."""

    name: str
    help: str
    artifacts: tuple[str, ...]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], dict[str, Any]]
    text: Callable[[dict[str, Any]], str]


def artifact_flags(args: argparse.Namespace) -> dict[str, str]:
    """The artifact paths given to the command (its ``--name PATH`` flags, defaults included)."""
    command: Command = args.command_spec
    return {name: getattr(args, name) for name in command.artifacts}


def run_of(args: argparse.Namespace) -> Run:
    """The run the command reads: ``--root`` with the artifact paths of its flags."""
    return Run(args.root, **artifact_flags(args))


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def comma_list(value: str) -> list[str]:
    """``a,b`` as ``["a", "b"]`` (argparse type)."""
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected one or more comma-separated names")
    return names


def add_top(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument("-k", "--top", type=positive_int, default=default, help=f"how many results (default {default})")


def add_model(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument("--model", default=BEST,
                        help=f"a model of train.models{what}, or {BEST} (default): the best validation P@1")


def add_scoring(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score", choices=SCORES, default=None,
                        help="dot: the paper's energy E; cos: cosine (default: evaluate.headline_score of the "
                             "params file, cos unless set)")
    parser.add_argument("--retrieval", choices=RETRIEVALS, default=None,
                        help=f"how candidates are ranked: {RETRIEVALS[0]} (by the score) or a hubness correction "
                             "(default: evaluate.retrieval of the params file, for word -> image inverted_softmax "
                             "unless set)")


def retrieval_note(retrieval: str) -> str:
    """`` with csls retrieval`` for a retrieval other than the plain score, else nothing."""
    return "" if retrieval == RETRIEVALS[0] else f" with {retrieval} retrieval"
