"""dvc.yaml as DVC runs it: every stage depends on every project module its script imports and the package
files those read."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

if __name__ == "__main__":  # run as a script (rewriting stages/model_code): the tests' shared modules
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import TINY_MODELS
from pipeline.artifacts.layout import ARTIFACTS
from pipeline.models.registry import REGISTRY

REPO = Path(__file__).resolve().parents[2]
MODEL_CODE = REPO / "stages" / "model_code"


def stage_definitions() -> dict[str, dict]:
    """Stage name -> definition; a ``foreach`` stage contributes its ``do`` template."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def module_file(name: str) -> Path | None:
    path = REPO / Path(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def project_imports(path: Path) -> set[Path]:
    """Files of the ``pipeline`` modules (and the packages above them) that ``path`` imports anywhere."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    files = set()
    for name in (n for n in names if n.split(".")[0] == "pipeline"):
        parts = name.split(".")
        files.update(f for f in (module_file(".".join(parts[:i])) for i in range(1, len(parts) + 1)) if f)
    return files


def import_closure(script: Path) -> set[Path]:
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(project_imports(path))
    return seen


def package_data(module: Path) -> set[Path]:
    """Folders of a ``pipeline`` package that a module reads files from: ``PackageLoader("pipeline.x", DIR)``
    (jinja2 templates) and ``resources.files("pipeline.x") / "A" / "B"``."""
    source = module.read_text()
    folders = {REPO / Path(*package.split(".")) / d
               for package, d in re.findall(r'PackageLoader\("(pipeline[\w.]*)", "([^"]+)"\)', source)}
    for package, chain in re.findall(r'resources\.files\("(pipeline[\w.]*)"\)((?:\s*/\s*"[^"]+")+)', source):
        folders.add(REPO / Path(*package.split(".")) / Path(*re.findall(r'"([^"]+)"', chain)))
    return folders


@pytest.mark.parametrize("stage", sorted(stage_definitions()))
def test_stage_code_deps_are_the_modules_its_script_imports_and_the_files_they_read(stage):
    definition = stage_definitions()[stage]
    (script,) = re.findall(r"python3? (stages/\w+\.py)", definition["cmd"])
    deps = [REPO / dep for dep in definition["deps"]]
    needed = import_closure(REPO / script)
    needed |= {folder for module in needed for folder in package_data(module)}
    missing = sorted(str(path.relative_to(REPO)) for path in needed
                     if not any(path == dep or dep in path.parents for dep in deps))
    assert not missing, f"dvc.yaml stage {stage} lacks deps on {', '.join(missing)}"
    unused = sorted(str(dep.relative_to(REPO)) for dep in deps
                    if dep.parts[len(REPO.parts)] in ("pipeline", "stages") and dep.name != "${item}"
                    and not any(path == dep or dep in path.parents for path in needed))
    assert not unused, f"dvc.yaml stage {stage} depends on code its script does not import: {', '.join(unused)}"


def test_package_data_is_found_where_modules_read_it():
    assert package_data(REPO / "pipeline/evaluation/report.py") == {REPO / "pipeline/evaluation/templates"}
    assert package_data(REPO / "pipeline/evaluation/similarity.py") == {REPO / "pipeline/evaluation/resources/word_similarity"}


def test_the_closure_follows_imports_made_inside_functions():
    """The iesg CLI imports the encoders inside a command; the closure must still reach them."""
    closure = {str(p.relative_to(REPO)) for p in import_closure(REPO / "pipeline/cli/app.py")}
    assert {"pipeline/features/encoders.py", "pipeline/features/_torchvision.py", "pipeline/images/wordnet.py"} <= closure


def model_code(name: str) -> dict[str, str]:
    """What ``stages/model_code/<name>/`` must hold: a relative link to every module of model ``name``'s import
    closure that the train script does not import itself (those are train's own deps in dvc.yaml), named by
    its path with dots (``pipeline.models.l2.py``)."""
    module = REPO / Path(*REGISTRY[name].module.split(".")).with_suffix(".py")
    own = import_closure(module) - import_closure(REPO / "stages/train.py")
    return {".".join(path.relative_to(REPO).parts): os.path.relpath(path, MODEL_CODE / name) for path in own}


def write_model_code() -> None:
    """Rewrite ``stages/model_code`` from the registry and the modules' imports."""
    shutil.rmtree(MODEL_CODE, ignore_errors=True)
    for name in REGISTRY:
        (MODEL_CODE / name).mkdir(parents=True)
        for link, target in model_code(name).items():
            (MODEL_CODE / name / link).symlink_to(target)


# mutmut copies stages/ following links: its copy of stages/model_code holds files, not links to its mutants.
needs_links = pytest.mark.skipif("MUTANT_UNDER_TEST" in os.environ and not any(
    path.is_symlink() for path in MODEL_CODE.rglob("*.py")), reason="links copied as files (mutmut's copy)")


@needs_links
def test_each_models_code_links_are_the_modules_it_imports_beyond_the_train_script():
    found = {folder.name: {link.name: os.readlink(link) for link in folder.iterdir()}
             for folder in MODEL_CODE.iterdir()}
    assert found == {name: model_code(name) for name in REGISTRY}, "run python tests/stages/test_dvc.py to rewrite them"
    assert all((MODEL_CODE / name / link).resolve().is_file() for name in REGISTRY for link in found[name])
    assert "stages/model_code/${item}" in stage_definitions()["train"]["deps"]


def test_a_models_code_is_its_own_module_and_those_it_imports():
    assert set(model_code("l2")) == {"pipeline.models.l2.py"}
    assert set(model_code("contrastive_frozen")) == {"pipeline.models.contrastive.py", "pipeline.models.l2.py"}
    assert set(model_code("joint")) == {"pipeline.models.joint.py", "pipeline.models.contrastive.py",
                                        "pipeline.models.l2.py", "pipeline.models.corpus_sampling.py"}


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t",
                                 "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dvc_project(tiny_run, tmp_path_factory) -> Path:
    """The tiny run as a git + DVC project whose dvc.lock records the outputs already there.

    The stages before featurize did not run in the tiny run (their outputs were written by the test):
    they are removed from this copy's dvc.yaml and their outputs tracked with ``dvc add`` instead, so
    that an experiment's workspace (a fresh checkout) gets them from the cache.
    """
    root = tmp_path_factory.mktemp("dvc_project")
    shutil.copytree(tiny_run, root, dirs_exist_ok=True)
    document = yaml.safe_load((root / "dvc.yaml").read_text())
    for stage in ("fetch_corpus", "pretrain", "map_images"):
        del document["stages"][stage]
    code = ("pipeline/", "stages/")
    document["stages"]["featurize"]["deps"] = [
        dep for dep in document["stages"]["featurize"]["deps"] if not dep.startswith(code)]
    for stage in ("check_params", "train", "evaluate", "explore"):
        definition = document["stages"][stage].get("do", document["stages"][stage])
        definition["deps"] = [dep for dep in definition["deps"] if not dep.startswith(code)]
        definition["cmd"] = definition["cmd"].replace("python stages/", f"{sys.executable} {REPO}/stages/")
    document["stages"]["featurize"]["cmd"] = document["stages"]["featurize"]["cmd"].replace(
        "python stages/", f"{sys.executable} {REPO}/stages/")
    (root / "dvc.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    added = [str(Path(ARTIFACTS["corpus"].path).parent), ARTIFACTS["word2vec_dir"].path,
             str(Path(ARTIFACTS["images"].path).parent), ARTIFACTS["image_files"].path]
    run(["dvc", "add", "-q", *added], root)
    run([sys.executable, str(REPO / "stages/check_params.py"), "--stamp", ARTIFACTS["params_check"].path], root)
    run(["dvc", "commit", "-f", "-q"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "tiny run"], root)
    return root


def test_a_model_params_change_reruns_only_that_model_evaluate_and_explore(dvc_project):
    assert json.loads(run(["dvc", "status", "--json"], dvc_project).stdout) == {}
    params = dvc_project / "params.yaml"
    original = params.read_text()
    try:
        document = yaml.safe_load(original)
        document["train"]["iesg"]["epochs"] = 1
        params.write_text(yaml.safe_dump(document))
        assert list(json.loads(run(["dvc", "status", "--json"], dvc_project).stdout)) == ["check_params", "train@iesg"]
        ran = re.findall(r"Running stage '([^']+)'", run(["dvc", "repro"], dvc_project).stdout)
        assert ran == ["check_params", "train@iesg", "evaluate", "explore"]
    finally:
        params.write_text(original)
        run(["git", "checkout", "--", "."], dvc_project)


def test_a_fresh_clone_pulls_every_output_from_a_shared_remote_and_has_nothing_to_run(dvc_project, tmp_path):
    """Push to a local-directory remote, clone, `dvc pull`: the clone's outputs are the pushed ones, `dvc status`
    is clean and `dvc repro` runs no stage (how a team shares artifacts whose bits differ across machines)."""
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "--local", "-f", "shared", str(remote)], dvc_project)
    run(["dvc", "push", "-q", "-r", "shared"], dvc_project)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(dvc_project), str(clone)], tmp_path)
    run(["dvc", "remote", "add", "--local", "shared", str(remote)], clone)
    run(["dvc", "pull", "-q", "-r", "shared"], clone)
    assert json.loads(run(["dvc", "status", "--json"], clone).stdout) == {}
    assert "Running stage" not in run(["dvc", "repro"], clone).stdout
    features = ARTIFACTS["features"].path
    assert (clone / features).read_bytes() == (dvc_project / features).read_bytes()


def test_a_queued_two_experiment_sweep_lists_both_results(dvc_project):
    for lr in ("0.02", "0.2"):
        run(["dvc", "exp", "run", "--queue", "-S", f"train.iesg.lr={lr}", "-S", "train.iesg.epochs=1"], dvc_project)
    run(["dvc", "queue", "start", "-j", "2"], dvc_project)
    deadline = time.monotonic() + 600
    while True:
        status = run(["dvc", "queue", "status"], dvc_project).stdout
        if "Queued" not in status and "Running" not in status:
            break
        assert time.monotonic() < deadline, status
        time.sleep(3)
    assert status.count("Success") == 2, status
    experiments = json.loads(run(["dvc", "exp", "show", "--json"], dvc_project).stdout)
    found = {}
    for commit in experiments:
        for experiment in commit.get("experiments") or []:
            for revision in experiment["revs"]:
                data = revision["data"]
                lr = data["params"]["params.yaml"]["data"]["train"]["iesg"]["lr"]
                found[lr] = {Path(key).stem: entry["data"] for key, entry in data["metrics"].items()
                             if Path(key).parent == Path(ARTIFACTS["headline"].path)}  # one file per model
    assert set(found) == {0.02, 0.2}
    assert all(set(TINY_MODELS) <= set(files) and all("i2w_p1" in files[m] for m in TINY_MODELS)
               for files in found.values())


def _interpolated(path: str, item: str | None) -> str:
    """``path`` as dvc.yaml means it: ``${paths.<name>}`` is that artifact's path, ``${item}`` the foreach item."""
    return re.sub(r"\$\{(item|paths\.(\w+))\}",
                  lambda m: str(item) if m.group(1) == "item" else ARTIFACTS[m.group(2)].path, path)


def _placeholder(root: Path, path: str) -> None:
    """A file at ``path`` (a name with a suffix) or a folder holding one file: something to hash."""
    target = root / path
    if target.exists():
        return
    if target.suffix:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path)
    else:
        target.mkdir(parents=True)
        (target / "placeholder").write_text(path)


@needs_links
def test_editing_one_models_module_makes_only_the_stages_that_run_it_stale(tmp_path):
    """The real dvc.yaml with every registered model in train.models, its data deps and outs as placeholders
    committed to dvc.lock: after contrastive.py changes, exactly the stages whose code it is are stale."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "pipeline", root / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "stages", root / "stages", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["models"] = list(REGISTRY)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for name, stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        items = params["train"]["models"] if "foreach" in stage else [None]
        definition = stage.get("do", stage)
        for item in items:
            for entry in [*definition["deps"], *definition.get("outs", []), *definition.get("metrics", [])]:
                path = entry if isinstance(entry, str) else next(iter(entry))
                if not path.startswith(("pipeline", "stages")):
                    _placeholder(root, _interpolated(path, item))
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "commit", "-f", "-q"], root)
    assert json.loads(run(["dvc", "status", "--json"], root).stdout) == {}
    module = root / "pipeline/models/contrastive.py"
    module.write_text(module.read_text() + "\n# an edit\n")
    stale = set(json.loads(run(["dvc", "status", "--json"], root).stdout))
    assert stale == {"train@contrastive", "train@contrastive_frozen", "train@joint", "evaluate", "explore"}


if __name__ == "__main__":
    write_model_code()
