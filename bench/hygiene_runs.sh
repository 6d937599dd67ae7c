#!/usr/bin/env bash
# Kept rate and hygiene of real small models on the relation tasks and the quickstart (issues 13, 14):
#
#   bench/hygiene_runs.sh [MODEL...]        (default: qwen2.5-coder-0.5b)
#
# For each model and task: `genprompt generate` (Genetic Prompt, seed 42, N rows per label, the
# catalogue's sampling, --allow-short so a short run still reports), then bench/hygiene.py on the
# kept rows. Prints one table row per run: kept / calls, kept rate, clean share. Outputs go to
# target/hygiene/MODEL/TASK (a rerun resumes or reuses them). N defaults to 4; THREADS to 2;
# EXTRA adds flags (e.g. EXTRA=--structured); TASKS picks tasks by name (e.g. TASKS="gp_chemprot"). Needs `cargo build --release` and the models
# (`genprompt models fetch NAME`).
set -euo pipefail
cd "$(dirname "$0")/.."

N="${N:-4}"
THREADS="${THREADS:-2}"
EXTRA="${EXTRA:-}"
DATA="${DATA:-../shared/datasets}"
BIN=target/release/genprompt
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(qwen2.5-coder-0.5b)

# task file, real rows that seed it, max tokens
runs=(
  "examples/gp_chemprot/task.toml|$DATA/genetic_prompt_release/chemprot/train.jsonl|160"
  "examples/gp_conll04/task.toml|$DATA/genetic_prompt_release/conll04/train.jsonl|160"
  "examples/quickstart/task.toml||96"
)

printf '| model | task | flags | kept / calls | kept rate | clean (hygiene) | wall s |\n|---|---|---|---:|---:|---:|---:|\n'
for model in "${models[@]}"; do
  for run in "${runs[@]}"; do
    IFS='|' read -r task examples max_tokens <<<"$run"
    name=$(basename "$(dirname "$task")")
    [ -z "${TASKS:-}" ] || [[ " $TASKS " == *" $name "* ]] || continue
    out="target/hygiene/$model${EXTRA:+-${EXTRA//[^a-z]/}}/$name"
    args=(generate --task "$task" -n "$N" --seed 42 --max-tokens "$max_tokens" --llm "$model"
          --threads "$THREADS" --allow-short --no-progress --out "$out")
    [ -z "$examples" ] || args+=(--examples "$examples")
    # shellcheck disable=SC2206
    [ -z "$EXTRA" ] || args+=($EXTRA)
    mkdir -p "$(dirname "$out")"
    started=$SECONDS
    "$BIN" "${args[@]}" >"$out.log" 2>&1 || { echo "generate failed for $model $name: see $out.log" >&2; continue; }
    wall=$((SECONDS - started))
    hygiene_args=("$out/dataset.jsonl" --task "$task" --json "$out.hygiene.json")
    [ -z "$examples" ] || hygiene_args+=(--examples "$examples")
    python3 bench/hygiene.py "${hygiene_args[@]}" >"$out.hygiene.txt" || true
    python3 - "$out/manifest.json" "$out.hygiene.json" "$model" "$name" "${EXTRA:--}" "$wall" <<'EOF'
import json, sys
manifest, hygiene = (json.load(open(p)) for p in sys.argv[1:3])
model, name, flags, wall = sys.argv[3:7]
kept = sum(l["kept"] for l in manifest["labels"].values())
calls = sum(l["llm_calls"] for l in manifest["labels"].values())
clean, rows = hygiene["clean"], hygiene["rows"]
share = f"{clean} / {rows} = **{100 * clean / rows:.1f}%**" if rows else "0 rows"
print(f"| {model} | {name} | {flags} | {kept} / {calls} | {kept / max(calls, 1):.2f} | {share} | {wall} |")
EOF
  done
done
