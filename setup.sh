#!/usr/bin/env bash
# Install everything the pipeline needs, then run it (`dvc repro` on params.yaml).
#   bash setup.sh            install + run the whole pipeline
#   bash setup.sh --no-run   install only (what CI does before the tests)
set -euo pipefail
cd "$(dirname "$0")"
export DVC_NO_ANALYTICS=1

if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  # WordNet 3.0 for nltk; dpkg-deb unpacks the pinned data packages; the tests render the report in chromium.
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq wordnet-base wordnet-sense-index dpkg chromium >/dev/null
  # npm (with node) installs the pinned Vega libraries that `dvc plots show` inlines, unless one is there.
  if ! command -v npm >/dev/null 2>&1; then $sudo apt-get install -y -qq npm >/dev/null; fi
else
  echo "setup: apt-get not found; install WordNet 3.0 (or nltk's wordnet data), dpkg-deb and npm yourself" >&2
fi

# torch first and alone: the pinned CPU build, so that nothing later pulls a CUDA build.
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -r requirements.txt
python3 -m pip install -q --no-build-isolation --no-deps -e .
# Vega, Vega-Lite and Vega-Embed at the versions and hashes of package-lock.json (npm registry only, no
# install scripts), inlined after a sha256 check into the page template .dvc/config names: `dvc plots
# show` then works offline.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
python3 -m pipeline.evaluation.vega_template

if [ "${1:-}" = "--no-run" ]; then
  exit 0
fi
# A configured DVC remote (a team's shared cache) restores the committed outputs bit for bit; what it
# lacks, dvc repro makes.
if [ -n "$(dvc remote list)" ]; then
  dvc pull --allow-missing || echo "setup.sh: dvc pull restored only part of the outputs; dvc repro makes the rest"
fi
dvc repro
cat <<'MSG'

Done. Outputs:
  data/corpus/text.txt            cleaned corpus              results/corpus.json
  data/word2vec/                  skip-gram model + vectors   results/pretrain.json
  data/mapping/*.csv, data/images word <-> image mapping      results/mapping.json
  data/features/features.h5       CNN features                results/features.json
  data/models/<model>/            one per train.models        dvclive/<model>/ (per-epoch log)
  data/report/index.html          evaluation report           metrics/<model>.json (headline), results/evaluate.json
  data/explorer/index.html        explorer: type a word or phrase, see its top images (opens from file://)
Compare runs: iesg compare (experiments x models in 120 columns), dvc params diff, dvc metrics diff,
dvc exp show --only-changed, dvc plots show (dvc_plots/index.html, offline).
Look inside (best validation P@1 model, cos score, unless --model/--score): iesg status, iesg words IMAGE,
iesg images WORD, iesg neighbours WORD; from Python: pipeline.api (docs/cli.md, "Python API").

Headline numbers of this run (iesg compare --workspace):
MSG
iesg compare --workspace
python3 -m pipeline.artifacts.lock_changes || true  # informs only: a checkout without git has nothing to compare
