"""DVC stage pretrain: skip-gram word2vec on the corpus, scored on word-similarity benchmarks."""

from __future__ import annotations

import argparse

from pipeline.core.errors import run_stage
from pipeline.core.files import atomic_path, write_json
from pipeline.core.params import load_section
from pipeline.pretrain.params import PretrainParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", default="data/corpus/text.txt", help="cleaned corpus, in lines")
    parser.add_argument("--out", default="data/word2vec", help="directory for model and vectors.kv")
    parser.add_argument("--metrics", default="results/pretrain.json")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()

    params = load_section(PretrainParams, "pretrain", args.params)

    # Imported once the params are valid: gensim takes seconds to import.
    from pipeline.evaluation.similarity import evaluate_vectors
    from pipeline.pretrain.word2vec import save_reproducibly, train_word2vec

    model, report = train_word2vec(args.corpus, params)
    scores = evaluate_vectors(model.wv, params.analogy_restrict_vocab)
    with atomic_path(args.out) as out:
        out.mkdir()
        save_reproducibly(model, out / "model")
        save_reproducibly(model.wv, out / "vectors.kv")
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
