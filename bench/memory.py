"""Memory benchmark: peak RSS that does not grow with the data (issue 20).

    nice -n 10 python bench/memory.py --root .              # a checkout whose pipeline has run

Two side-by-side measurements in one run, each in a child process of its own:

* ``fetch_corpus`` (:func:`pipeline.corpus.build.build_corpus`, ``file`` source) on generated
  text8-style files of each ``--sizes-mb`` (one line, words of a fixed vocabulary drawn with a
  seeded generator, in a temporary folder deleted afterwards): the child's peak RSS
  (``wait4``'s ``ru_maxrss``). Target: the largest file's peak <= 1.2x the smallest's.
* one epoch's corpus sampling of the joint model (:class:`pipeline.models.joint.SkipGramPairs`) and
  of IESG (:class:`pipeline.models.iesg.CorpusWindows`) with the ``train`` params of ``--params``,
  on the run's corpus and on it repeated ``--repeat`` times (one child per corpus): the corpus is
  encoded by the train stage's own :func:`pipeline.artifacts.training_inputs.load_training_inputs` (its peak is
  reported), then before each draw the peak RSS is reset (``/proc/self/clear_refs``) and the draw's
  growth over the resident set before it is read from ``VmHWM``. ``one draw`` is the down-sampling
  of before issue 20 (one uniform per token drawn for the whole corpus at once, the kept tokens
  copied), for comparison; ``chunked`` draws 1M tokens at a time and keeps one bit a token. The
  growth is given in bytes per in-vocabulary token (a copy of the kept stream alone is up to 8).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_machine, run_child, run_path, table, verdict, write_json  # noqa: E402

import numpy as np  # noqa: E402

TARGET = 1.2
MODELS = ("joint", "iesg")


def generate_text(path: Path, megabytes: int, seed: int = 0, vocabulary: int = 5000) -> None:
    """A one-line text file of about ``megabytes`` MB: words of a fixed vocabulary, Zipf-distributed,
    some capitalised or followed by punctuation or digits (so the text8 normalisation has work)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = ["".join(rng.choice(letters, rng.integers(2, 11))) for _ in range(vocabulary)]
    words[:40] = [w.capitalize() + "," for w in words[:40]]
    words[40:50] = [f"{w} {i}9{i}" for i, w in enumerate(words[40:50])]
    encoded = np.array([w.encode() for w in words], dtype=object)
    target, written = megabytes * 1_000_000, 0
    with open(path, "wb") as out:
        while written < target:
            block = b" ".join(encoded[np.minimum(rng.zipf(1.5, 1 << 17) - 1, vocabulary - 1)]) + b" "
            out.write(block)
            written += len(block)


def corpus_child(source: str, out_dir: str) -> dict:
    from pipeline.corpus.build import build_corpus
    from pipeline.corpus.params import CorpusParams

    out = Path(out_dir)
    stats = build_corpus(CorpusParams(source="file", path=source), out / "text.txt", out / "corpus.json",
                         out / "downloads")
    return {"bytes_in": Path(source).stat().st_size, "bytes_out": stats.bytes, "tokens": stats.tokens}


def _proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


class CopiedStream:
    """The down-sampled stream before issue 20: a copy of the kept tokens."""

    def __init__(self, stream: np.ndarray) -> None:
        self.stream = stream

    def __len__(self) -> int:
        return len(self.stream)

    def take(self, *ranks: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(self.stream[r] for r in ranks)

    def ranks_where(self, word_mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(word_mask[self.stream])


def one_draw_downsampled(self, rng: np.random.Generator, sample: float) -> CopiedStream:
    """The down-sampling before issue 20: one uniform per token, all drawn at once, the kept tokens copied."""
    from pipeline.models.corpus_sampling import keep_probability

    stream = self.tokens
    if sample > 0:
        stream = stream[rng.random(len(stream)) < keep_probability(self.counts, sample)[stream]]
    return CopiedStream(stream)


def sampling_child(root: str, corpus: str, params_file: str) -> dict:
    from pipeline.models.corpus_sampling import CorpusSampler
    from pipeline.models.iesg import CorpusWindows
    from pipeline.artifacts.training_inputs import load_training_inputs
    from pipeline.models.joint import SkipGramPairs
    from pipeline.models.registry import load_train_config

    config = load_train_config(params_file)
    inputs = load_training_inputs(corpus, *(run_path(root, name) for name in ("word2vec_dir", "images", "links",
                                                                              "features")))
    result = {"tokens": int((inputs.tokens >= 0).sum()), "encode_peak_kib": _proc_status_kib("VmHWM")}
    joint, iesg = config.sections["joint"], config.sections["iesg"].effective()
    samplers = {"joint": SkipGramPairs(inputs.tokens, inputs.counts),
                "iesg": CorpusWindows(inputs.tokens, inputs.counts, inputs.data)}
    draws = {"joint": lambda rng: samplers["joint"].draw(rng, joint.text_pairs_per_epoch, joint.window,
                                                          joint.negatives, joint.sample),
             "iesg": lambda rng: samplers["iesg"].draw(rng, iesg)}
    chunked = CorpusSampler.downsampled
    for variant, downsampled in (("chunked", chunked), ("one", one_draw_downsampled)):
        CorpusSampler.downsampled = downsampled
        for model in MODELS:
            before = _proc_status_kib("VmRSS")
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
            started = time.perf_counter()
            drawn = draws[model](np.random.default_rng(config.seed))
            seconds = time.perf_counter() - started
            rows = len(drawn["centre"] if isinstance(drawn, dict) else drawn[0])
            del drawn
            result[f"{model}_{variant}"] = {"rss_before_kib": before, "growth_kib": _proc_status_kib("VmHWM") - before,
                                            "rows": rows, "seconds": seconds}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".", help="a checkout whose pipeline has run (corpus, word2vec, features)")
    parser.add_argument("--params", default=None, help="params file for the train params (default: ROOT/params.yaml)")
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[100, 1000], help="generated corpus files, MB")
    parser.add_argument("--repeat", type=int, default=10, help="the larger training corpus: the run's corpus x N")
    parser.add_argument("--tmp", default=None, help="where the generated files go (default: the system's temp)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = corpus_child(*rest) if kind == "corpus" else sampling_child(*rest)
        print(json.dumps(result))
        return

    print_machine("memory")
    root = Path(args.root).resolve()
    params_file = args.params or str(root / "params.yaml")
    payload: dict = {"corpus": [], "sampling": []}
    with tempfile.TemporaryDirectory(prefix="bench_memory_", dir=args.tmp) as tmp:
        rows = []
        for megabytes in args.sizes_mb:
            source = Path(tmp) / f"text_{megabytes}mb.txt"
            generate_text(source, megabytes)
            out = Path(tmp) / f"out_{megabytes}"
            out.mkdir()
            result, wall, peak = run_child([__file__, "--child", "corpus", str(source), str(out)])
            shutil.rmtree(out)
            source.unlink()
            rows.append([f"{megabytes} MB, one line", f"{result['tokens']:,}", f"{peak / 1024:.0f}", f"{wall:.0f}"])
            payload["corpus"].append({**result, "peak_kib": peak, "seconds": wall})
        ratio = payload["corpus"][-1]["peak_kib"] / payload["corpus"][0]["peak_kib"]
        print("\nfetch_corpus, file source\n" + table(rows, ["input", "tokens", "peak RSS MiB", "s"]))
        print(f"peak RSS ratio largest/smallest: {ratio:.2f}x (target <= {TARGET}x: {verdict(ratio, TARGET, False)})")
        payload["corpus_ratio"] = ratio

        corpus = run_path(root, "corpus")
        repeated = Path(tmp) / f"corpus_x{args.repeat}.txt"
        with open(repeated, "wb") as out:
            for _ in range(args.repeat):
                with open(corpus, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        rows = []
        for name, path in (("x1", corpus), (f"x{args.repeat}", repeated)):
            result, wall, peak = run_child([__file__, "--child", "sampling", str(root), str(path), params_file])
            payload["sampling"].append({"corpus": name, **result, "peak_kib": peak})
            for model in MODELS:
                for variant in ("chunked", "one"):
                    draw = result[f"{model}_{variant}"]
                    rows.append([model, "chunked, bits" if variant == "chunked" else "one draw, copy", name,
                                 f"{result['tokens']:,}", f"{draw['rows']:,}", f"{draw['growth_kib'] / 1024:.0f}",
                                 f"{draw['growth_kib'] * 1024 / result['tokens']:.1f}", f"{draw['seconds']:.1f}"])
        encode_rows = [[entry["corpus"], f"{entry['tokens']:,}", f"{entry['tokens'] * 8 / 2**20:.0f}",
                        f"{entry['encode_peak_kib'] / 1024:.0f}", f"{entry['peak_kib'] / 1024:.0f}"]
                       for entry in payload["sampling"]]
        repeated.unlink()
    print("\ntrain inputs (load_training_inputs: vectors, features, the encoded corpus)\n"
          + table(encode_rows, ["corpus", "in-vocabulary tokens", "int64 tokens MiB", "peak after encoding MiB",
                                "process peak MiB"]))
    print("\none epoch's corpus sampling (growth: the draw's peak over the resident set before it)\n"
          + table(rows, ["model", "down-sampling", "corpus", "tokens", "rows drawn", "draw growth MiB",
                         "growth B/token", "draw s"]))
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
