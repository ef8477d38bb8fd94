"""The results tables' "better" rule and the seeds summary on tiny fake evaluate details."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tables = bench_module("results_tables")
seeds = bench_module("seeds")


@pytest.mark.parametrize("entry, seed_std, better", [
    ({"diff": 0.05, "ci": [0.02, 0.08]}, None, True),     # interval excludes 0, no seed spread known
    ({"diff": 0.05, "ci": [-0.01, 0.11]}, None, False),   # interval holds 0
    ({"diff": 0.05, "ci": [0.02, 0.08]}, 0.02, True),     # 0.05 > 2 x 0.02
    ({"diff": 0.05, "ci": [0.02, 0.08]}, 0.03, False),    # 0.05 < 2 x 0.03: within seed noise
    ({"diff": -0.05, "ci": [-0.08, -0.02]}, 0.02, True),  # worse counts the same way
    ({"diff": 0.05, "ci": [-0.01, 0.11]}, 0.001, False),  # both conditions are needed
])
def test_better_needs_the_interval_and_twice_the_seed_std(entry, seed_std, better):
    assert tables.is_better(entry, seed_std) is better
    assert tables.difference(entry, 100, 1, seed_std).startswith("**") is better


def fake_run(p1: float, diff: float) -> dict:
    cell = {"p1": p1, "vs_l2": {"p1": {"diff": diff, "ci": [diff - 0.01, diff + 0.01]}}}
    return {"matching": {"contrastive": {"image_to_word": {"dot": cell}}}}


def test_seed_summary_is_the_mean_and_sample_std_over_runs():
    summary = seeds.summarise([fake_run(0.5, 0.1), fake_run(0.7, 0.3), fake_run(0.6, 0.2)], "l2")
    cell = summary["contrastive"]["image_to_word"]["dot"]
    assert cell["p1"]["mean"] == pytest.approx(0.6) and cell["p1"]["std"] == pytest.approx(0.1)
    assert cell["diff_p1"]["mean"] == pytest.approx(0.2) and cell["diff_p1"]["std"] == pytest.approx(0.1)
    assert tables.seed_cell(cell, "p1") == " (60.0 ± 10.0 over seeds)"


def test_a_partial_sweep_keeps_the_earlier_entries_of_the_models_it_did_not_train():
    new = seeds.summarise([fake_run(0.5, 0.1), fake_run(0.7, 0.3)], "l2")
    earlier = {"seeds": [0, 1], "overrides": ["train.models=[l2,devise]"], "reference": "l2",
               "matching": {"devise": {"image_to_word": {"cos": {"p1": {"mean": 0.4, "std": 0.01}}}},
                            **{model: {"stale": True} for model in new}}}
    merged = seeds.with_kept_models({"seeds": [0, 1], "matching": new}, earlier, "old.json")
    assert merged["matching"] == {**new, "devise": earlier["matching"]["devise"]}
    assert merged["kept_from"] == {"file": "old.json", "models": ["devise"], "overrides": ["train.models=[l2,devise]"]}
