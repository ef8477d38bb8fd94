"""Pretrain benchmark: words/s of the pretrain stage's code against plain gensim.

    python bench/pretrain.py --corpus data/corpus/text.txt            # 1 epoch, 2 interleaved rounds
    python bench/pretrain.py --corpus data/corpus/text.txt --epochs 0 # the params' epochs (5)

Two ways of training the same skip-gram on the same corpus with the same parameters (the
``pretrain`` section of params.yaml), each in its own process:

* ``stage``: :func:`pipeline.pretrain.word2vec.train_word2vec`, what the pretrain stage runs (line-length
  check, vocabulary, training with its progress callback);
* ``gensim``: plain ``Word2Vec(corpus_file=..., sg=1, hs=0, <same params>)``.

Both are timed end to end (vocabulary scan included), words/s = corpus words x epochs / seconds.
Target (issue 5): stage >= 0.9x gensim (the wrapper adds nothing). Rounds are interleaved and the
best round of each is kept, so that a burst of load elsewhere does not decide the ratio.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, print_machine, run_child, run_path, table, verdict, write_json  # noqa: E402

TARGET = 0.9


def _child(mode: str, corpus: str, params_json: str) -> dict:
    from pipeline.pretrain.word2vec import PretrainParams, train_word2vec

    params = PretrainParams(**json.loads(params_json))
    started = time.perf_counter()
    if mode == "stage":
        model, report = train_word2vec(corpus, params)
        train_seconds = report.seconds
    else:
        from gensim.models import Word2Vec

        model = Word2Vec(
            corpus_file=corpus, sg=1, hs=0, vector_size=params.vector_size, window=params.window,
            negative=params.negative, min_count=params.min_count, sample=params.sample,
            alpha=params.alpha, min_alpha=params.min_alpha, seed=params.seed, workers=params.workers,
            epochs=params.epochs,
        )
        train_seconds = model.total_train_time
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "train_seconds": train_seconds, "words": model.corpus_total_words,
            "vocabulary": len(model.wv), "epochs": params.epochs,
            "vector_checksum": float(abs(model.wv.vectors).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(run_path(REPO, "corpus")), help="corpus file (in lines)")
    parser.add_argument("--params", default=str(REPO / "params.yaml"), help="its pretrain section is used")
    parser.add_argument("--epochs", type=int, default=1, help="epochs (0: the params' value)")
    parser.add_argument("--workers", type=int, default=0, help="gensim threads (0: the params' value)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is kept")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--params-json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.corpus, args.params_json)))
        return

    from pipeline.core.params import load_section
    from pipeline.pretrain.word2vec import PretrainParams

    params = load_section(PretrainParams, "pretrain", args.params)
    params = dataclasses.replace(params, epochs=args.epochs or params.epochs,
                                 workers=args.workers or params.workers)
    before = print_machine("pretrain bench, start")
    print(f"corpus {args.corpus}; {params}", flush=True)
    runs: dict[str, list[dict]] = {"stage": [], "gensim": []}
    for round_ in range(1, args.rounds + 1):
        for mode in runs:
            result, _, rss = run_child([str(Path(__file__).resolve()), "--child", mode, "--corpus", args.corpus,
                                        "--params-json", json.dumps(dataclasses.asdict(params))])
            result["words_per_s"] = result["words"] * result["epochs"] / result["seconds"]
            result["train_words_per_s"] = result["words"] * result["epochs"] / result["train_seconds"]
            result["peak_rss_kib"] = rss
            runs[mode].append(result)
            print(f"  round {round_} {mode:6s} {result['words']:,} words x {result['epochs']} epochs in "
                  f"{result['seconds']:.1f} s ({result['train_seconds']:.1f} s training): "
                  f"{result['words_per_s']:,.0f} words/s", flush=True)
    best = {m: max(r, key=lambda x: x["words_per_s"]) for m, r in runs.items()}
    rows = [[m, f"{b['words']:,}", b["epochs"], f"{b['seconds']:.1f}", f"{b['words_per_s']:,.0f}",
             f"{b['train_words_per_s']:,.0f}", " ".join(f"{x['words_per_s']:,.0f}" for x in runs[m])]
            for m, b in best.items()]
    print("\n" + table(rows, ["code", "corpus words", "epochs", "seconds", "words/s (end to end)",
                              "words/s (training only)", "each round"]))
    ratio = best["stage"]["words_per_s"] / best["gensim"]["words_per_s"]
    same = best["stage"]["vector_checksum"] == best["gensim"]["vector_checksum"]
    print(f"stage / gensim = {ratio:.2f}x  (target >= {TARGET}x: {verdict(ratio, TARGET)}); "
          f"identical vectors: {same}")
    after = print_machine("pretrain bench, end")
    write_json(args.json, {"params": dataclasses.asdict(params), "corpus": args.corpus, "runs": runs,
                           "stage_vs_gensim": ratio, "identical_vectors": same,
                           "machine_start": before, "machine_end": after})


if __name__ == "__main__":
    main()
