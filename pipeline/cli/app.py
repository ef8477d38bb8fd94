"""``iesg``: look inside the pipeline's artifacts from the console.

Sub-commands (``iesg COMMAND --help`` for their options):

* ``status``: every stage's artifacts with their sizes and key counts, read from the files.
* ``words IMAGE``: the top-k mapped words for an image (an image id of images.csv, a mapped image's file,
  or any image file, featurized with the encoder of params.yaml), by the best model and the reference model.
* ``images WORD``: the top-k mapped images for a word or phrase, by one model.
* ``neighbours WORD``: the nearest words by the pretrained vectors and by those a model learnt.
* ``synsets WORD``: the WordNet noun synsets of a word, their hyponyms and the images they cover.
* ``report``: redraw the evaluate stage's HTML report (e.g. into another directory).
* ``compare``: experiments as rows, each model's headline test P@1 both ways as columns.

By default a command uses the model with the best validation P@1 (``--model best``) and the run's
headline score (``evaluate.headline_score``, cos); each says which. The paper's analysis is
``--model iesg --score dot``. Artifacts are read at the paths ``dvc.yaml`` writes, relative to
``--root`` (default: the current directory); each has a flag to read it from elsewhere. Output is
aligned text, or JSON with ``--json``. Bad input prints one ``error:`` line and exits with code 2.
Each command is a thin layer over the Python API (:mod:`pipeline.api`).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from pipeline.api.run_files import ARTIFACTS
from pipeline.cli import compare, images, neighbours, report, status, synsets, words
from pipeline.cli.common import Command
from pipeline.cli.format import to_json
from pipeline.core.errors import PipelineError

COMMANDS: dict[str, Command] = {module.COMMAND.name: module.COMMAND
                                for module in (status, words, images, neighbours, synsets, report, compare)}


def build_parser() -> argparse.ArgumentParser:
    """The ``iesg`` argument parser with one sub-parser per command."""
    # No abbreviations: `words --model x` would otherwise quietly set --models (the models folder).
    parser = argparse.ArgumentParser(prog="iesg", description=__doc__.replace("``", ""), allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help, allow_abbrev=False)
        sub.set_defaults(command_spec=command)
        command.add_arguments(sub)
        sub.add_argument("--json", action="store_true", help="print JSON instead of text tables")
        sub.add_argument("--root", default=".", help="project root the default paths start from (default .)")
        paths = sub.add_argument_group("artifact paths (relative to --root unless absolute)")
        for artifact_name in command.artifacts:
            default, what = ARTIFACTS[artifact_name].path, ARTIFACTS[artifact_name].what
            paths.add_argument(f"--{artifact_name.replace('_', '-')}", dest=artifact_name, default=default,
                               metavar="PATH", help=f"{what} (default {default})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``iesg`` with ``argv`` (default: the command line); return the exit code.

    0 on success; 2 for bad arguments (argparse's usage message) or bad input (one ``error:``
    line on stderr naming the input and what to do).
    """
    args = build_parser().parse_args(argv)
    command: Command = args.command_spec
    try:
        result = command.run(args)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(to_json(result) if args.json else command.text(result))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader stopped early (`iesg status | head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
