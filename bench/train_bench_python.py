"""poet_dist's model in PyTorch's Python API, timed the way bench/train_bench.cpp times poet_dist:
the same model and batch, AdamW, clipping. By default the homework's model (embedding 128,
hidden 256, 2 layers, no dropout, batch 128 x 125); --config configs/NAME.toml takes the model
and batch from one of poet_dist's configs instead, as bench/train_bench.cpp --config does (it
needs Python 3.11's tomllib). --embed, --hidden, --layers, --dropout, --tie-weights or
--no-tie-weights, --batch and --seq-len set the model and batch on the command line, over either;
scripts/gpu-check.sh passes those that train_bench printed, on a python3 that may lack tomllib.

Two workloads, on the same dataset (read with h5py):
  padded: one poem a row, padded to the row length, the usual homework batching; tokens/s
          counts only non-padding targets ("useful" tokens);
  packed: rows packed from poems back to back, the same tensors poet_dist trains on.
Prints tokens/s (median of the timed steps) for each, the share of padded positions, the model
and the precision that ran.
"""
import argparse
import dataclasses
import os
import statistics
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, EOS = 0, 1, 2


@dataclasses.dataclass
class Shape:
    """A model and batch to time: where they came from, and the config keys this benchmark reads,
    named as in poet_dist's config."""
    name: str
    embed: int
    hidden: int
    layers: int
    dropout: float
    tie_weights: bool
    seq_len: int
    batch_size: int

    def describe(self):  # in bench/train_bench.cpp's words
        tied = "tied" if self.tie_weights else "untied"
        return (f"{self.name}: embed {self.embed}, hidden {self.hidden}, {self.layers} layers, "
                f"dropout {self.dropout:g}, {tied}")


HOMEWORK = Shape("homework model", embed=128, hidden=256, layers=2, dropout=0.0, tie_weights=False,
                 seq_len=125, batch_size=128)
KEYS = {"model": ("embed", "hidden", "layers", "dropout", "tie_weights"), "data": ("seq_len", "batch_size")}


def shape_from_config(path):
    # Imported here: Python before 3.11 lacks tomllib, and a GPU machine's python3 may be one;
    # it can still time the homework's model.
    if sys.version_info < (3, 11):
        raise SystemExit("train_bench_python: --config needs Python 3.11 or later (tomllib); "
                         f"this is {sys.version.split()[0]}")
    import tomllib

    # Every key must be in the file: a default copied here from config/train_config.h could drift
    # from poet_dist's and time a different model without a word.
    with open(path, "rb") as f:
        config = tomllib.load(f)
    values = {}
    for section, keys in KEYS.items():
        for key in keys:
            if key not in config.get(section, {}):
                raise SystemExit(f"train_bench_python: {path}: {section}.{key} is not set; this benchmark "
                                 "reads the model only from the file, so write every key it uses")
            values[key] = config[section][key]
    return Shape(path, **values)


class Poet(nn.Module):
    """model/poet_model.cpp's PoetModel: embedding -> dropout -> LSTM (dropout between layers)
    -> dropout -> linear to the vocabulary, whose weight is the embedding's when tied."""

    def __init__(self, vocab, shape):
        super().__init__()
        self.embedding = nn.Embedding(vocab, shape.embed)
        self.dropout = nn.Dropout(shape.dropout)
        self.lstm = nn.LSTM(shape.embed, shape.hidden, num_layers=shape.layers, batch_first=True,
                            dropout=shape.dropout if shape.layers > 1 else 0.0)
        self.tied = shape.tie_weights
        if self.tied:
            self.output_bias = nn.Parameter(torch.zeros(vocab))
        else:
            self.head = nn.Linear(shape.hidden, vocab)

    def hidden(self, x):
        out, _ = self.lstm(self.dropout(self.embedding(x)))
        return self.dropout(out)

    def output(self, h):
        return F.linear(h, self.embedding.weight, self.output_bias) if self.tied else self.head(h)

    def forward(self, x):
        return self.output(self.hidden(x))


def autocast(device, bf16):
    # The autocast of the tensors' own device: asking for CUDA's on a CPU-only build fails.
    return torch.autocast(device, dtype=torch.bfloat16, enabled=bf16)


def precision(model, device, bf16):
    """What ran, read off one position in evaluation mode: autocast picks each operation's dtype,
    and the one asked for is not always the one an operation computes in."""
    training = model.training
    model.eval()
    with torch.no_grad(), autocast(device, bf16):
        h = model.hidden(torch.zeros(1, 1, dtype=torch.int64, device=device))
        logits = model.output(h)
    model.train(training)
    names = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}
    return (f"{'bf16 autocast' if bf16 else 'no autocast'}: LSTM output {names.get(h.dtype, h.dtype)}, "
            f"logits {names.get(logits.dtype, logits.dtype)}, loss fp32, weights and AdamW fp32")


def poems(path):
    with h5py.File(path, "r") as f:
        tokens = f["train/tokens"][:]
        offsets = f["train/poem_offsets"][:]
        vocab = f["vocab/tokens"].shape[0]
    return [tokens[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)], vocab


def packed_rows(poem_list, length):
    return (sum(len(p) + 2 for p in poem_list) - 1) // length  # each poem gains <bos> and <eos>


# Both workloads repeat epochs without end, as bench/train_bench.cpp does, so a small dataset
# still gives every step a batch; main() checks first that an epoch holds one.
def padded_batches(poem_list, batch, length, rng):
    while True:
        order = rng.permutation(len(poem_list))
        for start in range(0, len(order) - batch + 1, batch):
            rows = np.full((batch, length + 1), PAD, dtype=np.int64)
            for r, i in enumerate(order[start:start + batch]):
                seq = np.concatenate([[BOS], poem_list[i], [EOS]])[: length + 1]
                rows[r, : len(seq)] = seq
            yield torch.from_numpy(rows)


def packed_batches(poem_list, batch, length, rng):
    while True:
        order = rng.permutation(len(poem_list))
        stream = np.concatenate([np.concatenate([[BOS], poem_list[i], [EOS]]) for i in order]).astype(np.int64)
        rows = (len(stream) - 1) // length
        for start in range(0, rows - batch + 1, batch):
            yield torch.stack([torch.from_numpy(stream[(start + r) * length:(start + r + 1) * length + 1])
                               for r in range(batch)])


def time_workload(model, batches, warmup, steps, device, bf16):
    """Tokens/s (median of the timed steps) and the share of padded positions."""
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
        with autocast(device, bf16):
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--config", help="a poet_dist config (configs/NAME.toml): its model and batch")
    parser.add_argument("--batch", type=int, help="rows a step (default: 128, or the config's data.batch_size)")
    parser.add_argument("--seq-len", type=int, help="characters a row (default: 125, or the config's data.seq_len)")
    # The model's keys, each over the homework's or the config's value.
    parser.add_argument("--embed", type=int, help="model.embed")
    parser.add_argument("--hidden", type=int, help="model.hidden")
    parser.add_argument("--layers", type=int, help="model.layers")
    parser.add_argument("--dropout", type=float, help="model.dropout")
    tie = parser.add_mutually_exclusive_group()  # argparse.BooleanOptionalAction needs Python 3.9
    tie.add_argument("--tie-weights", dest="tie_weights", action="store_const", const=True, help="model.tie_weights")
    tie.add_argument("--no-tie-weights", dest="tie_weights", action="store_const", const=False)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--bf16", action="store_true", help="the model under bf16 autocast on its device")
    args = parser.parse_args()
    shape = shape_from_config(args.config) if args.config else HOMEWORK
    given = {key: getattr(args, key) for key in KEYS["model"] if getattr(args, key) is not None}
    if given:
        name = f"{args.config} with command-line model keys" if args.config else "command-line model"
        shape = dataclasses.replace(shape, name=name, **given)
    if shape.embed < 1 or shape.hidden < 1 or shape.layers < 1 or not 0 <= shape.dropout < 1:
        parser.error("--embed, --hidden and --layers must be at least 1, --dropout in [0, 1)")
    if shape.tie_weights and shape.embed != shape.hidden:
        parser.error(f"tied weights need embed = hidden; this model has {shape.embed} and {shape.hidden}")
    batch = shape.batch_size if args.batch is None else args.batch
    length = shape.seq_len if args.seq_len is None else args.seq_len
    if batch < 1 or length < 2 or args.steps < 1:
        parser.error("--batch and --steps must be at least 1, --seq-len at least 2")
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    poem_list, vocab = poems(args.data)
    if len(poem_list) < batch or packed_rows(poem_list, length) < batch:
        origin = f"data.batch_size of {args.config}; lower it with --batch" if args.config and args.batch is None \
            else "lower --batch"
        raise SystemExit(f"train_bench_python: {args.data}: the training split has {len(poem_list)} poems and packs "
                         f"{packed_rows(poem_list, length)} rows of {length}, fewer than one batch of {batch} "
                         f"({origin})")
    where = "cuda" if args.device == "cuda" else f"cpu {args.threads} threads"
    for name, make in (("padded", padded_batches), ("packed", packed_batches)):
        model = Poet(vocab, shape).to(args.device)
        rate, pad_share = time_workload(model, make(poem_list, batch, length, np.random.default_rng(1)),
                                        args.warmup, args.steps, args.device, args.bf16)
        print(f"python {name:13s} {where}  {shape.describe()}  batch {batch} x {length}  {rate:.0f} useful tokens/s "
              f"({100 * pad_share:.0f}% of positions are padding)")
        print(f"RESULT python_{name}_tokens_per_s={rate:.1f}")
    print(f"python compute       {precision(model, args.device, args.bf16)}")

if __name__ == "__main__":
    main()
