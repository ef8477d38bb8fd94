"""Encoder benchmark: featurize speed and a linear-probe quality of EfficientNet-Lite0/1/2 x test-time augmentation.

    nice -n 10 python bench/encoders.py --images-dir /path/to/tiny-imagenet-16k

The same ``--synsets`` x ``--per-synset`` images (default 20 x 20 = 400, drawn with ``--seed`` from an images
directory whose images sit below a WordNet-synset folder ``n<8 digits>``, as Tiny ImageNet's
``train/<wnid>/images/``) are featurized by :func:`pipeline.features.featurize.featurize`, the featurize stage's
code with params.yaml's batch size / workers / threads, once per encoder x ``features.tta``, each in its own
process, interleaved over ``--rounds`` (each one's best round is reported). Printed side by side:

* images/s of decoding + encoding (model loading excluded) and the time of flip relative to none;
* a linear probe: a softmax regression (torch, L-BFGS, weight decay ``--probe-decay``) on the unit-normalised,
  centred features of half of each synset's images (seeded split), predicting the synset of the other half:
  top-1 accuracy on those held-out images, with the count of held-out images flip gets right and none wrong
  (and the reverse), since the two are scored on the same images.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, print_machine, run_child, table, write_json  # noqa: E402

ENCODERS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
TTAS = ("none", "flip")
SYNSET = re.compile(r"n\d{8}")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def synset_images(images_dir: Path) -> dict[str, list[Path]]:
    """wnid -> its image files (sorted): each image file below a folder named like a WordNet noun synset."""
    found: dict[str, list[Path]] = {}
    for path in sorted(images_dir.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            wnid = next((part for part in reversed(path.parent.parts) if SYNSET.fullmatch(part)), None)
            if wnid:
                found.setdefault(wnid, []).append(path)
    return found


def draw(found: dict[str, list[Path]], synsets: int, per_synset: int, seed: int) -> list[tuple[str, Path, bool]]:
    """(wnid, file, is_training) of ``per_synset`` images of each of ``synsets`` synsets, half of each for training."""
    import numpy as np

    rng = np.random.default_rng(seed)
    eligible = sorted(w for w, files in found.items() if len(files) >= per_synset)
    if len(eligible) < synsets:
        raise SystemExit(f"only {len(eligible)} synsets have {per_synset} images; lower --synsets or --per-synset")
    chosen = []
    for wnid in sorted(rng.choice(eligible, synsets, replace=False)):
        files = [found[wnid][i] for i in sorted(rng.choice(len(found[wnid]), per_synset, replace=False))]
        training = set(rng.choice(per_synset, per_synset // 2, replace=False).tolist())
        chosen += [(wnid, file, k in training) for k, file in enumerate(files)]
    return chosen


def _child(encoder: str, tta: str, images_csv: str, output: str, params_file: str) -> dict:
    from dataclasses import replace

    from pipeline.core.params import load_section
    from pipeline.features.featurize import featurize
    from pipeline.features.params import FeaturesParams

    params = replace(load_section(FeaturesParams, "features", params_file), encoder=encoder, tta=tta)
    result = featurize(images_csv, output, params)
    return {"images": result.images, "seconds": result.seconds, "skipped": len(result.skipped),
            "batch_size": params.batch_size, "num_workers": params.num_workers, "threads": params.threads}


def probe(features, labels, training, decay: float, seed: int) -> list[bool]:
    """Whether a softmax regression fitted on the training rows gets each held-out row's label right."""
    import numpy as np
    import torch

    x = torch.from_numpy(features / np.linalg.norm(features, axis=1, keepdims=True))
    x = x - x[training].mean(0)
    classes = sorted(set(labels))
    y = torch.tensor([classes.index(label) for label in labels])
    torch.manual_seed(seed)
    layer = torch.nn.Linear(x.shape[1], len(classes))
    optimiser = torch.optim.LBFGS(layer.parameters(), max_iter=500, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(layer(x[training]), y[training]) \
            + decay * layer.weight.square().sum()
        value.backward()
        return value

    optimiser.step(loss)
    with torch.no_grad():
        return (layer(x[~training]).argmax(1) == y[~training]).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images-dir", help="images below WordNet-synset folders, e.g. a Tiny ImageNet copy")
    parser.add_argument("--synsets", type=int, default=20, help="synsets drawn")
    parser.add_argument("--per-synset", type=int, default=20, help="images drawn per synset (half train the probe)")
    parser.add_argument("--seed", type=int, default=0, help="draw of the synsets, images and probe split")
    parser.add_argument("--encoders", default=",".join(ENCODERS))
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; each run's best is reported")
    parser.add_argument("--probe-decay", type=float, default=1e-3, help="L2 penalty on the probe's weights")
    parser.add_argument("--params", default=str(REPO / "params.yaml"), help="batch size, workers, threads from here")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child, args.params)))
        return
    if not args.images_dir:
        parser.error("give --images-dir")

    import h5py
    import numpy as np

    chosen = draw(synset_images(Path(args.images_dir)), args.synsets, args.per_synset, args.seed)
    encoders = [e for e in args.encoders.split(",") if e]
    runs = [(encoder, tta) for encoder in encoders for tta in TTAS]
    before = print_machine("encoders bench, start")
    print(f"{len(chosen)} images of {args.synsets} synsets from {args.images_dir}, {len(runs)} runs x "
          f"{args.rounds} round(s)", flush=True)
    payload: dict = {"images": len(chosen), "synsets": args.synsets, "seed": args.seed, "machine_start": before,
                     "runs": {}}
    with tempfile.TemporaryDirectory() as work:
        images_csv = Path(work) / "images.csv"
        images_csv.write_text("image_id,path\n" + "".join(f"{k},{file}\n" for k, (_, file, _) in enumerate(chosen)))
        speeds: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
        features: dict[tuple[str, str], np.ndarray] = {}
        for round_ in range(1, args.rounds + 1):
            for encoder, tta in runs:  # interleaved, so that load from other jobs hits every run alike
                output = Path(work) / f"{encoder}-{tta}.h5"
                result, _, _ = run_child([str(Path(__file__).resolve()), "--params", args.params,
                                          "--child", encoder, tta, str(images_csv), str(output)])
                speeds[encoder, tta].append(result["images"] / result["seconds"])
                print(f"  round {round_} {encoder} tta {tta}: {speeds[encoder, tta][-1]:.2f} images/s", flush=True)
                with h5py.File(output) as h5:
                    assert [int(i) for i in h5["image_ids"][:]] == list(range(len(chosen))), "an image was skipped"
                    features[encoder, tta] = h5["features"][:]
    labels = [wnid for wnid, _, _ in chosen]
    training = np.array([train for _, _, train in chosen])
    right = {run: np.array(probe(features[run], labels, training, args.probe_decay, args.seed)) for run in runs}
    rows = []
    for encoder, tta in runs:
        best = max(speeds[encoder, tta])
        relative = best / max(speeds[encoder, "none"])
        gained = int((right[encoder, tta] & ~right[encoder, "none"]).sum())
        lost = int((~right[encoder, tta] & right[encoder, "none"]).sum())
        payload["runs"][f"{encoder}/{tta}"] = {"images_per_s": speeds[encoder, tta], "probe_top1":
                                               float(right[encoder, tta].mean()), "gained": gained, "lost": lost}
        rows.append([encoder, tta, f"{best:.2f}", f"{relative:.2f}", f"{right[encoder, tta].mean():.3f}",
                     "" if tta == "none" else f"+{gained} / -{lost}"])
    held_out = int((~training).sum())
    print(f"\n{len(chosen)} images, {args.synsets} synsets; probe trained on {len(chosen) - held_out}, "
          f"scored on {held_out} (chance {1 / args.synsets:.3f})\n" + table(rows, [
              "encoder", "tta", "images/s (best round)", "speed vs none", "probe top-1",
              "held-out right vs none (+flip only / -none only)"]))
    payload["machine_end"] = print_machine("encoders bench, end")
    write_json(args.json, payload)


if __name__ == "__main__":
    main()
