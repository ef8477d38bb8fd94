"""The README and docs/ kept true: params keys both ways, artifact paths, `iesg` commands run on the tiny
pipeline, and generated tables equal to what docs/generate.py writes from the committed metrics."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "docs"))
import generate  # noqa: E402  (docs/generate.py)
from pipeline.cli.app import main  # noqa: E402

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
# Marks the next code block as recorded on a run the tests cannot build (the paper-scale data).
NOT_RUN = "<!-- recorded on the paper-scale run -->"
EXPECTED_ERROR = "# expected error"
COMMANDS = ("status", "words", "images", "neighbours", "synsets", "report", "compare")
PATH_ROOTS = ("data/", "results/", "metrics/", "plots/", "dvclive/", "bench/", "stages/", "pipeline/", "docs/",
              "tests/", ".dvc/", ".ci/")


def documents_text() -> dict[str, str]:
    return {str(path.relative_to(REPO)): path.read_text() for path in DOCUMENTS}


def code_blocks(text: str, language: str | None = None) -> list[tuple[str, bool]]:
    """Each fenced block's body (of ``language`` only, when given), and whether the tests run its commands (not
    when NOT_RUN precedes it)."""
    return [(match[2], not text[:match.start()].rstrip().endswith(NOT_RUN)) for match in FENCE.finditer(text)
            if language is None or match[1].strip() == language]


def documented_param_names(text: str) -> set[str]:
    """Dotted names in backticks that start with a params.yaml section (`train.iesg.lr`, `evaluate.retrieval`);
    a ``-S key=value`` override names its key."""
    names = set(re.findall(r"`(?:-S '?)?((?:%s)\.[A-Za-z_][\w.]*?)(?:[=:`' ]|$)" % "|".join(PARAMS), text))
    return {name.rstrip(".") for name in names if not re.search(r"\.(json|py|h5|csv|kv|npz|md|txt|html|tsv)$", name)}


def param_exists(name: str) -> bool:
    node = PARAMS
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_key_of_params_yaml_is_documented_with_what_it_does():
    reference = (REPO / "docs/stages-and-parameters.md").read_text()
    rows = dict(re.findall(r"^\| `([\w.]+)` \| `[^`]*` \| (.*) \|$", reference, re.M))
    keys = generate.leaf_keys(PARAMS)
    assert sorted(set(keys) - set(rows)) == [], "run python docs/generate.py"
    assert [key for key in keys if not rows[key].strip()] == [], "give these keys a comment in params.yaml"


def test_every_params_key_named_in_the_docs_exists():
    named = {(document, name) for document, text in documents_text().items() for name in documented_param_names(text)}
    assert len(named) > 20
    assert sorted((document, name) for document, name in named if not param_exists(name)) == []


def test_params_yaml_sections_point_to_existing_docs_sections():
    pointers = re.findall(r"^(\w+):\s+# (docs/[\w-]+\.md)#([\w-]+)", (REPO / "params.yaml").read_text(), re.M)
    assert {section for section, _, _ in pointers} == set(PARAMS)
    for _, document, anchor in pointers:
        headings = re.findall(r"^#+ (.+)$", (REPO / document).read_text(), re.M)
        assert anchor in {slug(heading) for heading in headings}, f"{document}#{anchor}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def dvc_paths() -> list[str]:
    """Every path dvc.yaml names (vars resolved; a per-model path with ``*``)."""
    document = yaml.safe_load((REPO / "dvc.yaml").read_text())
    (paths,) = [entry["paths"] for entry in document["vars"] if "paths" in entry]
    text = (REPO / "dvc.yaml").read_text()
    found = set(paths.values())
    for value in re.findall(r"^\s+- (?:\$\{paths\.(\w+)\}|([\w./${}-]+))", text, re.M):
        found.add(paths[value[0]] if value[0] else value[1])
    return [re.sub(r"\$\{[^}]+\}", "*", path) for path in found]


def named_paths(text: str) -> set[str]:
    """Paths under a project folder in backticks, or as a word of a code block (a command's argument, a
    transcript's output); ``{a,b}`` expanded, ``<x>`` as a wildcard."""
    found = set()
    words = [word.strip("'\"") for body, _ in code_blocks(text) for word in body.split()]
    for raw in re.findall(r"`([^`\s]+)`", text) + words:
        raw = raw.rstrip(".,:;)")
        if not raw.startswith(PATH_ROOTS) or "=" in raw or "|" in raw:
            continue
        brace = re.search(r"\{([^}]*)\}", raw)
        options = [raw[:brace.start()] + option + raw[brace.end():] for option in brace[1].split(",")] if brace else [raw]
        found.update(re.sub(r"<[^>]+>", "*", option) for option in options)
    return found


def path_exists(path: str, outs: list[str]) -> bool:
    """In the repository, among dvc.yaml's paths (or under one), or a file the project builds that git ignores
    (``.dvc/offline_plots.html``)."""
    path = path.rstrip("/")
    if "*" not in path and ((REPO / path).exists() or not path.startswith("data/") and subprocess.run(
            ["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0):
        return True
    if any(fnmatch(path, out) or fnmatch(path, out + "/*") or path.startswith(out.rstrip("*") + "/")
           for out in outs):
        return True
    return bool(list(REPO.glob(path))) if "*" in path else False


def test_every_artifact_path_named_in_the_docs_exists_in_dvc_yaml_or_the_repository():
    outs = dvc_paths()
    named = {(document, path) for document, text in documents_text().items() for path in named_paths(text)}
    assert len(named) > 20
    assert sorted((document, path) for document, path in named if not path_exists(path, outs)) == []


def iesg_commands() -> list[tuple[str, str, str | None]]:
    """(document, command, expected error line) for every `iesg` command in a code block the tests run: a
    ``$ iesg ...`` transcript line or a line of a bash block; a command marked ``# expected error`` must fail
    with the block's next line that starts with ``error:``."""
    commands = []
    for document, text in documents_text().items():
        for body, runs in code_blocks(text):
            lines = body.splitlines()
            for index, line in enumerate(lines):
                match = re.match(r"^(?:\$ )?(iesg (?:%s)\b[^#]*?)\s*(#.*)?$" % "|".join(COMMANDS), line)
                if not match or not runs:
                    continue
                expected = None
                if match[2] and match[2].startswith(EXPECTED_ERROR):
                    expected = next(later for later in lines[index + 1:] if later.startswith("error:"))
                commands.append((document, match[1], expected))
    return commands


def test_the_docs_show_iesg_commands():
    assert len(iesg_commands()) >= 10


@pytest.fixture(scope="module")
def docs_run(tiny_run, tmp_path_factory) -> Path:
    """The tiny run as a git + DVC project (``iesg compare`` reads `dvc exp show`)."""
    root = tmp_path_factory.mktemp("docs_run")
    shutil.copytree(tiny_run, root, dirs_exist_ok=True)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "t"]):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return root


@pytest.mark.parametrize("document,command,expected", iesg_commands(),
                         ids=[f"{d}: {c}" for d, c, _ in iesg_commands()])
def test_an_iesg_command_of_the_docs_runs_on_the_tiny_pipeline(docs_run, monkeypatch, capsys, document, command,
                                                               expected):
    argv = shlex.split(command)[1:]
    for arg in argv:  # an image file the docs name (any image works): a small picture at that path
        if re.search(r"\.(png|jpe?g|webp)$", arg, re.I) and not (docs_run / arg).exists():
            (docs_run / arg).parent.mkdir(parents=True, exist_ok=True)
            pixels = np.random.default_rng(len(arg)).integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(docs_run / arg)
    monkeypatch.chdir(docs_run)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    if expected is None:
        assert code == 0, f"{document}: {command}\n{err[-2000:]}"
    else:
        assert code != 0 and expected in err, f"{document}: {command}\n{err}"


def python_snippets() -> list[tuple[str, str]]:
    """(document, code) for every ``python`` block of the docs that uses the API (docs/models.md's add-a-model
    code runs in tests/models/test_adding_a_model.py)."""
    return [(document, body) for document, text in documents_text().items()
            for body, runs in code_blocks(text, "python") if runs and "pipeline.api" in body]


def test_the_docs_show_a_python_snippet():
    assert python_snippets()


@pytest.mark.parametrize("document,code", python_snippets(), ids=[d for d, _ in python_snippets()])
def test_a_python_snippet_of_the_docs_runs_on_the_tiny_pipeline(docs_run, document, code):
    for name in re.findall(r"[\"']([\w./-]+\.(?:png|jpe?g|webp))[\"']", code):  # a repository file it names
        if (REPO / name).is_file() and not (docs_run / name).exists():
            (docs_run / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, docs_run / name)
    result = subprocess.run([sys.executable, "-c", code], cwd=docs_run, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO), "DVC_NO_ANALYTICS": "1"})
    assert result.returncode == 0, f"{document}:\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{document}: the snippet printed nothing"


def test_the_generated_blocks_equal_what_the_script_writes_from_the_committed_files():
    result = subprocess.run([sys.executable, str(REPO / "docs/generate.py"), "--check"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for name in generate.GENERATORS:
        assert any(f"<!-- generated: {name} -->" in text for text in documents_text().values()), name


def test_the_readme_is_short_and_has_the_two_commands_first():
    readme = (REPO / "README.md").read_text()
    assert len(readme) <= 10_000
    assert readme.index("bash setup.sh") < readme.index("## Results") < readme.index("## Code map")
    assert "python3 -m pytest" in readme.split("## Results")[0]
