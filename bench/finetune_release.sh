#!/usr/bin/env bash
# The paper's downstream protocol on its own release data (issue 12.4): all-MiniLM-L6-v2
# fine-tuned whole on a set's 3,000 released Genetic Prompt rows, then on its whole gold training
# split, EPOCHS epochs (default 3) and RUNS seeds (default 3) each, tested on the gold test split.
# Each seed is its own `genprompt eval --runs 1 --seed K` (K = 0, 1, ...), kept as it finishes, so
# a stopped run loses at most one seed; then one markdown row per training set (mean and sample
# std over the seeds that finished), and the wall time of each seed in wall.txt.
#
#   bench/finetune_release.sh SET [EPOCHS] [RUNS]        e.g. bench/finetune_release.sh chemprot
#
# SET is a folder of RELEASE (default ../shared/datasets/genetic_prompt_release): chemprot, ddi,
# conll04. THREADS (default 2) sets RAYON_NUM_THREADS; WHICH (default "gp gold") picks the
# training sets and their order. Results go to target/finetune-release/SET-eEPOCHS/WHICH-seedK/;
# a seed whose metrics.json exists is not run again. GENPROMPT (default target/release/genprompt)
# names the binary: point it at a copy to keep rebuilding while a long run goes on. Needs
# `cargo build --release` and `genprompt models fetch`.
set -euo pipefail
cd "$(dirname "$0")/.."

SET="$1"
EPOCHS="${2:-3}"
RUNS="${3:-3}"
RELEASE="${RELEASE:-../shared/datasets/genetic_prompt_release}"
WHICH="${WHICH:-gp gold}"
GENPROMPT="${GENPROMPT:-target/release/genprompt}"
OUT="target/finetune-release/$SET-e$EPOCHS"
export RAYON_NUM_THREADS="${THREADS:-2}"
mkdir -p "$OUT"

for which in $WHICH; do
  case "$which" in
    gp) train="$RELEASE/$SET/synthetic_genetic_prompt.jsonl" ;;
    gold) train="$RELEASE/$SET/train.jsonl" ;;
    *) echo "WHICH takes gp and gold, not $which" >&2; exit 2 ;;
  esac
  for ((seed = 0; seed < RUNS; seed++)); do
    dir="$OUT/$which-seed$seed"
    [ -f "$dir/metrics.json" ] && continue
    started=$SECONDS
    "$GENPROMPT" eval --train "$train" --test "$RELEASE/$SET/test.jsonl" --classifier finetune \
      --epochs "$EPOCHS" --runs 1 --seed "$seed" --no-progress --out "$dir.partial"
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    echo "$which seed $seed: $((SECONDS - started)) s" | tee -a "$OUT/wall.txt"
  done
done

python3 - "$OUT" "$SET" "$EPOCHS" <<'EOF'
import json, statistics, sys
from pathlib import Path
out, name, epochs = sys.argv[1:4]
print("| set | trained on | rows | epochs | seeds | micro-F1 | macro-F1 |")
print("|---|---|---:|---:|---:|---:|---:|")
for which, what in (("gp", "Genetic Prompt rows"), ("gold", "gold train split")):
    runs = [json.loads(p.read_text()) for p in sorted(Path(out).glob(f"{which}-seed*/metrics.json"))]
    if not runs:
        continue
    def cell(key):
        values = [100 * m["summary"][key]["mean"] for m in runs]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.1f} ± {std:.1f}"
    print(f"| {name} | {what} | {runs[0]['n_train']} | {epochs} | {len(runs)} | {cell('micro_f1')} | {cell('macro_f1')} |")
EOF
