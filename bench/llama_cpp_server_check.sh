#!/usr/bin/env bash
# Opt-in check of the HTTP backend against a server we did not write: llama-cpp-python's
# OpenAI-compatible server serving the default SmolLM2 GGUF on 127.0.0.1.
#
#   bench/llama_cpp_server_check.sh            # from the repository root
#
# 1. Installs `llama-cpp-python[server]` into target/llama-venv if missing (it compiles llama.cpp
#    from source: 10-15 min on 2 cores, run under nice -n 19).
# 2. Starts `python -m llama_cpp.server` on a free port (n_ctx 2048).
# 3. Runs `genprompt generate` on the quickstart task (-n 3) through it with a dummy
#    OPENAI_API_KEY, and checks: 3 rows per label, the manifest names the endpoint, and the key
#    appears in no output file and no log line.
# 4. Runs `genprompt-bench endpoint-check`: structured output (json_schema); then restarts the
#    server with embeddings on and checks /v1/embeddings through HttpEncoder.
# Exits non-zero on the first failed check; the server log is kept in the work folder.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/target/llama-venv"
HOME_DIR="${GENPROMPT_HOME:-$HOME/.cache/genprompt}"
MODEL="$HOME_DIR/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"
KEY="sk-dummy-llama-check-7d1e5c9b3a"
WORK="$(mktemp -d -t genprompt-llama-check.XXXXXX)"

[ -f "$MODEL" ] || { echo "missing $MODEL; run: genprompt models fetch" >&2; exit 2; }
if ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
    echo "installing llama-cpp-python[server] into $VENV (compiles llama.cpp; 10-15 min)"
    python3 -m venv "$VENV"
    CMAKE_BUILD_PARALLEL_LEVEL=2 nice -n 19 "$VENV/bin/pip" install 'llama-cpp-python[server]'
fi
echo "llama-cpp-python $("$VENV/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)')"

(cd "$ROOT" && nice -n 5 cargo build -j2 --release -q -p genprompt-cli -p genprompt-bench)
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT/v1"
SERVER=""
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null || true' EXIT
# start_server LOG [extra flags]: starts the server on $PORT and waits until it answers.
start_server() {
    local log="$1"
    shift
    "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias smollm2 --host 127.0.0.1 \
        --port "$PORT" --n_ctx 2048 "$@" >"$log" 2>&1 &
    SERVER=$!
    for _ in $(seq 120); do
        curl -sf "$BASE/models" >/dev/null && { echo "server up at $BASE (log: $log)"; return; }
        kill -0 $SERVER 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 1
    done
    echo "the server did not answer within 120 s" >&2
    exit 1
}
start_server "$WORK/server.log"

started=$(date +%s.%N)
OPENAI_API_KEY="$KEY" "$ROOT/target/release/genprompt" generate --task "$ROOT/examples/quickstart/task.toml" \
    -n 3 --base-url "$BASE" --model smollm2 --out "$WORK/out" -v >"$WORK/generate.log" 2>&1 \
    || { tail -30 "$WORK/generate.log" >&2; exit 1; }
elapsed=$(python3 -c "import time; print(round(time.time() - $started, 1))")
python3 - "$WORK/out" "$elapsed" <<'EOF'
import collections, json, sys
out, elapsed = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(f"{out}/dataset.jsonl")]
per_label = collections.Counter(row["label"] for row in rows)
manifest = json.load(open(f"{out}/manifest.json"))
print(f"generate: {len(rows)} rows {dict(per_label)} in {elapsed} s; llm {manifest['llm']}")
assert sorted(per_label.values()) == [3, 3, 3], per_label
assert manifest["llm"]["backend"] == "openai-compatible" and manifest["llm"]["name"] == "smollm2"
print("manifest counts:", json.dumps(manifest.get("counts", manifest.get("labels", "")))[:400])
EOF
if grep -rl "$KEY" "$WORK/out" "$WORK/generate.log"; then
    echo "the API key leaked into the files above" >&2
    exit 1
fi
echo "key check: the dummy key is in no output file and no log line"
requests=$(grep -c '"POST /v1/chat/completions HTTP/1.1" 200' "$WORK/server.log" || true)
echo "server answered $requests chat requests with 200"

OPENAI_API_KEY="$KEY" "$ROOT/target/release/genprompt-bench" endpoint-check "$BASE" smollm2 json

kill $SERVER && wait $SERVER 2>/dev/null || true
start_server "$WORK/server-embeddings.log" --embedding true
OPENAI_API_KEY="$KEY" "$ROOT/target/release/genprompt-bench" endpoint-check "$BASE" smollm2 embeddings
echo "all checks passed"
