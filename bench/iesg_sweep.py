"""Which IESG settings learn? Trains IESG under several objectives on the same data and prints,
per setting, the share of active hinges and the validation P@1 per epoch next to the L2 baseline.

    python bench/iesg_sweep.py --root .            # a checkout whose pipeline has run

The settings vary the knobs the paper leaves open (energy, lambda/margin, negatives, W_p init,
feature normalisation and centring, frozen vs learnable words, input or output vectors as e_c);
each one changes a single thing from the paper's setting or from the row it names ("...").
"start" is the validation P@1 of the L2 solution a setting starts from (on its own features).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import training_inputs  # noqa: E402  (also puts this checkout's pipeline first on sys.path)

import torch  # noqa: E402

from pipeline.models import l2  # noqa: E402
from pipeline.models.base import validation_p1  # noqa: E402
from pipeline.models.iesg import fit  # noqa: E402
from pipeline.models.params import PAPER_IESG  # noqa: E402

FROM_L2 = {"lam": 1.0, "negatives": 5, "init": "l2", "context_vectors": "output"}
NORMALIZED = {**FROM_L2, "normalize_features": True, "center_features": True}
SETTINGS = {
    # The paper's objective from a random W_p, and the knobs the issue names.
    "paper (dot, lambda 5, 1 negative, input e_c)": {},
    "paper + centred features": {"center_features": True},
    "paper + weight decay 0.01": {"weight_decay": 0.01},
    "paper + unit-norm, centred features": {"normalize_features": True, "center_features": True},
    "paper + unit-norm, centred, margin 0.1": {"normalize_features": True, "center_features": True, "margin": 0.1},
    "paper + unit-norm, centred, margin 10": {"normalize_features": True, "center_features": True, "margin": 10.0},
    "paper + unit-norm, centred, output e_c": {
        "normalize_features": True, "center_features": True, "context_vectors": "output"},
    "dot, lambda 1, 5 negatives": {"lam": 1.0, "negatives": 5},
    "cos, lambda 5, 5 negatives": {"energy": "cos", "negatives": 5},
    "cos, lambda 1, 5 negatives": {"energy": "cos", "lam": 1.0, "negatives": 5},
    # From the L2 solution: what keeps IESG from undoing it.
    "L2 start, dot, lambda 1, 5 negatives, output e_c": FROM_L2,
    "... lr 0.001": {**FROM_L2, "lr": 0.001},
    "... input e_c": {**FROM_L2, "context_vectors": "input"},
    "... unit-norm, centred features": NORMALIZED,
    "... unit-norm, centred, lr 0.001": {**NORMALIZED, "lr": 0.001},
    "... unit-norm, centred, lambda 5": {**NORMALIZED, "lam": 5.0},
    "... unit-norm, centred, cos": {**NORMALIZED, "energy": "cos"},
    "... unit-norm, centred, frozen words": {**NORMALIZED, "update_words": False},
    "... unit-norm, centred, 20 negatives": {**NORMALIZED, "negatives": 20},
    "... unit-norm, centred, input e_c": {**NORMALIZED, "context_vectors": "input"},
    "... unit-norm, centred, random start": {**NORMALIZED, "init": "normal"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".", help="checkout whose pipeline has run (its dvc.yaml paths)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--triples", type=int, default=60_000, help="triples per epoch (0: all, as the stage)")
    parser.add_argument("--ridge", type=float, default=l2.L2Params.ridge, help="ridge of the L2 solutions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="run only the settings whose name contains this")
    args = parser.parse_args()
    torch.set_num_threads(1)

    inputs = training_inputs(args.root)
    vectors, output_vectors, data, tokens, counts = (
        inputs.vectors, inputs.output_vectors, inputs.data, inputs.tokens, inputs.counts)
    for normalize in (False, True):
        solution = l2.fit(data, vectors.vectors, l2.L2Params(args.ridge, normalize, normalize))
        projected = solution.project(data.features)
        print(f"L2 baseline on {'unit-norm, centred' if normalize else 'raw'} features: val P@1 "
              f"dot {validation_p1(projected, vectors.vectors, data, 'dot'):.3f} "
              f"cos {validation_p1(projected, vectors.vectors, data, 'cos'):.3f}")
    print(f"{'setting':50s} {'start':6s} {'active hinges per epoch':24s} {'val P@1 per epoch':18s} seconds")
    for name, change in SETTINGS.items():
        if args.only and args.only not in name:
            continue
        params = replace(PAPER_IESG, epochs=args.epochs, max_triples_per_epoch=args.triples, init_ridge=args.ridge,
                         **change)
        start = "-"
        if params.init == "l2":
            solution = l2.fit(data, vectors.vectors,
                              l2.L2Params(args.ridge, params.normalize_features, params.center_features))
            start = f"{validation_p1(solution.project(data.features), vectors.vectors, data, params.energy):.3f}"
        started = time.perf_counter()
        log = fit(data, tokens, counts, vectors.vectors, output_vectors, params, args.seed).log
        active = " ".join(f"{e.active_share:6.1%}" for e in log)
        val = " ".join(f"{e.val_p1:.3f}" for e in log)
        print(f"{name:50s} {start:6s} {active:24s} {val:18s} {time.perf_counter() - started:5.0f}", flush=True)


if __name__ == "__main__":
    main()
