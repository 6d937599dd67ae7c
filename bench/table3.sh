#!/usr/bin/env bash
# The Genetic Prompt paper's Table 3 on a shared classification dataset, with a real generator
# (issue 14.4): six methods at the same budget, a probe over 3 runs with bootstrap intervals, next
# to the seed rows the methods start from and the whole real training split; then the intrinsic
# table.
#
#   bench/table3.sh DATASET [MODEL] [N]      e.g. bench/table3.sh sms_spam qwen2.5-coder-0.5b 40
#
# DATASET is a folder of ../shared/datasets (DATA overrides) with an example task of the same name
# in examples/ (TASK overrides it: DATA=../shared/datasets/genetic_prompt_release
# TASK=examples/gp_chemprot/task.toml bench/table3.sh chemprot runs the paper's own ChemProt
# splits). Runs `genprompt compare` into target/table3/DATASET-MODEL-nN-sSEED[-EXTRA] (a rerun
# resumes: a stopped method continues from its journal; finished ones are generated again from
# the LLM cache, so a method with failed calls sends those again), then prints both
# tables in markdown from its metrics.json. SEED (default 42), THREADS (default 2), METHODS and
# EXTRA (more compare flags) can be set in the environment. A method that falls short is reported
# (its rows column says so), not fatal. Needs `cargo build --release` and the models.
set -euo pipefail
cd "$(dirname "$0")/.."

DATASET="$1"
MODEL="${2:-qwen2.5-coder-0.5b}"
N="${3:-40}"
SEED="${SEED:-42}"
THREADS="${THREADS:-2}"
METHODS="${METHODS:-genetic,genetic-random,simprompt,attrprompt,zeroshot,fewshot}"
DATA="${DATA:-../shared/datasets}"
TASK="${TASK:-examples/$DATASET/task.toml}"
OUT="target/table3/$DATASET-$MODEL-n$N-s$SEED${EXTRA:+-${EXTRA//[^a-z0-9]/}}"
mkdir -p "$(dirname "$OUT")"

started=$SECONDS
# shellcheck disable=SC2086
target/release/genprompt compare --task "$TASK" --examples "$DATA/$DATASET/train.jsonl" \
  --test "$DATA/$DATASET/test.jsonl" --real-train "$DATA/$DATASET/train.jsonl" --methods "$METHODS" \
  -n "$N" --seed "$SEED" --llm "$MODEL" --threads "$THREADS" --out "$OUT" --allow-short ${EXTRA:-} \
  2>&1 | tee "$OUT.log"
echo "wall: $((SECONDS - started)) s"

python3 - "$OUT" "$DATASET" "$MODEL" "$N" <<'EOF'
import json, sys
from pathlib import Path
out, dataset, model, n = sys.argv[1:5]
metrics = json.loads((Path(out) / "metrics.json").read_text())
names = {
    "genetic": "Genetic Prompt", "genetic-random": "w/o active selection (random parents)",
    "simprompt": "SimPrompt", "attrprompt": "AttrPrompt", "zeroshot": "zero-shot (Li et al.)",
    "fewshot": "few-shot (Li et al.)", "curated": "Curated LLM",
    "real seed rows": "real seed rows (reference)", "real data": "full real train (reference)",
}
order = [m for m in names if m in metrics]
def calls(name):
    manifest = Path(out) / "methods" / name / "manifest.json"
    if not manifest.is_file():
        return "", ""
    manifest = json.loads(manifest.read_text())
    labels = manifest["labels"].values()
    kept, sent = sum(l["kept"] for l in labels), sum(l["llm_calls"] for l in labels)
    short = f" (short: {len(manifest['short_labels'])} labels)" if manifest.get("short_labels") else ""
    return f"{kept}{short}", f"{kept / max(sent, 1):.2f}"
def score(m, key):
    s = m["summary"][key]
    boot = (m["summary"].get("bootstrap") or {}).get(key)
    interval = f" [{100 * boot['low']:.1f}, {100 * boot['high']:.1f}]" if boot else ""
    return f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f}{interval}"
print(f"\n{dataset}, {model}, {n} rows per label asked, probe ({len(metrics[order[0]]['runs'])} runs), "
      f"n_test {metrics[order[0]]['n_test']}; ± = std over probe runs, [95% bootstrap interval over the test rows]\n")
print("| method | rows | rows per call | micro-F1 | macro-F1 |")
print("|---|---:|---:|---:|---:|")
for name in order:
    rows, rate = calls(name)
    m = metrics[name]
    print(f"| {names[name]} | {rows or m['n_train']} | {rate} | {score(m, 'micro_f1')} | {score(m, 'macro_f1')} |")
print("\n| method | APS (lower = more diverse) | intra-label APS | remote-clique | CMD to test | self-BLEU | vocabulary | distinct-2 | label faithfulness |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
fmt = lambda v, d=3: "" if v is None else f"{v:.{d}f}"
for name in order:
    i = metrics[name]["intrinsic"]
    lf = i.get("label_faithfulness")
    print(f"| {names[name]} | {fmt(i['aps']['overall'])} | {fmt(i['aps']['intra'])} | {fmt(i.get('remote_clique'))} | "
          f"{fmt(i.get('cmd'))} | {fmt(i.get('self_bleu'))} | {i['text']['vocabulary']} | {fmt(i['text']['distinct_2'])} | "
          f"{'' if lf is None else f'{100 * lf:.1f}'} |")
EOF
