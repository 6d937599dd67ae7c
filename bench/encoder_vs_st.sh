#!/usr/bin/env bash
# genprompt's encoder and fine-tuning beside sentence-transformers / PyTorch, same texts, same
# threads, same run; prints Markdown table rows for BENCHMARKS.md ("Sentence encoder").
#
#   bench/encoder_vs_st.sh [DATASETS_DIR] [encode|finetune|all]
#
# DATASETS_DIR holds JSONL sets with a `text` field (default /work/shared/datasets): short texts
# are the TweetEval emotion test rows, medium ones the first 1,000 AG News test rows.
# sentence-transformers and its torch go into a venv under target/ (created on first use).
# The model is the catalogue's all-minilm-l6-v2 folder (`genprompt models fetch`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
data="${1:-/work/shared/datasets}"
what="${2:-all}"
venv="$root/target/st-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet sentence-transformers
fi
(cd "$root" && cargo build --release -j2 --quiet)  # the whole workspace: a -p build resolves other features and rebuilds dependencies
bin="$root/target/release/genprompt-bench"
home="${GENPROMPT_HOME:-$HOME/.cache/genprompt}"
model="$home/models/all-minilm-l6-v2"
[ -f "$model/model.safetensors" ] || { echo "no encoder at $model: run \`genprompt models fetch\`" >&2; exit 2; }
export GENPROMPT_HOME="$home" TOKENIZERS_PARALLELISM=false
py="$venv/bin/python $here/encoder_vs_st.py"

echo "load before: $(uptime)"
if [ "$what" != finetune ]; then
    echo "| texts | threads | n | mean tokens | sentence-transformers texts/s | genprompt texts/s | ratio | cosine to ST min / mean | kernel |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
    for threads in 1 2; do
        $py encode "$model" "$bin" "$threads" "short: TweetEval emotion" "$data/tweeteval_emotion/test.jsonl"
        $py encode "$model" "$bin" "$threads" "medium: AG News" "$data/ag_news/test.jsonl" 1000
    done
fi
if [ "$what" != encode ]; then
    echo "| threads | rows | steps | PyTorch steps/s | genprompt steps/s | ratio | 3,000 rows x 3 epochs (genprompt) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    for threads in 1 2; do
        $py finetune "$model" "$bin" "$threads" "$data/tweeteval_emotion/train.jsonl" 336
    done
fi
echo "load after: $(uptime)"
