"""DVC stage pretrain: skip-gram word2vec on the corpus, scored on word-similarity benchmarks."""

from __future__ import annotations

import argparse

from pipeline.artifacts.layout import PARAMS, path
from pipeline.core.errors import run_stage
from pipeline.core.files import write_json
from pipeline.core.params import load_section
from pipeline.pretrain.params import PretrainParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default=path("corpus"), help="cleaned corpus, in lines")
    parser.add_argument("--out", default=path("word2vec_dir"), help="directory for the model and its vectors")
    parser.add_argument("--metrics", default=path("pretrain_stats"))
    parser.add_argument("--params", default=PARAMS)
    args = parser.parse_args()

    params = load_section(PretrainParams, "pretrain", args.params)

    # Imported once the params are valid: gensim takes seconds to import.
    from pipeline.artifacts.vectors import write_word2vec
    from pipeline.evaluation.similarity import evaluate_vectors
    from pipeline.pretrain.word2vec import train_word2vec

    model, report = train_word2vec(args.corpus, params)
    scores = evaluate_vectors(model.wv, params.analogy_restrict_vocab)
    write_word2vec(args.out, model)
    write_json(args.metrics, {
        "vocabulary": report.vocabulary,
        "corpus_words": report.corpus_words,
        "raw_words_per_epoch": report.raw_words_per_epoch,
        **scores,
    })
    print(
        f"pretrain: {report.vocabulary:,} words x {params.vector_size} dims, "
        f"{report.raw_words_per_epoch:,} words/epoch x {params.epochs} epochs in {report.seconds:.1f} s "
        f"({report.words_per_second:,.0f} words/s); WS353 sim {scores['ws353_similarity']['spearman']} "
        f"rel {scores['ws353_relatedness']['spearman']}; vectors in {args.out}"
    )


if __name__ == "__main__":
    run_stage(main)
