"""Featurize benchmark: images/s of the featurize stage's code against a naive loop and the ceiling.

    python bench/featurize.py --images-dir /path/to/tiny-imagenet-16k --n 512 --rss-counts 1000,10000
    python bench/featurize.py --images-csv data/mapping/images.csv --n 512      # full-size photos

Ways of encoding the same ``--n`` images with the same encoder, each in its own process:

* ``stage``: :func:`pipeline.features.featurize.featurize`, exactly what the featurize stage runs (DataLoader
  workers that decode and encode batches, HDF5 writing), with the params' batch size / workers / threads;
* ``naive``: one image at a time: decode (:func:`pipeline.features.decode.load_rgb`), preprocess, forward
  a batch of one; no batching, no workers, torch's default threads (``naive-1thread``: the same
  on one thread, which a busy machine disturbs far less);
* ``ceiling``: the same model's forward pass alone on batches decoded beforehand (untimed), after
  one warm-up batch, laid out as the stage runs it (``num_workers`` processes sharing the threads),
  and ``ceiling-1proc``: the same in one process on all threads; the faster of the two is the
  ceiling: nothing can encode faster with this model, batch size and number of cores.

Targets (issue 5): stage >= 1.5x naive and >= 85% of the ceiling. ``--rss-counts`` also runs the
stage alone on each count of images (the list cycles when there are fewer files) and reports the
peak RSS of its main process and of its largest decoding worker: it must not grow with the count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, peak_rss_kib, print_machine, run_child, table, verdict, write_json  # noqa: E402

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
TARGET_NAIVE, TARGET_CEILING = 1.5, 0.85


def list_images(images_dir: str | None, images_csv: str | None, base_dir: str | None) -> list[str]:
    """Absolute paths of the images: every image file under ``images_dir`` (sorted), or the
    ``path`` column of an images.csv (relative paths start from ``base_dir``, else the csv's
    checkout: the directory holding ``data/``)."""
    if images_dir:
        root = Path(images_dir)
        files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    else:
        import pandas as pd

        csv = Path(images_csv).resolve()
        base = Path(base_dir) if base_dir else next(
            (p for p in csv.parents if (p / "data").is_dir()), csv.parent)
        paths = pd.read_csv(csv, dtype=str, keep_default_na=False)["path"].tolist()
        files = [str(p if Path(p).is_absolute() else base / p) for p in paths]
    if not files:
        raise SystemExit(f"no image files found in {images_dir or images_csv}")
    return files


def spread(files: list[str], n: int) -> list[str]:
    """``n`` files taken evenly across the sorted list (all classes / sources), cycling if fewer."""
    if n <= len(files):
        step = len(files) / n
        return [files[int(i * step)] for i in range(n)]
    return [files[i % len(files)] for i in range(n)]


# --------------------------------------------------------------------------- child processes


def _cpu(who: str = "self") -> float:
    """User + system CPU seconds of this process (``self``) or of its reaped children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF if who == "self" else resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _child(mode: str, list_file: str, encoder_name: str, batch_size: int, workers: int,
           threads: int) -> dict:
    import torch

    from pipeline.features.encoders import load_encoder
    from pipeline.features.decode import load_rgb
    from pipeline.features.featurize import FeaturesParams, featurize

    paths = Path(list_file).read_text().splitlines()
    n_threads = threads or len(os.sched_getaffinity(0))
    if mode == "stage":
        params = FeaturesParams(encoder=encoder_name, batch_size=batch_size, num_workers=workers,
                                threads=threads)
        # one-off costs are left out of every mode: featurize loads the model itself (its CPU time
        # is measured here and subtracted), and its first transform() imports torchvision (done here)
        cpu = _cpu()
        encoder = load_encoder(encoder_name, "imagenet")
        model_load_cpu = _cpu() - cpu
        encoder.preprocessing.transform()
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "images.csv"
            # the same file may be listed twice (cycled lists): ids must be unique, paths need not
            csv.write_text("image_id,path\n" + "".join(f"{i},{p}\n" for i, p in enumerate(paths)))
            cpu = _cpu() + _cpu("children")
            started = time.perf_counter()
            result = featurize(csv, Path(tmp) / "features.h5", params, base_dir="/")
            wall = time.perf_counter() - started
            cpu = _cpu() + _cpu("children") - cpu - model_load_cpu  # decoding workers are reaped by now
        return {"images": result.images, "seconds": result.seconds, "wall_with_model_load": wall,
                "cpu_seconds": cpu, **peak_rss_kib()}

    torch.set_num_threads(n_threads)
    encoder = load_encoder(encoder_name, "imagenet")
    transform = encoder.preprocessing.transform()
    with torch.inference_mode():
        if mode in ("naive", "naive-1thread"):
            if mode == "naive-1thread":
                torch.set_num_threads(1)
            started, cpu = time.perf_counter(), _cpu()
            for path in paths:
                encoder.features(transform(load_rgb(path)).unsqueeze(0)).numpy()
            seconds, cpu = time.perf_counter() - started, _cpu() - cpu
        elif mode in ("ceiling", "ceiling-1proc"):
            batches = [torch.stack([transform(load_rgb(p)) for p in paths[i:i + batch_size]])
                       for i in range(0, len(paths), batch_size)]
            procs = workers if mode == "ceiling" else 0
            seconds, cpu = _forward_only(encoder, batches, procs, n_threads)
        elif mode == "decode":
            torch.set_num_threads(1)  # as in the stage's DataLoader workers
            started, cpu = time.perf_counter(), _cpu()
            for path in paths:
                transform(load_rgb(path))
            seconds, cpu = time.perf_counter() - started, _cpu() - cpu
        else:
            raise ValueError(mode)
    return {"images": len(paths), "seconds": seconds, "cpu_seconds": cpu, **peak_rss_kib()}


def _forward_only(encoder, batches: list, procs: int, threads: int) -> tuple[float, float]:
    """Wall and CPU seconds for the encoder's forward passes alone over ``batches``: in this process on
    ``threads`` threads (procs 0), or split round-robin over ``procs`` forked processes with
    ``threads // procs`` threads each, as the stage's workers are. One warm-up batch first (oneDNN
    builds its kernels on the first call), then all start together."""
    import multiprocessing as mp

    import torch

    def run(share: list, barrier, out) -> None:
        with torch.inference_mode():
            encoder.features(share[0])
            barrier.wait()
            started, cpu = time.perf_counter(), _cpu()
            for batch in share:
                encoder.features(batch).numpy()
            out.put((time.perf_counter() - started, _cpu() - cpu))

    if procs == 0:
        torch.set_num_threads(threads)
        queue: list = []
        run(batches, type("NoBarrier", (), {"wait": lambda self: None})(), type("Out", (), {"put": queue.append})())
        return queue[0]
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(procs), ctx.Queue()

    def child(share: list) -> None:
        torch.set_num_threads(max(1, threads // procs))
        run(share, barrier, out)

    workers = [ctx.Process(target=child, args=(batches[k::procs],)) for k in range(procs)]
    for worker in workers:
        worker.start()
    times = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    return max(t for t, _ in times), sum(c for _, c in times)


# --------------------------------------------------------------------------- parent


def run_mode(mode: str, paths: list[str], args: argparse.Namespace) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(paths))
    try:
        result, wall, tree_rss = run_child([
            str(Path(__file__).resolve()), "--child", mode, "--list", handle.name,
            "--encoder", args.encoder, "--batch-size", str(args.batch_size),
            "--num-workers", str(args.num_workers), "--threads", str(args.threads)])
    finally:
        os.unlink(handle.name)
    result["images_per_s"] = result["images"] / result["seconds"]
    result["images_per_cpu_s"] = result["images"] / max(result.get("cpu_seconds", float("nan")), 1e-9)
    result["tree_peak_rss_kib"] = tree_rss
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--images-dir", help="directory searched recursively for image files")
    source.add_argument("--images-csv", help="an images.csv (column path), e.g. data/mapping/images.csv")
    parser.add_argument("--base-dir", help="where relative paths of --images-csv start (default: its checkout)")
    parser.add_argument("--label", help="name of the image set in the table (default: from the input)")
    parser.add_argument("--n", type=int, default=512, help="images for the throughput comparison")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of all modes; each mode's best round is reported")
    parser.add_argument("--modes", default="stage,naive,naive-1thread,ceiling,ceiling-1proc,decode",
                        help="comma list of stage, naive, naive-1thread (the naive loop on one torch thread), ceiling (forward alone, laid out as the stage: "
                             "num_workers processes), ceiling-1proc (forward alone in one process on all "
                             "threads), decode (one process's decode+preprocess alone, for diagnosis)")
    parser.add_argument("--rss-counts", default="", help="comma list of image counts for the stage's peak RSS")
    parser.add_argument("--encoder", default="efficientnet_lite0")
    parser.add_argument("--batch-size", type=int, default=None, help="default: params.yaml features")
    parser.add_argument("--num-workers", type=int, default=None, help="default: params.yaml features")
    parser.add_argument("--threads", type=int, default=None, help="default: params.yaml features (0: all cores)")
    parser.add_argument("--params", default=str(REPO / "params.yaml"))
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--list", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(_child(args.child, args.list, args.encoder, args.batch_size, args.num_workers,
                                args.threads)))
        return

    from pipeline.features.featurize import FeaturesParams
    from pipeline.core.params import load_section

    defaults = load_section(FeaturesParams, "features", args.params) if Path(args.params).is_file() \
        else FeaturesParams()
    for name in ("batch_size", "num_workers", "threads"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(defaults, name))
    if not args.images_dir and not args.images_csv:
        parser.error("give --images-dir or --images-csv")
    files = list_images(args.images_dir, args.images_csv, args.base_dir)
    label = args.label or Path(args.images_dir or args.images_csv).name
    before = print_machine("featurize bench, start")
    print(f"{label}: {len(files):,} image files; {args.encoder}, batch {args.batch_size}, "
          f"{args.num_workers} decoding workers, threads {args.threads or 'all'}", flush=True)

    payload: dict = {"label": label, "files": len(files), "encoder": args.encoder,
                     "batch_size": args.batch_size, "num_workers": args.num_workers,
                     "threads": args.threads, "machine_start": before, "throughput": {}, "rss": {}}
    modes = [m for m in args.modes.split(",") if m]
    if modes:
        paths = spread(files, args.n)
        runs: dict[str, list[dict]] = {m: [] for m in modes}
        for round_ in range(1, args.rounds + 1):
            for mode in modes:  # interleaved, so that a burst of load elsewhere hits every mode alike
                result = run_mode(mode, paths, args)
                runs[mode].append(result)
                print(f"  round {round_} {mode:13s} {result['images']:6d} images in {result['seconds']:7.1f} s: "
                      f"{result['images_per_s']:6.2f} images/s, {result['images_per_cpu_s']:6.2f} per CPU-s",
                      flush=True)
        for mode in modes:  # the best round of each: the one least disturbed by other work
            best = max(runs[mode], key=lambda r: r["images_per_s"])
            payload["throughput"][mode] = {**best, "all_images_per_s": [r["images_per_s"] for r in runs[mode]]}
        speed = {m: r["images_per_s"] for m, r in payload["throughput"].items()}
        per_cpu = {m: max(r["images_per_cpu_s"] for r in runs[m]) for m in modes}
        rows = [[m, payload["throughput"][m]["images"], f"{speed[m]:.2f}",
                 " ".join(f"{x:.1f}" for x in payload["throughput"][m]["all_images_per_s"]),
                 f"{per_cpu[m]:.2f}"] for m in modes]
        print(f"\n{label}, {len(paths)} images\n" + table(
            rows, ["code", "images", "images/s (best round)", "images/s (each round)", "images per CPU-second"]))
        print("images/s is wall-clock throughput; images per CPU-second (user+system time of the process and "
              "its workers) is what a shared, busy machine disturbs least")
        ratios: dict[str, dict[str, float]] = {}
        ceilings = [m for m in ("ceiling", "ceiling-1proc") if m in speed]
        for measure, rate in (("wall", speed), ("cpu", per_cpu)):
            if "stage" not in rate:
                continue
            for naive in ("naive", "naive-1thread"):
                if naive in rate:
                    ratios.setdefault(f"stage/{naive}", {})[measure] = rate["stage"] / rate[naive]
            if ceilings:  # the faster layout is the ceiling
                ratios.setdefault("stage/ceiling", {})[measure] = rate["stage"] / max(rate[m] for m in ceilings)
        payload["ratios"], payload["images_per_cpu_s"] = ratios, per_cpu
        rows = []
        for name, value in ratios.items():
            target = TARGET_CEILING if name == "stage/ceiling" else TARGET_NAIVE
            rows.append([name, f"{value.get('wall', float('nan')):.2f}", f"{value.get('cpu', float('nan')):.2f}",
                         f">= {target}", verdict(value.get("wall", 0), target) + " / " + verdict(value.get("cpu", 0), target)])
        print("\n" + table(rows, ["ratio", "by images/s", "by images per CPU-s", "target", "wall / cpu"]))
        if "decode" in per_cpu and ceilings:
            forward = max(per_cpu[m] for m in ceilings)
            share = per_cpu["decode"] / (forward + per_cpu["decode"])
            payload["decode_bound"] = share
            print(f"decode+preprocess of one image costs {forward / per_cpu['decode']:.1%} of its forward pass "
                  f"(CPU time); with every core busy, decoding caps the stage at about {share:.1%} of the ceiling")
    counts = [int(c) for c in args.rss_counts.split(",") if c]
    if counts:
        rows = []
        for count in counts:
            result = run_mode("stage", spread(files, count), args)
            payload["rss"][str(count)] = result
            rows.append([f"{count:,}", f"{result['images_per_s']:.2f}", f"{result['self_kib'] / 1024:.0f}",
                         f"{result['children_kib'] / 1024:.0f}"])
            print(f"  stage on {count:,} images: {result['images_per_s']:.2f} images/s, peak RSS main "
                  f"{result['self_kib'] / 1024:.0f} MiB, worker {result['children_kib'] / 1024:.0f} MiB", flush=True)
        print(f"\n{label}: featurize stage code, peak RSS by image count (each its own process)\n"
              + table(rows, ["images", "images/s", "peak RSS main (MiB)", "peak RSS worker (MiB)"]))
        if len(counts) > 1:
            first, last = payload["rss"][str(counts[0])], payload["rss"][str(counts[-1])]
            growth = last["self_kib"] / first["self_kib"]
            payload["rss_growth"] = growth
            print(f"main-process peak RSS at {counts[-1]:,} / at {counts[0]:,} images = {growth:.2f}")
    payload["machine_end"] = print_machine("featurize bench, end")
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
