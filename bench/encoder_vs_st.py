"""Side-by-side: genprompt's MiniLM encoder and fine-tuning against sentence-transformers and
PyTorch, on the same texts and threads, in the same run. Called by `bench/encoder_vs_st.sh`,
which prepares the venv and the binary; see BENCHMARKS.md ("Sentence encoder").

    python encoder_vs_st.py encode MODEL_DIR BENCH_BIN THREADS NAME FILE [LIMIT] [REPEATS]
    python encoder_vs_st.py finetune MODEL_DIR BENCH_BIN THREADS FILE ROWS
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def read_texts(path, limit):
    with open(path, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    return texts[:limit] if limit else texts


def ours_encode(bench_bin, model_dir, path, limit, threads, out):
    """Runs `genprompt-bench encode-file` in a child process with the thread cap in its
    environment (the only way to size its pools); returns its JSON line."""
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = [bench_bin, "encode-file", path, str(limit), out]
    line = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(line)


def encode(model_dir, bench_bin, threads, name, path, limit=0, repeats=2):
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    texts = read_texts(path, limit)
    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = 256
    tok = model.tokenizer(texts, truncation=True, max_length=256)["input_ids"]
    mean_tokens = sum(len(t) for t in tok) / len(tok)
    model.encode(texts[:32], batch_size=32, normalize_embeddings=True)  # warm-up
    st_rates, our_rates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.f32")
        for _ in range(repeats):  # interleaved, so load changes hit both alike
            started = time.perf_counter()
            ref = model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
            st_rates.append(len(texts) / (time.perf_counter() - started))
            ours = ours_encode(bench_bin, model_dir, path, limit, threads, out)
            our_rates.append(ours["texts_per_s"])
        vectors = np.fromfile(out, dtype="<f4").reshape(len(texts), -1)
    cosines = (vectors * ref).sum(axis=1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(ref, axis=1)
    st, us = max(st_rates), max(our_rates)
    print(
        f"| {name} | {threads} | {len(texts)} | {mean_tokens:.0f} | {st:.0f} | {us:.0f} | {us / st:.2f}x | "
        f"{cosines.min():.5f} / {cosines.mean():.6f} | {ours['kernel']} |",
        flush=True,
    )


def finetune(model_dir, bench_bin, threads, path, rows):
    """PyTorch reference of `TextClassifier::train`: the same model, mean pooling + linear head,
    AdamW (lr 5e-5, weight decay 0.01), batch 16, max length 128, shuffled, one epoch."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(threads)
    torch.manual_seed(42)
    with open(path, encoding="utf-8") as f:
        data = [json.loads(line) for line in f if line.strip()][:rows]
    labels = sorted({d["label"] for d in data})
    texts = [d["text"] for d in data]
    y = torch.tensor([labels.index(d["label"]) for d in data])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    encoder = AutoModel.from_pretrained(model_dir)
    encoder.train()
    head = torch.nn.Linear(encoder.config.hidden_size, len(labels))
    params = list(encoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.01)
    order = torch.randperm(len(texts)).tolist()
    # Timed from the end of the first step, as the genprompt side is (warm-up and allocation).
    started = None
    steps = 0
    for start in range(0, len(order), 16):
        idx = order[start : start + 16]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=128, return_tensors="pt")
        hidden = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        loss = torch.nn.functional.cross_entropy(head(pooled), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if started is None:
            started = time.perf_counter()
        else:
            steps += 1
    torch_s = time.perf_counter() - started
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = [bench_bin, "finetune-file", path, str(rows)]
    line = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    ours = json.loads(line)
    torch_rate, our_rate = steps / torch_s, ours["steps"] / ours["seconds"]
    print(
        f"| {threads} | {rows} | {steps} | {torch_rate:.2f} | {our_rate:.2f} | {our_rate / torch_rate:.2f}x | "
        f"{9000 / 16 / our_rate / 60:.1f} min |",
        flush=True,
    )


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "encode":
        model_dir, bench_bin, threads, name, path = args[:5]
        limit = int(args[5]) if len(args) > 5 else 0
        repeats = int(args[6]) if len(args) > 6 else 2
        encode(model_dir, bench_bin, int(threads), name, path, limit, repeats)
    elif what == "finetune":
        model_dir, bench_bin, threads, path, rows = args
        finetune(model_dir, bench_bin, int(threads), path, int(rows))
    else:
        sys.exit(f"unknown mode {what}; use encode or finetune")
