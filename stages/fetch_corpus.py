"""DVC stage 1: build the text8-style training corpus (``data/corpus/text.txt``)."""

from __future__ import annotations

import argparse
import time

from pipeline.artifacts.layout import PARAMS, path
from pipeline.corpus.build import build_corpus, summary_line
from pipeline.corpus.params import CorpusParams
from pipeline.core.errors import run_stage
from pipeline.core.params import load_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default=PARAMS, help="params file (section 'corpus')")
    parser.add_argument("--downloads", default=path("downloads"),
                        help="where downloads (.zip, .deb and unpacked trees) are kept, outside DVC")
    parser.add_argument("--text", default=path("corpus"), help="output corpus text")
    parser.add_argument("--metrics", default=path("corpus_stats"), help="statistics JSON (tokens, words, sources)")
    args = parser.parse_args()
    params = load_section(CorpusParams, "corpus", args.params)
    start = time.perf_counter()
    stats = build_corpus(params, args.text, args.metrics, args.downloads)
    print(summary_line(stats, time.perf_counter() - start, args.text))


if __name__ == "__main__":
    run_stage(main)
