"""The homework's model in PyTorch's Python API, timed the way bench/train_bench.cpp times
poet_dist: embedding 128, hidden 256, 2 layers, batch 128, AdamW, clipping.

Two workloads, on the same dataset (read with h5py):
  padded: one poem a row, padded to 125 positions, the usual homework batching; tokens/s
          counts only non-padding targets ("useful" tokens);
  packed: rows of 125 tokens packed from poems back to back, the same tensors poet_dist trains on.
Prints tokens/s (median of the timed steps) for each, and the share of padded positions.
"""
import argparse
import os
import statistics
import time

import h5py
import numpy as np
import torch
import torch.nn as nn

PAD, BOS, EOS = 0, 1, 2


class Poet(nn.Module):
    def __init__(self, vocab, embed=128, hidden=256, layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x):
        out, _ = self.lstm(self.embedding(x))
        return self.head(out)


def poems(path):
    with h5py.File(path, "r") as f:
        tokens = f["train/tokens"][:]
        offsets = f["train/poem_offsets"][:]
        vocab = f["vocab/tokens"].shape[0]
    return [tokens[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)], vocab


def padded_batches(poem_list, batch, length, rng):
    order = rng.permutation(len(poem_list))
    for start in range(0, len(order) - batch, batch):
        rows = np.full((batch, length + 1), PAD, dtype=np.int64)
        for r, i in enumerate(order[start:start + batch]):
            seq = np.concatenate([[BOS], poem_list[i], [EOS]])[: length + 1]
            rows[r, : len(seq)] = seq
        yield torch.from_numpy(rows)


def packed_batches(poem_list, batch, length, rng):
    order = rng.permutation(len(poem_list))
    stream = np.concatenate([np.concatenate([[BOS], poem_list[i], [EOS]]) for i in order]).astype(np.int64)
    rows = (len(stream) - 1) // length
    for start in range(0, rows - batch, batch):
        yield torch.stack([torch.from_numpy(stream[(start + r) * length:(start + r + 1) * length + 1])
                           for r in range(batch)])


def time_workload(model, batches, warmup, steps, device, bf16):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    seconds, useful, positions = [], 0, 0
    for s, rows in enumerate(batches):
        if s == warmup + steps:
            break
        start = time.perf_counter()
        rows = rows.to(device)
        x, y = rows[:, :-1], rows[:, 1:]
        optimizer.zero_grad()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = loss_fn(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss.item()
        if device == "cuda":
            torch.cuda.synchronize()
        if s >= warmup:
            seconds.append(time.perf_counter() - start)
            useful += int((y != PAD).sum())
            positions += y.numel()
    per_step = useful / len(seconds)
    return per_step / statistics.median(seconds), 1.0 - useful / positions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--bf16", action="store_true", help="the model under CUDA bf16 autocast")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    poem_list, vocab = poems(args.data)
    for name, make in (("padded", padded_batches), ("packed", packed_batches)):
        model = Poet(vocab).to(args.device)
        rate, pad_share = time_workload(model, make(poem_list, 128, 125, np.random.default_rng(1)),
                                        args.warmup, args.steps, args.device, args.bf16)
        where = ("cuda " + ("bf16" if args.bf16 else "fp32")) if args.device == "cuda" else f"{args.threads} threads"
        print(f"python {name:13s} {where}  batch 128 x 125  {rate:.0f} useful tokens/s "
              f"({100 * pad_share:.0f}% of positions are padding)")
        print(f"RESULT python_{name}_tokens_per_s={rate:.1f}")


if __name__ == "__main__":
    main()
