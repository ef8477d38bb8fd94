"""What a query names: the words of a word or phrase, and the error for a name that is not known."""

from __future__ import annotations

import difflib
from typing import Sequence

from pipeline.core.errors import PipelineError


def unknown(value: str, problem: str, choices: Sequence[str]) -> PipelineError:
    """The error for an unknown ``value``: what is wrong with it, and its close matches among ``choices``."""
    close = difflib.get_close_matches(value, choices, n=5, cutoff=0.6)
    hint = f"close matches: {', '.join(close)}" if close else "no close match; check the spelling"
    return PipelineError(f"{value!r}: {problem}; {hint}")


def query_words(text: str) -> list[str]:
    """The words of a word or phrase, lower-cased as the text8-style corpus has them."""
    words = text.lower().split()
    if not words:
        raise PipelineError(f"{text!r}: an empty query; give a word or a phrase")
    return words
