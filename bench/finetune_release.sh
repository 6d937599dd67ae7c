#!/usr/bin/env bash
# The paper's downstream protocol on its own release data (issue 12.4): all-MiniLM-L6-v2
# fine-tuned whole on a set's 3,000 released Genetic Prompt rows, then on its whole gold training
# split, EPOCHS epochs (default 3) and RUNS seeds (default 3) each, tested on the gold test split.
# Prints one markdown row per training set (mean and std over the seeds) and the wall time.
#
#   bench/finetune_release.sh SET [EPOCHS] [RUNS]        e.g. bench/finetune_release.sh chemprot
#
# SET is a folder of RELEASE (default ../shared/datasets/genetic_prompt_release): chemprot, ddi,
# conll04. THREADS (default 2) sets RAYON_NUM_THREADS; WHICH (default "gp gold") picks the
# training sets. Results go to target/finetune-release/SET-eEPOCHS-rRUNS/{gp,gold}/metrics.json;
# a training set whose metrics.json exists is not run again. Needs `cargo build --release` and
# `genprompt models fetch`.
set -euo pipefail
cd "$(dirname "$0")/.."

SET="$1"
EPOCHS="${2:-3}"
RUNS="${3:-3}"
RELEASE="${RELEASE:-../shared/datasets/genetic_prompt_release}"
WHICH="${WHICH:-gp gold}"
OUT="target/finetune-release/$SET-e$EPOCHS-r$RUNS"
export RAYON_NUM_THREADS="${THREADS:-2}"

for which in $WHICH; do
  case "$which" in
    gp) train="$RELEASE/$SET/synthetic_genetic_prompt.jsonl" ;;
    gold) train="$RELEASE/$SET/train.jsonl" ;;
    *) echo "WHICH takes gp and gold, not $which" >&2; exit 2 ;;
  esac
  [ -f "$OUT/$which/metrics.json" ] && continue
  started=$SECONDS
  target/release/genprompt eval --train "$train" --test "$RELEASE/$SET/test.jsonl" --classifier finetune \
    --epochs "$EPOCHS" --runs "$RUNS" --no-progress --out "$OUT/$which.partial"
  rm -rf "$OUT/$which"
  mv "$OUT/$which.partial" "$OUT/$which"
  echo "$which: $((SECONDS - started)) s" | tee -a "$OUT/wall.txt"
done

python3 - "$OUT" "$SET" "$EPOCHS" "$RUNS" <<'EOF'
import json, sys
from pathlib import Path
out, name, epochs, runs = sys.argv[1:5]
print(f"| set | trained on | rows | epochs | seeds | micro-F1 | macro-F1 |")
print("|---|---|---:|---:|---:|---:|---:|")
for which in ("gp", "gold"):
    path = Path(out) / which / "metrics.json"
    if not path.exists():
        continue
    m = json.loads(path.read_text())
    s = m["summary"]
    cell = lambda k: f"{100 * s[k]['mean']:.1f} ± {100 * s[k]['std']:.1f}"
    what = "Genetic Prompt rows" if which == "gp" else "gold train split"
    print(f"| {name} | {what} | {m['n_train']} | {epochs} | {len(m['runs'])} | {cell('micro_f1')} | {cell('macro_f1')} |")
EOF
