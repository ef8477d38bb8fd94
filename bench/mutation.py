"""Mutation testing of the core modules with mutmut 3: how many mutants the tests kill.

    python bench/mutation.py                                   # the core modules (MODULES below)
    python bench/mutation.py --modules pipeline/evaluation/similarity.py pipeline/images/wordnet.py --json out.json
    python bench/mutation.py --modules pipeline/models/ --max-children 2 --workdir /tmp/mut
    python bench/mutation.py --sample 20 --seed 1 --workdir /tmp/mut   # a random sample of each module

A full run is long (thousands of mutants, each running the tests that reach its function), so
``--sample N --seed S`` tests a seeded uniform random sample of N mutants of each module (drawn from
all its mutants, per module, so that adding a module leaves the others' samples alone) and reports
the score of the sample with a 95% Wilson interval: an estimate of the full run's score. The same
seed draws the same mutants as long as the modules' code is unchanged (a before/after comparison of
the tests). ``--skip-clean-run`` leaves out mutmut's clean run of the mutants' tests when its stats
run (every test, unmutated, which must pass) ran in the same --workdir with the same code.
``--rerun-survivors`` (with --sample and the --workdir of an earlier run of the same sample) tests
again only the sampled mutants that were tested there, not killed and are not declared equivalent:
after tests were added, with the code unchanged, a killed mutant stays killed (mutmut too keeps a
result unless a mutant is named); mutants a cut-short run did not check stay not checked.

mutmut (pinned in requirements.txt) writes every mutant of a function into a copy of the package
(``mutants/``), each behind a trampoline that picks the one named by ``MUTANT_UNDER_TEST``, records
once which tests reach which function, then runs, for each mutant, only those tests in a forked
pytest (``-x``). The stage scripts that tests start in subprocesses inherit the variable and import
the mutated copy (tests/conftest.py sets their PYTHONPATH), so a stage run can kill a mutant too; the
pytest plugin bench/mutation_plugin.py (``pytest_add_cli_args`` of ``[tool.mutmut]``) collects their hits.
The config is ``[tool.mutmut]`` of pyproject.toml; this script runs it in a temporary copy of the
checkout's files (tracked and untracked, not ignored ones: no ``data/``) with ``only_mutate`` set to
the modules asked for, so the working tree stays clean; ``--workdir DIR`` keeps that copy (then
``cd DIR && mutmut browse``, ``mutmut show NAME``, ``mutmut run NAME`` to retest one).

A module is a file, a directory (every ``.py`` below it, one row each) or ``FILE:NAME,NAME`` (only
the functions or classes named, e.g. the preprocessing part of features.py).

Counts per module and in total: killed, survived, no tests (no test reaches the function),
timeout, suspicious, skipped, equivalent (declared in bench/mutation_equivalent.toml with a reason,
taken out of the survivors), and the score killed / (mutants - equivalent) against the target
(issue 3: >= 85%). Every survivor not declared equivalent is printed with its source line and
change, to be killed with a test or declared equivalent. Too slow for CI: not part of pytest.

Cost: the stats run is the whole suite; then each mutant runs, in a fresh pytest session, the tests
that reach its function. bench/mutation_plugin.py keeps the tiny run of the stats run (unmutated) and copies
it instead of building it for a mutant whose function the tiny run's stages do not reach, and runs
a mutant's tests without tiny_run first.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, print_machine, table, verdict, write_json  # noqa: E402

# The core modules of the issue; a directory stands for every .py file below it.
MODULES = [
    "pipeline/evaluation/protocol.py",  # matching and ranking
    "pipeline/evaluation/statistics.py",  # bootstrap intervals
    "pipeline/models/",  # the models
    "pipeline/evaluation/similarity.py",  # word similarity
    "pipeline/features/encoders.py",  # encoder preprocessing
    "pipeline/features/decode.py",  # decoding of images
    "pipeline/features/featurize.py:_EncodedBatches",  # preprocessing of images
    "pipeline/artifacts/grounding.py",  # the join of mapping, features and vocabulary
    "pipeline/artifacts/tables.py:read_images,read_links,_read_csv",  # the artifact readers
    "pipeline/artifacts/features.py:read_features",
    "pipeline/artifacts/vectors.py:read_vectors,read_word2vec,read_output_vectors",
    "pipeline/artifacts/model_dir.py:read_trained,write_projection,read_projection",
    "pipeline/artifacts/training_log.py:logged_values,TrainingLog",  # the training log
    "pipeline/artifacts/training_inputs.py",  # what a model trains on
    "pipeline/images/wordnet.py",  # WordNet linking
]
EQUIVALENT_FILE = REPO / "bench" / "mutation_equivalent.toml"
TARGET = 0.85
STATUSES = ("killed", "survived", "no tests", "timeout", "suspicious", "skipped", "not checked", "other")
SEP = "\u01c1"  # mutmut's class separator in mangled names: x<SEP>Class<SEP>method


@dataclass
class Module:
    """One file to mutate; ``names``: only its functions / classes / Class.method named (all if empty)."""

    path: str  # relative to the checkout, e.g. pipeline/evaluation/similarity.py
    names: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        dotted = self.path[: -len(".py")].replace("/", ".")
        return dotted[: -len(".__init__")] if dotted.endswith(".__init__") else dotted

    @property
    def label(self) -> str:
        return self.path + (f":{','.join(self.names)}" if self.names else "")

    def owns(self, mutant: str) -> bool:
        """Whether mutmut's mutant ``module.x_func__mutmut_N`` / ``module.x<SEP>Class<SEP>meth__mutmut_N``
        is one of this module's (and of the functions named)."""
        prefix, _, mangled = mutant.partition("__mutmut_")[0].rpartition(".")
        if prefix != self.dotted:
            return False
        if not self.names:
            return True
        if mangled.startswith("x" + SEP):
            cls, _, func = mangled[2:].partition(SEP)
            return cls in self.names or f"{cls}.{func}" in self.names
        return mangled[2:] in self.names

    def run_patterns(self) -> list[str]:
        """``mutmut run``'s globs: they pick the mutants to test and, matched against function names,
        the tests of the clean run (a glob may catch more functions, e.g. load_rgb_x with load_rgb:
        those are tested too but not counted)."""
        if not self.names:
            return [f"{self.dotted}.*"]
        patterns = []
        for name in self.names:
            cls, _, meth = name.partition(".")
            if meth:
                patterns.append(f"{self.dotted}.x{SEP}{cls}{SEP}{meth}*")
            else:  # a top-level function or every method of a class
                patterns += [f"{self.dotted}.x_{name}*", f"{self.dotted}.x{SEP}{name}{SEP}*"]
        return patterns


@dataclass
class Row:
    module: Module
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    equivalent: int = 0
    seconds: list[float] = field(default_factory=list)
    tested_names: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.equivalent

    @property
    def score(self) -> float | None:
        """killed / (mutants - equivalent), of the mutants tested (all, unless the run was cut short)."""
        denominator = self.tested
        return self.counts["killed"] / denominator if denominator else None

    @property
    def tested(self) -> int:
        """Mutants in the score: tested and not declared equivalent."""
        return self.total - self.equivalent - self.counts["not checked"]

    @property
    def interval(self) -> tuple[float, float] | None:
        """95% Wilson interval of the score, as an estimate of the score of a population these were drawn from."""
        return wilson(self.counts["killed"], self.tested)


def expand(specs: list[str]) -> list[Module]:
    modules = []
    for spec in specs:
        path, _, names = spec.partition(":")
        full = (REPO / path).resolve()
        if full.is_dir():
            files = sorted(p for p in full.rglob("*.py") if "__pycache__" not in p.parts)
        elif full.is_file() and full.suffix == ".py":
            files = [full]
        else:
            raise SystemExit(f"error: {spec}: no such module or directory below {REPO}")
        if names and len(files) > 1:
            raise SystemExit(f"error: {spec}: names of functions only go with a single file")
        modules += [Module(p.relative_to(REPO).as_posix(), tuple(n for n in names.split(",") if n))
                    for p in files]
    return modules


def load_equivalent(path: Path) -> dict[str, str]:
    """mutant name -> why it is equivalent, from the ``[equivalent]`` table of the TOML file."""
    if not path.exists():
        return {}
    return {str(k): str(v) for k, v in tomllib.loads(path.read_text())["equivalent"].items()}


def copy_checkout(workdir: Path) -> None:
    """The checkout's tracked and untracked, not ignored, files (the working tree as it is)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():  # deleted but still tracked files are skipped
            (workdir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, workdir / name)


def configure(workdir: Path, modules: list[Module]) -> None:
    """Set only_mutate in the copy's ``[tool.mutmut]`` to the files of ``modules``."""
    pyproject = workdir / "pyproject.toml"
    text = pyproject.read_text()
    if "[tool.mutmut]" not in text:
        raise SystemExit("error: pyproject.toml has no [tool.mutmut] table")
    text = re.sub(r"(?m)^only_mutate\s*=.*\n", "", text)
    files = json.dumps(sorted({m.path for m in modules}))
    pyproject.write_text(text.replace("[tool.mutmut]", f"[tool.mutmut]\nonly_mutate = {files}", 1))


# mutmut's progress line: "<spinner> 12/80  🎉 10 🫥 0  ⏰ 0  🤔 0  🙁 2  🔇 0  🧙 0"
PROGRESS = re.compile(r"(\d+)/(\d+)\s+\U0001F389 (\d+) \U0001FAE5 (\d+)\s+\u23F0 (\d+)\s+\U0001F914 (\d+)"
                      r"\s+\U0001F641 (\d+)\s+\U0001F507 (\d+)")


# mutmut's mutant generation alone (the first step of ``mutmut run``), to list the mutants to sample from
GENERATE = """
import os, sys
from mutmut.__main__ import (copy_also_copy_files, copy_src_dir, create_mutants, setup_source_paths,
                             store_lines_covered_by_tests)
from mutmut.mutation.trampoline import set_mutant_under_test
set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); store_lines_covered_by_tests()
create_mutants(int(sys.argv[1]))
"""

# run ``mutmut run`` without its clean run of the mutants' tests (--skip-clean-run)
SKIP_CLEAN_RUN = """
from mutmut.workers import isolation
isolation.ForkRunner.run_clean_tests = lambda self, tests: 0
isolation.ForkServerRunner.run_clean_tests = lambda self, tests: 0
"""


# mutmut's ForkRunner runs a mutant's tests fastest first (by their recorded call time), so that with
# -x a killing test comes early; its ForkServerRunner (process_isolation = "forkserver", which this
# project needs: torch) runs them in set order. Give the fork server the same order.
FASTEST_FIRST = """
from mutmut.workers import isolation
_submit = isolation.ForkServerRunner.submit
def _fastest_first(self, mutant_name, tests, cpu_time_limit, estimated_time):
    from mutmut.state import state
    tests = sorted(tests, key=lambda test: (state().duration_by_test.get(test, 0.0), test))
    return _submit(self, mutant_name, tests, cpu_time_limit, estimated_time)
isolation.ForkServerRunner.submit = _fastest_first
"""


def generate_mutants(workdir: Path, max_children: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MUTANT_UNDER_TEST")}
    result = subprocess.run([sys.executable, "-c", GENERATE, str(max_children)], cwd=workdir, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"error: mutmut's mutant generation failed:\n{result.stderr[-3000:]}")


def mutant_names(workdir: Path, module: Module) -> list[str]:
    """Every mutant of ``module`` in mutmut's meta file of the workdir, in natural order."""
    meta = json.loads((workdir / "mutants" / f"{module.path}.meta").read_text())
    return sorted((m for m in meta["exit_code_by_key"] if module.owns(m)), key=natural)


def draw_sample(names: list[str], n: int, seed: int, module: Module) -> list[str]:
    """A uniform random sample of ``n`` of a module's mutants, seeded by ``seed`` and the module."""
    rng = random.Random(f"{seed}:{module.label}")
    return sorted(rng.sample(names, min(n, len(names))), key=natural)


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """95% Wilson score interval of a binomial proportion k / n."""
    if not n:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def run_mutmut(workdir: Path, patterns: list[str], max_children: int, nice: int,
               skip_clean_run: bool = False) -> dict[str, float]:
    """Run ``mutmut run`` in ``workdir``; print its phases and a progress line at most every 20 s.

    Returns the wall seconds of the whole run and of the mutation phase (after the stats run,
    the clean run and the forced-failure check)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MUTANT_UNDER_TEST")}
    env.setdefault("DVC_NO_ANALYTICS", "1")
    prelude = FASTEST_FIRST + (SKIP_CLEAN_RUN if skip_clean_run else "")
    argv = [sys.executable, "-c", prelude + "\nimport sys; from mutmut.__main__ import cli; sys.exit(cli())",
            "run", "--max-children", str(max_children), *patterns]
    if nice:
        argv = ["nice", "-n", str(nice), *argv]
    started = time.perf_counter()
    mutation_started = None
    proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tail: list[str] = []
    last_title, last_print, buffer = "", 0.0, ""
    while chunk := proc.stdout.read1(4096):
        buffer += chunk.decode(errors="replace")
        *lines, buffer = re.split(r"[\r\n]", buffer)
        for line in lines:
            text = line.strip()
            if not text:
                continue
            now = time.perf_counter()
            match = PROGRESS.search(text)
            title = text.lstrip("\u280b\u2819\u2839\u2838\u283c\u2834\u2826\u2827\u2807\u280f ").strip()
            if not match and text == title:  # spinner and progress lines would drown a failure's output
                tail = (tail + [text])[-200:]
            if match:
                done, total, killed, no_tests, timeout, suspicious, survived, skipped = map(int, match.groups())
                if not any("*" in p for p in patterns):  # mutants named: mutmut counts every mutant of the files
                    total = len(patterns)
                if now - last_print >= 20 or done == total:
                    since = now - (mutation_started or started)
                    eta = f", about {since / done * (total - done) / 60:.0f} min left" if done else ""
                    print(f"[mutation] {done}/{total} mutants: {killed} killed, {survived} survived, "
                          f"{no_tests} no tests, {timeout} timeout, {suspicious} suspicious, {skipped} skipped "
                          f"({since / 60:.1f} min{eta})", flush=True)
                    last_print = now
                continue
            if text != title:  # a spinner line: print each phase once
                if title != last_title:
                    print(f"[mutation] {title} ({(now - started) / 60:.1f} min)", flush=True)
                    last_title = title
                continue
            if title == "Running mutation testing":
                mutation_started = now
            if title.startswith(("done", "mutations/second")) or "mutations/second" in title:
                print(f"[mutation] mutmut: {title}", flush=True)
    code = proc.wait()
    if code:
        print("\n".join(tail[-60:]), file=sys.stderr)
        raise SystemExit(f"error: mutmut run failed with exit status {code} (its output above)")
    ended = time.perf_counter()
    return {"wall_s": ended - started, "mutation_s": ended - (mutation_started or started)}


def function_lines(source: str) -> dict[str, int]:
    """mutmut's mangled function name (x_func, x<SEP>Class<SEP>method) -> line of its ``def``."""
    lines = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines[f"x_{node.name}"] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines[f"x{SEP}{node.name}{SEP}{item.name}"] = item.lineno
    return lines


def describe(workdir: Path, module: Module, mutant: str, def_lines: dict[str, int]) -> tuple[int | None, str]:
    """Source line of a mutant's change and the change itself (``old -> new``, stripped)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        diff = get_diff_for_mutant(mutant, path=module.path).splitlines()
    finally:
        os.chdir(cwd)
    old = [line[1:] for line in diff[2:] if line.startswith("-")]
    new = [line[1:] for line in diff[2:] if line.startswith("+")]
    line = None
    start = def_lines.get(mutant.partition("__mutmut_")[0].rpartition(".")[2])
    hunk = next((h for h in diff if h.startswith("@@")), None)
    if start and hunk:  # the diff is of the function alone, its line 1 being the def
        offset = int(re.match(r"@@ -(\d+)", hunk).group(1))
        for text in diff[diff.index(hunk) + 1:]:
            if text.startswith("-"):
                break
            if text.startswith(" "):
                offset += 1
        line = start + offset - 1
    squeeze = lambda lines: " / ".join(x.strip() for x in lines)  # noqa: E731
    if len(old) == len(new) == 1:  # show only the part that differs
        a, b = old[0].strip(), new[0].strip()
        matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
        blocks = matcher.get_opcodes()
        lo = min(i1 for tag, i1, *_ in blocks if tag != "equal")
        hi = max(i2 for tag, _, i2, *__ in blocks if tag != "equal")
        lo2 = min(j1 for tag, _, __, j1, ___ in blocks if tag != "equal")
        hi2 = max(j2 for tag, *_, j2 in blocks if tag != "equal")
        context = 25
        a_part, b_part = a[max(0, lo - context):hi + context], b[max(0, lo2 - context):hi2 + context]
        return line, f"{a_part!r} -> {b_part!r}"
    return line, f"{squeeze(old)!r} -> {squeeze(new)!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", nargs="+", default=MODULES, metavar="MODULE",
                        help="files, directories or FILE:NAME,NAME (default: the core modules)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--nice", type=int, default=10, help="niceness of mutmut (default 10; 0: none)")
    parser.add_argument("--equivalent", default=str(EQUIVALENT_FILE), help="TOML file of equivalent mutants")
    parser.add_argument("--workdir", help="run in (and keep) this directory instead of a temporary one")
    parser.add_argument("--json", help="write the numbers to this file")
    parser.add_argument("--report-only", action="store_true",
                        help="only report the results in --workdir (of a run there, finished or interrupted)")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="test a seeded random sample of N mutants of each module (an estimate of the score)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="with --sample and an earlier run's --workdir: test again only the sampled mutants "
                             "tested and not killed there (nor declared equivalent)")
    parser.add_argument("--resume", action="store_true",
                        help="with --sample and the --workdir of a cut-short run: test only the sampled mutants "
                             "that have no result there yet")
    parser.add_argument("--skip-clean-run", action="store_true",
                        help="leave out mutmut's clean run (its stats run of every test already passed)")
    args = parser.parse_args(argv)

    modules = expand(args.modules)
    equivalent = load_equivalent(Path(args.equivalent))
    info = print_machine("mutation")
    print(f"[mutation] modules: {', '.join(m.label for m in modules)}; {args.max_children} children", flush=True)

    if args.report_only and not args.workdir:
        parser.error("--report-only reads the results of a --workdir")
    if args.sample is not None and args.sample < 1:
        parser.error("--sample takes a positive number of mutants per module")
    if (args.rerun_survivors or args.resume) and not (args.sample and args.workdir):
        parser.error("--rerun-survivors and --resume go with --sample and the --workdir of an earlier run")
    keep = bool(args.workdir)
    workdir = Path(args.workdir).resolve() if keep else Path(tempfile.mkdtemp(prefix="mutmut-"))
    try:
        sampled: dict[str, list[str]] | None = None
        killed_before: set[str] = set()
        unchecked: set[str] = set()  # with --rerun-survivors: not tested in the earlier run, so not now either
        population: dict[str, int] = {}
        if not args.report_only:
            workdir.mkdir(parents=True, exist_ok=True)
            copy_checkout(workdir)
            configure(workdir, modules)
        if args.sample:
            if not args.report_only:
                generate_mutants(workdir, args.max_children)
            sampled = {}
            for module in modules:
                names = mutant_names(workdir, module)
                population[module.label] = len(names)
                sampled[module.label] = draw_sample(names, args.sample, args.seed, module)
            print(f"[mutation] sample of {args.sample} mutants per module, seed {args.seed}: "
                  f"{sum(map(len, sampled.values()))} of {sum(population.values())} mutants", flush=True)
        done_before: set[str] = set()  # with --resume: tested in the earlier run
        if args.resume:
            for module in modules:
                meta_path = workdir / "mutants" / f"{module.path}.meta"
                if meta_path.exists():
                    codes = json.loads(meta_path.read_text())["exit_code_by_key"]
                    done_before |= {n for n in sampled[module.label] if codes.get(n) is not None}
            print(f"[mutation] --resume: {len(done_before)} sampled mutants keep their result of the earlier run",
                  flush=True)
        if args.rerun_survivors:
            from mutmut.stats import status_by_exit_code

            for module in modules:
                meta_path = workdir / "mutants" / f"{module.path}.meta"
                if meta_path.exists():
                    codes = json.loads(meta_path.read_text())["exit_code_by_key"]
                    killed_before |= {n for n in sampled[module.label]
                                      if codes.get(n) is not None and status_by_exit_code[codes[n]] == "killed"}
                    unchecked |= {n for n in sampled[module.label] if codes.get(n) is None}
            declared = {n for names in sampled.values() for n in names if n in equivalent} - killed_before
            print(f"[mutation] --rerun-survivors: {len(killed_before)} sampled mutants killed in the earlier run "
                  f"and {len(declared)} declared equivalent keep their result, {len(unchecked)} not checked there "
                  f"are left out; the other "
                  f"{sum(map(len, sampled.values())) - len(killed_before) - len(declared) - len(unchecked)} "
                  f"are tested", flush=True)
        if args.report_only:
            timing = {"wall_s": None, "mutation_s": None}
        else:
            # with globs, mutmut's clean run is only the tests that reach the functions (else all of them)
            patterns = ([n for names in sampled.values() for n in names
                         if n not in done_before and not (args.rerun_survivors
                                 and (n in killed_before or n in equivalent or n in unchecked))]
                        if sampled is not None
                        else [p for m in modules for p in m.run_patterns()])
            if patterns:
                timing = run_mutmut(workdir, patterns, args.max_children, args.nice, args.skip_clean_run)
            else:  # every sampled mutant was killed before: nothing to run (an empty list would run them all)
                timing = {"wall_s": None, "mutation_s": None}

        rows, survivors, stale = [], [], set(equivalent)
        for module in modules:
            row = Row(module)
            meta = json.loads((workdir / "mutants" / f"{module.path}.meta").read_text())
            from mutmut.stats import status_by_exit_code

            def_lines = function_lines((REPO / module.path).read_text())
            wanted_names = set(sampled[module.label]) if sampled is not None else None
            for mutant, code in sorted(meta["exit_code_by_key"].items(), key=lambda kv: natural(kv[0])):
                if not module.owns(mutant) or (wanted_names is not None and mutant not in wanted_names):
                    continue
                status = status_by_exit_code[code]
                if meta["durations_by_key"].get(mutant):  # the fork server reports none (0.0)
                    row.seconds.append(meta["durations_by_key"][mutant])
                if code is not None:
                    row.tested_names.append(mutant)
                if status in ("survived", "no tests") and mutant in equivalent:
                    row.equivalent += 1
                    stale.discard(mutant)
                    continue
                row.counts[status if status in STATUSES else "other"] += 1
                if status not in ("killed", "not checked"):
                    line, change = describe(workdir, module, mutant, def_lines)
                    survivors.append({"mutant": mutant, "status": status, "module": module.path,
                                      "line": line, "change": change})
            rows.append(row)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)

    total = Row(Module("total"))
    for row in rows:
        for status, n in row.counts.items():
            total.counts[status] += n
        total.equivalent += row.equivalent
        total.seconds += row.seconds
        total.tested_names += row.tested_names

    pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    interval = lambda ci: "-" if ci is None else f"{100 * ci[0]:.0f}-{100 * ci[1]:.0f}%"  # noqa: E731
    header = ["module", "mutants", "killed", "survived", "no tests", "timeout", "suspicious", "skipped",
              "not checked", "equivalent", "score", *(["95% interval", "of"] if sampled is not None else []),
              "s/mutant"]
    population["total"] = sum(population.values())
    body = [[r.module.label, r.total, *(r.counts[s] for s in STATUSES[:7]), r.equivalent, pct(r.score),
             *([interval(r.interval), population[r.module.label]] if sampled is not None else []),
             f"{sum(r.seconds) / len(r.seconds):.1f}" if r.seconds else "-"] for r in [*rows, total]]
    print()
    print(table(body, header))
    stratified = None
    if sampled is not None:
        stratified = stratified_estimate(rows, population)
        print(f"(a sample of {args.sample} mutants per module, seed {args.seed}: each score is the sample's, an "
              f"estimate of the module's full score, with a 95% Wilson interval; 'of': the module's mutants)")
        if stratified:
            normal = (interval(stratified[1:]) if stratified[1] < stratified[2]
                      else "- (the normal approximation fails when every sample scores 0 or 100%)")
            print(f"(the full score of all {population['total']} mutants, each module's sample score weighted by "
                  f"its mutants: {pct(stratified[0])}, 95% interval {normal})")
    if total.counts["other"]:
        print(f"({total.counts['other']} mutants with another status (segfault, ...) count as not killed)")
    if total.counts["not checked"]:
        print(f"(the run was cut short: {total.counts['not checked']} mutants not checked, left out of the scores)")
    if survivors:
        print(f"\nmutants not killed and not declared equivalent in {Path(args.equivalent).name} ({len(survivors)}):")
        for s in survivors:
            print(f"  {s['module']}:{s['line']}  {s['mutant']}  [{s['status']}]  {s['change']}")
    in_sample = set() if sampled is None else {n for names in sampled.values() for n in names}
    wanted = {m for m in stale if any(mod.owns(m) for mod in modules) and (sampled is None or m in in_sample)}
    if wanted:
        print(f"\ndeclared equivalent but not a surviving mutant (stale entries, killed or renamed): "
              f"{', '.join(sorted(wanted, key=natural))}")
    # mutants this run tested: all with a result, or with --rerun-survivors only those it ran again
    tested = len([n for n in total.tested_names if n not in done_before
                  and not (args.rerun_survivors and (n in killed_before or n in equivalent))])
    worker_s = sum(total.seconds) / len(total.seconds) if total.seconds else None
    in_worker = f"; {worker_s:.1f} s per mutant in its worker" if worker_s else ""
    per_mutant = timing["mutation_s"] / tested if tested and timing["mutation_s"] else None
    if per_mutant:
        print(f"\n[mutation] {tested} mutants tested in {timing['mutation_s'] / 60:.1f} min "
              f"({per_mutant:.1f} s per mutant of wall time with {args.max_children} children{in_worker}), "
              f"{timing['wall_s'] / 60:.1f} min in all")
    else:
        print(f"\n[mutation] {tested} mutants tested{in_worker}")
    write_json(args.json, {
        "bench": "mutation", "machine": info, "max_children": args.max_children, "target": TARGET,
        "sample": None if sampled is None else {"per_module": args.sample, "seed": args.seed, "mutants": sampled,
                                                "population": population, "stratified_estimate": stratified},
        "modules": [{"module": r.module.label, "mutants": r.total, **{k.replace(" ", "_"): v for k, v in r.counts.items()},
                     "equivalent": r.equivalent, "score": r.score, "wilson95": r.interval} for r in rows],
        "total": {"mutants": total.total, **{k.replace(" ", "_"): v for k, v in total.counts.items()},
                  "equivalent": total.equivalent, "score": total.score, "wilson95": total.interval},
        "survivors": survivors, "stale_equivalent": sorted(wanted, key=natural),
        "timing": {**timing, "mutants_tested": tested, "wall_s_per_mutant": per_mutant,
                   "worker_s_per_mutant": worker_s},
    })
    score = total.score
    print(f"mutation: {total.counts['killed']} killed, {total.counts['survived'] + total.counts['no tests']} "
          f"survived, {total.counts['timeout']} timeout, {total.counts['suspicious']} suspicious, "
          f"{total.counts['skipped']} skipped, {total.equivalent} equivalent, {total.counts['not checked']} not checked "
          f"of {total.total} mutants; "
          f"score {pct(score)}"
          + (f" (a sample estimate, 95% interval {interval(total.interval)})" if sampled is not None else "")
          + f" (target {TARGET:.0%}: {verdict(score or 0, TARGET)})"
          + (f" in {timing['wall_s'] / 60:.1f} min" if timing["wall_s"] else ""))
    return 0


def stratified_estimate(rows: list[Row], population: dict[str, int]) -> tuple[float, float, float] | None:
    """The score of all the modules' mutants from per-module samples: each module's sample score weighted
    by its number of mutants, with a normal 95% interval (finite-population corrected)."""
    parts = [(population[r.module.label], r.tested, r.score) for r in rows if r.tested]
    weight = sum(n for n, _, _ in parts)
    if not weight:
        return None
    estimate = sum(n * p for n, _, p in parts) / weight
    variance = sum((n / weight) ** 2 * p * (1 - p) / k * max(0.0, (n - k) / max(n - 1, 1)) for n, k, p in parts)
    half = 1.959963984540054 * math.sqrt(variance)
    return estimate, max(0.0, estimate - half), min(1.0, estimate + half)


def natural(name: str) -> tuple:
    """Sort key: mutant 2 before mutant 10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


if __name__ == "__main__":
    sys.exit(main())
