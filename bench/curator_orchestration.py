"""Curator's side of `genprompt-bench orchestration`: N chat requests at K in flight to the same
fixed-latency server, through Curator's OpenAI online backend.

Prints one JSON line: wall time and this process's CPU time (user + sys, itself plus waited-for
children) around the `LLM.__call__` that sends the requests (Curator writes its request file,
sends, and builds the response dataset inside that call), excluding interpreter start and
imports. A warm-up call of K requests runs first, as for our client.

Settings that keep Curator from throttling itself: `max_concurrent_requests = K`, request and token
budgets far above what the run needs (the server sends no x-ratelimit headers, and Curator's
defaults would otherwise apply), caching off (CURATOR_DISABLE_CACHE, set by the caller, plus a
fresh working directory per call), no viewer, no telemetry.

Run by the benchmark; by hand:
  target/curator-venv/bin/python bench/curator_orchestration.py --base-url URL --requests 64 --in-flight 8
"""

import argparse
import glob
import json
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("CURATOR_DISABLE_CACHE", "true")
os.environ.setdefault("TELEMETRY_ENABLED", "false")
os.environ.setdefault("CURATOR_DISABLE_RICH_DISPLAY", "1")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-dummy")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# tiktoken downloads its encodings on first use, which this machine cannot; litellm ships the
# real cl100k_base file under tiktoken's cache name, so point tiktoken's cache there.
for site in sys.path:
    bundled = os.path.join(site, "litellm", "litellm_core_utils", "tokenizers")
    if glob.glob(os.path.join(bundled, "9b5ad71b2ce5302211f9c61530b329a4922fc6a4")):
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", bundled)
        break

from bespokelabs import curator  # noqa: E402


class Bench(curator.LLM):
    """The same two messages as the Rust side's `testing::request(i)`, or a given user prompt."""

    def prompt(self, row):
        return [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": row["key"]}]

    def parse(self, row, response):
        return {"key": row["key"], "response": response}


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--in-flight", type=int, required=True)
    parser.add_argument("--prompts", help="JSON list of user prompts to send instead of 'request {i}'")
    args = parser.parse_args()
    prompts = None
    if args.prompts:
        with open(args.prompts) as f:
            prompts = json.load(f)
    llm = Bench(
        model_name="bench-model",
        backend="openai",
        generation_params={"temperature": 0.7, "top_p": 0.9, "max_tokens": 64, "stop": ["\n\n"]},
        backend_params={
            "base_url": args.base_url,
            "max_concurrent_requests": args.in_flight,
            "max_requests_per_minute": 100_000_000,
            "max_tokens_per_minute": 100_000_000_000,
            "request_timeout": 180,
            "max_retries": 5,
            "require_all_responses": False,
        },
    )
    with tempfile.TemporaryDirectory() as work:
        warm = [{"key": f"request {1_000_000 + i}"} for i in range(args.in_flight)]
        llm(warm, working_dir=os.path.join(work, "warm"))
        rows = [{"key": prompts[i] if prompts else f"request {i}"} for i in range(args.requests)]
        cpu, started = cpu_seconds(), time.perf_counter()
        response = llm(rows, working_dir=os.path.join(work, "run"))
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        dataset = response.dataset if hasattr(response, "dataset") else response
        if prompts:
            ok = sum(1 for row in dataset if row["response"])
        else:
            ok = sum(1 for row in dataset if row["response"] == f"reply to {row['key']}")
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "ok": ok}))


if __name__ == "__main__":
    main()
