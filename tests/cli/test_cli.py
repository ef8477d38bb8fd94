"""The ``iesg`` console command on the tiny end-to-end run: every sub-command, text and JSON, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import TINY_ANIMALS, at, load_grounded_vectors, load_model_file, project
from pipeline.artifacts.headline import matching_p1, read_headline, validation_p1, write_headline
from pipeline.artifacts.features import read_features
from pipeline.artifacts.layout import ARTIFACTS, VECTORS_FILE
from pipeline.artifacts.model_dir import read_train_summary
from pipeline.artifacts.tables import read_images, read_links
from pipeline.artifacts.vectors import read_vectors
from pipeline.cli.app import main
from pipeline.cli.format import format_table
from pipeline.images.wordnet import SYSTEM_WORDNET

TEST_DATA = Path(__file__).parents[1] / "data"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """Run ``iesg argv`` in this process; return exit code, stdout, stderr."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_format_table_aligns_text_left_and_numbers_right():
    table = format_table(["name", "n", "score"], [["a", 5, 0.5], ["long name", 12345, 10.0]])
    assert table.splitlines() == [
        "name            n   score",
        "---------  ------  ------",
        "a               5   0.500",
        "long name  12,345  10.000",
    ]


def test_status_counts_every_stage_from_its_files(tiny_run, capsys):
    result = run_json(capsys, "status", "--root", str(tiny_run))
    rows = {row["artifact"]: row for row in result["artifacts"]}
    stages = [r["stage"] for r in result["artifacts"]]
    assert list(dict.fromkeys(stages)) == ["fetch_corpus", "pretrain", "map_images", "featurize", "train", "evaluate",
                                           "explore"]
    assert all(row["exists"] and row["problem"] is None and row["bytes"] > 0 for row in rows.values())
    assert rows["corpus"]["counts"] == {"tokens": 10_000, "distinct_words": 39, "lines": 50}
    assert rows["vectors"]["counts"] == {"vocab": 39, "dim": 8}
    assert rows["word2vec"]["counts"]["corpus_words"] == 10_000
    assert rows["images"]["counts"] == {"images": 32, "synsets": 8, "train": 16, "val": 8, "test": 8}
    assert rows["links"]["counts"] == {"links": 48, "words": 9, "images": 32}
    assert rows["unmapped"]["counts"] == {"images": 1}
    assert rows["features"]["counts"] == {"images": 32, "dim": 512, "encoder": "resnet18"}
    assert rows["iesg_model"]["counts"] == {"projection": "512x8", "words": "own"}
    assert rows["metrics"]["counts"] == {"test_pairs": 12, "words": 9, "images": 32}
    explorer = rows["explorer"]
    assert explorer["path"] == str(at(tiny_run, "explorer")) and explorer["counts"]["index_html"] is True
    assert explorer["counts"]["thumbnails"] == 32

    code, out, _ = run(capsys, "status", "--root", str(tiny_run))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["stage", "artifact", "size", "counts"]
    assert any(line.startswith("featurize") and "dim 512" in line and "kB" in line for line in lines)


def test_status_names_the_stage_to_run_for_missing_artifacts(tmp_path, capsys):
    result = run_json(capsys, "status", "--root", str(tmp_path))
    assert not any(row["exists"] for row in result["artifacts"])
    assert result["artifacts"][0]["problem"] == "missing; run: dvc repro fetch_corpus"
    code, out, _ = run(capsys, "status", "--root", str(tmp_path), "--corpus", str(TEST_DATA / "README.md"))
    assert code == 0 and "missing; run: dvc repro evaluate" in out and "tokens" in out


def top_words_recomputed(root: Path, model: str, image_id: str, k: int) -> list[tuple[str, float]]:
    """The k mapped words with the highest dot score for an image, from the saved artifacts."""
    ids, features = read_features(at(root, "features"))
    feature = features[ids.index(image_id)][None]
    projection, center, normalize, side = load_model_file(at(root, "models"), model)
    vectors = load_grounded_vectors(at(root, "models")) if side == "own" else read_vectors(at(root, "vectors"))
    words = sorted(read_links(at(root, "links"))["word"].unique())
    scores = vectors[words] @ project(feature, projection, center, normalize)[0]
    return [(words[i], float(scores[i])) for i in np.argsort(-scores, kind="stable")[:k]]


def test_words_of_an_image_id_by_iesg_and_l2(tiny_run, capsys):
    result = run_json(capsys, "words", "tiny/dog3.png", "--root", str(tiny_run), "-k", "4", "--compare", "iesg,l2",
                      "--score", "dot")
    assert result["query"] == {"image_id": "tiny/dog3.png", "path": f"{ARTIFACTS['image_files'].path}/dog/3.png",
                               "split": "test",
                               "linked_words": ["animal", "dog"]}
    assert result["candidates"] == 9 and result["score"] == "dot"
    for model in ("iesg", "l2"):
        top = result["top"][model]
        assert [t["rank"] for t in top] == [1, 2, 3, 4]
        expected = top_words_recomputed(tiny_run, model, "tiny/dog3.png", k=4)
        assert [t["word"] for t in top] == [word for word, _ in expected]
        np.testing.assert_allclose([t["score"] for t in top], [score for _, score in expected], atol=1e-4)
        assert all(t["linked"] == (t["word"] in ("animal", "dog")) for t in top)
    assert result["top"]["iesg"] != result["top"]["l2"]

    code, out, _ = run(capsys, "words", "tiny/dog3.png", "--root", str(tiny_run), "--score", "cos",
                       "--compare", "iesg,l2")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("image tiny/dog3.png (test split")
    assert "by cos score" in lines[1] and lines[2].split() == ["rank", "iesg", "score", "l2", "score"]
    assert len(lines) == 4 + 5


def test_words_of_an_image_file_featurizes_it_like_the_featurize_stage(tiny_run, tmp_path, capsys):
    models = ("--compare", "iesg,l2")
    by_id = run_json(capsys, "words", "tiny/horse0.png", "--root", str(tiny_run), *models)
    new_file = tmp_path / "horse.png"  # the same pixels outside the image files: an unknown file, featurized now
    shutil.copy(at(tiny_run, "image_files") / "horse/0.png", new_file)
    by_file = run_json(capsys, "words", str(new_file), "--root", str(tiny_run), *models)
    assert by_file["query"]["image_id"] is None
    mapped = f"{ARTIFACTS['image_files'].path}/horse/0.png"
    for mapped_file in (str(tiny_run / mapped), mapped):  # absolute, and relative to --root
        assert run_json(capsys, "words", mapped_file, "--root", str(tiny_run), *models) == by_id  # that image itself
    for model in ("iesg", "l2"):
        assert [t["word"] for t in by_file["top"][model]] == [t["word"] for t in by_id["top"][model]]
        np.testing.assert_allclose([t["score"] for t in by_file["top"][model]],
                                   [t["score"] for t in by_id["top"][model]], rtol=1e-3, atol=1e-3)

    code, out, _ = run(capsys, "words", str(TEST_DATA / "tuxpaint_zebra.png"), "--root", str(tiny_run), "-k", "2")
    assert code == 0 and out.startswith(f"image file {TEST_DATA / 'tuxpaint_zebra.png'} (featurized now)")
    assert len(out.splitlines()) == 4 + 2


def test_images_of_a_word(tiny_run, capsys):
    result = run_json(capsys, "images", "Dog", "--root", str(tiny_run), "--split", "test", "-k", "3",
                      "--model", "l2")
    assert result["word"] == "dog" and result["model"] == "l2" and result["candidates"] == 8
    assert result["linked_images"] == 1  # of the test split; 4 in all splits
    assert run_json(capsys, "images", "dog", "--root", str(tiny_run), "--model", "l2")["linked_images"] == 4
    assert len(result["top"]) == 3 and all(t["split"] == "test" for t in result["top"])
    images = read_images(at(tiny_run, "images")).set_index("image_id")["path"]
    for t in result["top"]:
        assert t["path"] == images[t["image_id"]] and t["linked"] == (t["image_id"] == "tiny/dog3.png")

    code, out, _ = run(capsys, "images", "animal", "--root", str(tiny_run), "--model", "iesg", "--score", "dot",
                       "--retrieval", "plain")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("'animal': top 5 of 32 images (all splits) by iesg, dot score; 16 images")
    assert lines[1].split() == ["rank", "image_id", "split", "score", "linked", "path"]
    assert len(lines) == 3 + 5


def test_neighbours_by_pretrained_and_iesg_vectors(tiny_run, capsys):
    result = run_json(capsys, "neighbours", "zebra", "--root", str(tiny_run), "-k", "3", "--model", "iesg")
    assert result["word"] == "zebra" and result["linked_images"] == 4
    pretrained = read_vectors(at(tiny_run, "vectors"))["zebra"]
    grounded = load_grounded_vectors(at(tiny_run, "models"))["zebra"]
    cosine = pretrained @ grounded / np.linalg.norm(pretrained) / np.linalg.norm(grounded)
    assert result["cosine_pretrained_grounded"] == pytest.approx(cosine, abs=1e-4) and cosine < 0.99  # IESG moved it
    for side in ("pretrained", "iesg"):
        neighbours = result["neighbours"][side]
        assert [n["rank"] for n in neighbours] == [1, 2, 3] and "zebra" not in {n["word"] for n in neighbours}

    code, out, _ = run(capsys, "neighbours", "zebra", "--root", str(tiny_run), "--model", "iesg")
    lines = out.splitlines()
    assert code == 0 and "cosine between its pretrained and iesg vectors" in lines[0]
    assert lines[1].split() == ["rank", "pretrained", "cosine", "iesg", "cosine"] and len(lines) == 3 + 10


@pytest.mark.skipif(not (SYSTEM_WORDNET / "data.noun").is_file(), reason="no system WordNet (wordnet-base)")
def test_synsets_hyponyms_and_images_of_a_word(tiny_run, capsys):
    result = run_json(capsys, "synsets", "animal", "--root", str(tiny_run), "-k", "20")
    assert result["word"] == "animal" and result["linked_images"] == 16
    (animal,) = result["synsets"]
    assert animal["synset"] == "animal.n.01" and animal["wnid"] == "n00015388"
    assert animal["image_synsets"] == 4 and animal["images"] == 16 and len(animal["image_list"]) == 16
    assert {i["synset"] for i in animal["image_list"]} == {f"{a}.n.01" for a in TINY_ANIMALS}
    assert animal["hyponyms"] > 20 and len(animal["hyponym_names"]) == 20

    dog = run_json(capsys, "synsets", "dog", "--root", str(tiny_run))
    by_name = {s["synset"]: s for s in dog["synsets"]}
    assert "dog.n.01" in by_name and by_name["dog.n.01"]["images"] == 4
    assert "poodle.n.01" not in by_name  # only synsets the word is a lemma of
    assert sum(s["images"] for s in dog["synsets"]) == 4

    code, out, _ = run(capsys, "synsets", "dog", "--root", str(tiny_run), "-k", "2")
    assert code == 0 and out.startswith("'dog': 7 noun synsets in WordNet 3.0; 4 images linked")
    assert "\ndog.n.01      n02084071        18" in out and "hyponyms of dog.n.01: " in out and "(+16 more)" in out
    assert "dog.n.01  tiny/dog0.png  dog.n.01      train  *" in out


def test_report_is_redrawn_with_the_dvc_plots(tiny_run, tmp_path, capsys):
    result = run_json(capsys, "report", "--root", str(tiny_run), "--out", str(tmp_path / "report"))
    index = Path(result["index"])
    assert index == tmp_path / "report" / "index.html" and result["url"].startswith("file://")
    page = index.read_text(encoding="utf-8")
    assert page == (at(tiny_run, "report") / "index.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 5 and "Training loss per epoch (dvclive)" in page


def test_the_console_script_is_installed_and_runs(tiny_run):
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "iesg"]
    assert script.value == "pipeline.cli.app:main"
    executable = shutil.which("iesg")
    assert executable, "the iesg command is not on PATH; install the project: pip install -e ."
    result = subprocess.run([executable, "neighbours", "cat", "--root", str(tiny_run), "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["word"] == "cat"
    module = subprocess.run([sys.executable, "-m", "pipeline.cli.app", "words", "tiny/nope.png", "--root", str(tiny_run)],
                            capture_output=True, text=True)
    assert module.returncode == 2 and module.stderr.startswith("error: 'tiny/nope.png': ")


def test_a_reader_that_stops_early_gets_no_traceback(tiny_run):
    """`iesg status | head -1`: the pipe closes before iesg writes; it exits quietly."""
    command = subprocess.Popen([sys.executable, "-m", "pipeline.cli.app", "status", "--root", str(tiny_run)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    command.stdout.close()  # before the interpreter has even imported the CLI
    stderr = command.stderr.read().decode()
    assert command.wait() == 1
    assert stderr == ""


@pytest.mark.parametrize("argv, message", [
    (["neighbours", "zebar"], "error: 'zebar': not in the vocabulary of {root}/{vectors}; "
                              "close matches: zebra"),
    (["images", "dgo", "--model", "iesg"], "error: 'dgo': not in the vocabulary of {root}/{models}/iesg/{vectors_file}; "
                        "close matches: dog"),
    (["images", "dog", "--model", "clip"], "error: 'clip': not a model of train.models in {root}/params.yaml "
                                           "(l2, devise, iesg, contrastive, joint); no close match"),
    (["neighbours", "dog", "--model", "l2"], "error: {root}/{models}/l2/{vectors_file}: model 'l2' learns no word "
                                             "vectors; models that do: iesg"),
    (["words", "tiny/dgo3.png"], "error: 'tiny/dgo3.png': neither an image id in {root}/{features} "
                                 "nor an image file; close matches: tiny/dog3.png"),
    (["words", str(TEST_DATA / "README.md")], "error: {data}/README.md: cannot read it as an image"),
    (["words", "tiny/dog3.png", "--features", "nowhere.h5"],
     "error: {root}/nowhere.h5: file not found; run the featurize stage"),
    (["neighbours", "dog", "--vectors", str(TEST_DATA / "README.md")],
     "error: {data}/README.md: not loadable as gensim KeyedVectors"),
    (["report", "--report", "data"], "error: {root}/data/examples.json: cannot read the report's data"),
    (["report", "--dvc-yaml", "none.yaml"], "error: {root}/none.yaml: not found; give the project's dvc.yaml"),
])
def test_bad_input_is_one_error_line_with_exit_code_2(tiny_run, capsys, argv, message):
    code, out, err = run(capsys, *argv, "--root", str(tiny_run))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    paths = {name: ARTIFACTS[name].path for name in ("vectors", "models", "features")}
    assert err.startswith(message.format(root=tiny_run, data=TEST_DATA, vectors_file=VECTORS_FILE, **paths))


@pytest.mark.skipif(not (SYSTEM_WORDNET / "data.noun").is_file(), reason="no system WordNet (wordnet-base)")
def test_synsets_of_a_non_noun_suggests_nouns(tiny_run, capsys):
    code, _, err = run(capsys, "synsets", "dgo", "--root", str(tiny_run))
    assert code == 2 and err.startswith("error: 'dgo': not a noun (lemma) of WordNet 3.0; close matches: ")
    assert "dog" in err or "dago" in err


def test_words_refuses_an_encoder_other_than_the_features_one(tiny_run, tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text((tiny_run / "params.yaml").read_text().replace("resnet18", "resnet34"))
    code, _, err = run(capsys, "words", str(TEST_DATA / "tuxpaint_zebra.png"), "--root", str(tiny_run),
                       "--params", str(params))
    assert code == 2
    assert "features.encoder/weights/tta are resnet34/none/none but" in err and "made with resnet18/none/none" in err


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: COMMAND"),
    (["look"], "invalid choice: 'look'"),
    (["words"], "the following arguments are required: IMAGE"),
    (["images", "dog", "-k", "0"], "argument -k/--top: must be >= 1, got 0"),
    (["images", "dog", "-k", "many"], "argument -k/--top: invalid positive_int value: 'many'"),
    (["neighbours", "dog", "--features", "x.h5"], "unrecognized arguments: --features x.h5"),
    (["words", "x.png", "--model", "iesg"], "unrecognized arguments: --model iesg"),  # not --models
])
def test_bad_arguments_are_usage_errors(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("usage: iesg") and message in err.strip().splitlines()[-1]


def test_the_defaults_are_the_best_model_by_the_headline_score_and_say_so(tiny_run, capsys, tmp_path):
    val_p1 = {name: read_train_summary(at(tiny_run, "model", name))["val_p1"]
              for name in ("l2", "devise", "iesg", "contrastive", "joint")}
    best = max(val_p1, key=val_p1.get)
    chosen = f"{best} (best validation P@1 {val_p1[best]:.3f})"
    images = run_json(capsys, "images", "dog", "--root", str(tiny_run))
    # the best model, the headline score and evaluate.retrieval's word -> image default
    assert (images["model"], images["score"], images["retrieval"]) == (best, "cos", "inverted_softmax")
    assert images == run_json(capsys, "images", "dog", "--root", str(tiny_run), "--model", best, "--score", "cos") | {
        "chosen": f"best validation P@1 {val_p1[best]:.3f}"}
    code, out, _ = run(capsys, "images", "dog", "--root", str(tiny_run))
    assert code == 0 and out.startswith(
        f"'dog': top 5 of 32 images (all splits) by {chosen}, cos score with inverted_softmax retrieval; ")
    words = run_json(capsys, "words", "tiny/dog3.png", "--root", str(tiny_run))
    assert list(words["top"]) == list(dict.fromkeys([best, "l2"])) and words["score"] == "cos"
    reference = next(name for name in val_p1 if name != best)
    params = yaml.safe_load((tiny_run / "params.yaml").read_text())
    params["evaluate"]["reference_model"] = reference
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    words = run_json(capsys, "words", "tiny/dog3.png", "--root", str(tiny_run),
                     "--params", str(tmp_path / "params.yaml"))
    assert list(words["top"]) == [best, reference]  # evaluate.reference_model beside the best
    code, out, _ = run(capsys, "words", "tiny/dog3.png", "--root", str(tiny_run))
    assert out.splitlines()[1].endswith(f"; {best}: best validation P@1 {val_p1[best]:.3f}")


def test_a_phrase_is_the_mean_of_its_words(tiny_run, capsys):
    result = run_json(capsys, "images", "dog cat", "--root", str(tiny_run), "--model", "iesg", "--split", "test")
    assert result["word"] == "dog cat" and result["words"] == ["dog", "cat"] and result["linked_images"] == 2
    code, out, _ = run(capsys, "neighbours", "dog cat", "--root", str(tiny_run), "--model", "iesg", "-k", "3")
    assert code == 0 and out.startswith("'dog cat': 8 linked images; ")


def test_close_matches_come_from_the_vocabulary_the_message_names(tiny_run, capsys):
    """w12 is a corpus word with no image: a misspelling of it is matched in the model's whole vocabulary."""
    code, _, err = run(capsys, "images", "w12x", "--root", str(tiny_run), "--model", "iesg")
    assert code == 2 and err.startswith(f"error: 'w12x': not in the vocabulary of {at(tiny_run, 'model', 'iesg') / VECTORS_FILE};")
    assert "close matches: w12" in err


def test_compare_the_workspace_fits_120_columns(tiny_run, capsys):
    headline = read_headline(at(tiny_run, "headline"))
    test_p1, val_p1 = matching_p1(headline), validation_p1(headline)
    result = run_json(capsys, "compare", "--workspace", "--root", str(tiny_run))
    (row,) = result["rows"]
    assert row["experiment"] == "workspace" and row["score"] == "cos" and row["test_p1"] == test_p1
    assert row["best"] == max(val_p1, key=val_p1.get)
    code, out, _ = run(capsys, "compare", "--workspace", "--root", str(tiny_run))
    lines = out.splitlines()
    assert code == 0 and all(len(line) <= 120 for line in lines)
    assert lines[2].split() == ["experiment", "score", "l2", "devise", "iesg", "contrastive", "joint"]
    i2w, w2i = headline["iesg"]["i2w_p1"], headline["iesg"]["w2i_p1"]
    assert lines[4].split()[:2] == ["workspace", "cos"] and f"{i2w:.3f} {w2i:.3f}" in lines[4]


def _git(root: Path, *argv: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *argv], cwd=root, check=True, capture_output=True, env={**os.environ, **env})


def test_compare_lists_commits_and_the_workspace_from_dvc(tmp_path, capsys):
    nine = ["l2", "devise", "iesg", "iesg_paper", "contrastive", "contrastive_frozen", "joint", "model_eight",
            "model_nine"]  # wider than 120 columns in one table

    def metrics(shift: float) -> dict:
        return {m: {"i2w_p1": round(0.1 * i + shift, 4), "w2i_p1": round(0.1 * i + shift, 4),
                    "val_p1": 0.6 if m == "contrastive" else 0.5} for i, m in enumerate(nine)} | {
                "pretrained": {"ws353_sim": 0.7}}

    write_headline(at(tmp_path, "headline"), metrics(0.0))  # as evaluate writes it
    (tmp_path / "params.yaml").write_text(f"train: {{models: [{', '.join(nine)}]}}\nevaluate: {{headline_score: dot}}\n")
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - metrics\n")
    _git(tmp_path, "init", "-q", "-b", "trunk")
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "first")
    write_headline(at(tmp_path, "headline"), metrics(0.05))

    rows = run_json(capsys, "compare", "--root", str(tmp_path))["rows"]
    assert [r["experiment"] for r in rows] == ["workspace", "trunk"]
    assert [r["test_p1"]["word_to_image"]["joint"] for r in rows] == [0.65, 0.6]
    assert all(r["score"] == "dot" and r["best"] == "contrastive" for r in rows)
    code, out, _ = run(capsys, "compare", "--root", str(tmp_path))
    lines = out.splitlines()
    assert code == 0 and all(len(line) <= 120 for line in lines), out
    headers = [line.split() for line in lines if line.startswith("experiment")]
    assert len(headers) == 2 and [m for h in headers for m in h if m not in ("experiment", "score")] == nine
    assert "0.450 0.450*" in out and "0.400 0.400*" in out  # contrastive, the best val P@1, in both rows


def test_compare_outside_a_dvc_project_is_one_error(tmp_path, capsys):
    code, out, err = run(capsys, "compare", "--root", str(tmp_path))
    assert code == 2 and out == "" and err.startswith(f"error: {tmp_path}: dvc exp show failed (")
    code, out, err = run(capsys, "compare", "--workspace", "--root", str(tmp_path))
    assert code == 2 and err.startswith(f"error: {tmp_path}/metrics: cannot read the headline metrics")
