"""poet_dist's model in PyTorch's Python API, timed the way bench/train_bench.cpp times poet_dist:
the same model and batch, AdamW, clipping. By default the homework's model (embedding 128,
hidden 256, 2 layers, no dropout, batch 128 x 125); --config configs/NAME.toml takes the model
and batch from one of poet_dist's configs instead, as bench/train_bench.cpp --config does (it
needs Python 3.11's tomllib). --embed, --hidden, --layers, --dropout, --tie-weights or
--no-tie-weights, --batch and --seq-len set the model and batch on the command line, over either;
scripts/gpu-check.sh passes those that train_bench printed, on a python3 that may lack tomllib.

Workloads, on the same dataset (read with h5py):
  padded:        one poem a row, padded to the row length, the usual homework batching;
                 tokens/s counts only non-padding targets ("useful" tokens);
  packed:        rows packed from poems back to back, the same tensors poet_dist trains on;
  poet_dist-alg: (--poet-algorithm, CPU only) the packed rows through poet_dist's algorithm
                 rather than PyTorch's usual one: explicit casts instead of autocast, a layer a
                 torch.lstm call, and the output layer's cross-entropy in chunks of rows.
padded and packed are the usual PyTorch code, under torch.autocast with --bf16, which on the CPU
(torch 1.13) runs the LSTM's matrix products in bf16 but keeps its cell state and output in fp32,
and gives bf16 logits that are cast to fp32 for the loss. Prints tokens/s (median of the timed
steps) for each, the share of padded positions, the model, and for each algorithm the dtypes its
products, LSTM state and output ran in, read off a forward pass.
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
from torch.utils._python_dispatch import TorchDispatchMode

PAD, BOS, EOS = 0, 1, 2
CHUNK_ROWS = 512  # model/chunked_cross_entropy.h's default, which trainer/train_step.cpp uses


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
            self.tied_bias = nn.Parameter(torch.zeros(vocab))
        else:
            self.head = nn.Linear(shape.hidden, vocab)

    def hidden(self, x):
        """The LSTM's output (B, T, H) and final cell state."""
        out, (_, c) = self.lstm(self.dropout(self.embedding(x)))
        return self.dropout(out), c

    def output_weight(self):
        return self.embedding.weight if self.tied else self.head.weight

    def output_bias(self):
        return self.tied_bias if self.tied else self.head.bias

    def output(self, h):
        return F.linear(h, self.output_weight(), self.output_bias())


# ---------------------------------------------------------------------------
# The two algorithms: PyTorch's usual one, and poet_dist's


@dataclasses.dataclass
class Algorithm:
    """One way to compute a step's loss: hidden(model, x) gives the LSTM's output (B, T, H) and
    final cell state, loss(model, h, y) the mean loss over the targets. Split in two so that the
    compute line can tell the LSTM's products from the output layer's."""
    name: str
    hidden: object
    loss: object


def autocast_algorithm(device, bf16):
    """The usual PyTorch code: nn.LSTM and a full (B, T, V) logits tensor under autocast (on the
    tensors' own device: asking for CUDA's on a CPU-only build fails), cross_entropy in fp32."""
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)

    def hidden(model, x):
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            return model.hidden(x)

    def loss(model, h, y):
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            logits = model.output(h)
        return loss_fn(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))

    return Algorithm("bf16 autocast" if bf16 else "no autocast", hidden, loss)


class ChunkedLinearCrossEntropy(torch.autograd.Function):
    """model/chunked_cross_entropy.cpp, line for line: the output layer and its cross-entropy a
    chunk of rows at a time, never the whole logits tensor, with the gradients formed in forward.
    Products in hidden's dtype on cast copies of the weights; softmax and loss in fp32."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_rows):
        w, b = weight.to(hidden.dtype), bias.to(hidden.dtype)
        grad_hidden = torch.empty_like(hidden)
        grad_weight, grad_bias = torch.zeros_like(weight), torch.zeros_like(bias)
        loss = torch.zeros((), dtype=weight.dtype, device=weight.device)
        for start in range(0, hidden.shape[0], chunk_rows):
            h = hidden[start:start + chunk_rows]  # (n, H)
            t = targets[start:start + chunk_rows].unsqueeze(1)  # (n, 1)
            logits = torch.addmm(b, h, w.t()).float()  # (n, V)
            lse = logits.logsumexp(1, keepdim=True)
            loss += (lse - logits.gather(1, t)).sum()
            # d(sum loss)/d(logits) = softmax - one_hot, built in place of the logits.
            logits.sub_(lse).exp_()
            logits.scatter_add_(1, t, torch.full_like(t, -1.0, dtype=logits.dtype))
            grad_bias += logits.sum(0)
            d = logits.to(hidden.dtype)
            grad_hidden[start:start + chunk_rows] = d @ w
            if d.dtype == grad_weight.dtype:
                grad_weight.addmm_(d.t(), h)
            else:
                grad_weight += d.t() @ h
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        return loss

    @staticmethod
    def backward(ctx, g):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        return grad_hidden * g, grad_weight * g, grad_bias * g, None, None


def poet_dist_algorithm(bf16):
    """poet_dist's step (model/poet_model.cpp's hidden(), trainer/train_step.cpp's loss) in Python:
    the LSTM a layer a torch.lstm call, time-major, on weights, input and state cast to bf16
    explicitly (the whole cell in bf16); the output layer through ChunkedLinearCrossEntropy. CPU
    only: on CUDA poet_dist keeps the LSTM in fp32 and lays each layer's weights out for cuDNN."""
    dtype = torch.bfloat16 if bf16 else torch.float32

    def hidden(model, x):
        lstm = model.lstm
        h = model.dropout(model.embedding(x)).to(dtype).transpose(0, 1)  # (T, B, E)
        cells = []
        for layer in range(lstm.num_layers):
            if layer > 0:
                h = F.dropout(h, lstm.dropout, model.training)
            weights = [getattr(lstm, f"{name}_l{layer}").to(dtype)
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            zeros = h.new_zeros(1, h.shape[1], lstm.hidden_size)
            h, _, c = torch.lstm(h, (zeros, zeros), weights, True, 1, 0.0, model.training, False, False)
            cells.append(c)
        return model.dropout(h.transpose(0, 1)), torch.cat(cells)  # (B, T, H)

    def loss(model, h, y):
        h = h.to(dtype).reshape(-1, h.shape[-1])
        total = ChunkedLinearCrossEntropy.apply(h, model.output_weight(), model.output_bias(), y.reshape(-1),
                                                CHUNK_ROWS)
        return total / y.numel()  # packed rows: every position is a target

    return Algorithm(f"poet_dist's algorithm, {'bf16' if bf16 else 'fp32'}", hidden, loss)


NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


def dtype_name(dtype):
    return NAMES.get(dtype, str(dtype))


class ProductDtypes(TorchDispatchMode):
    """The dtypes the matrix products ran in. A dispatch mode sees each operation after autocast
    has cast its inputs, so this reads what ran, not what was asked for."""
    PRODUCTS = {"mm", "addmm", "bmm", "_cudnn_rnn", "mkldnn_rnn_layer"}

    def __init__(self):
        super().__init__()
        self.dtypes = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.name.split("::")[-1] in self.PRODUCTS:
            self.dtypes.update(dtype_name(a.dtype) for a in args if isinstance(a, torch.Tensor))
        return func(*args, **(kwargs or {}))

    def __str__(self):
        return "+".join(sorted(self.dtypes)) or "none seen"


def compute(model, device, algorithm):
    """What ran, read off one position in evaluation mode: autocast picks each operation's dtype,
    and the one asked for is not always the one an operation computes in."""
    training = model.training
    model.eval()
    x = torch.full((1, 1), BOS, dtype=torch.int64, device=device)
    with torch.no_grad():
        with ProductDtypes() as lstm:
            h, c = algorithm.hidden(model, x)
        with ProductDtypes() as output:
            algorithm.loss(model, h, x)
    model.train(training)
    return (f"{algorithm.name}: LSTM products {lstm}, cell state {dtype_name(c.dtype)}, output "
            f"{dtype_name(h.dtype)}; output-layer products {output}; softmax and loss fp32, weights and AdamW fp32")


# ---------------------------------------------------------------------------
# Data and timing


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


def time_workload(model, batches, warmup, steps, device, algorithm):
    """Tokens/s (median of the timed steps) and the share of padded positions."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    seconds, useful, positions = [], 0, 0
    for s, rows in enumerate(batches):
        if s == warmup + steps:
            break
        start = time.perf_counter()
        rows = rows.to(device)
        x, y = rows[:, :-1], rows[:, 1:]
        optimizer.zero_grad()
        h, _ = algorithm.hidden(model, x)
        loss = algorithm.loss(model, h, y)
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
    parser.add_argument("--bf16", action="store_true",
                        help="bf16: autocast on the tensors' device, or poet_dist's casts for poet_dist-alg")
    parser.add_argument("--poet-algorithm", action="store_true",
                        help="also time the packed rows with poet_dist's algorithm (CPU only)")
    args = parser.parse_args()
    if args.poet_algorithm and args.device != "cpu":
        parser.error("--poet-algorithm mirrors poet_dist's CPU precision and layout; run it with --device cpu")
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
    usual = autocast_algorithm(args.device, args.bf16)
    workloads = [("padded", padded_batches, usual), ("packed", packed_batches, usual)]
    if args.poet_algorithm:
        workloads.append(("poet_dist-alg", packed_batches, poet_dist_algorithm(args.bf16)))
    for name, make, algorithm in workloads:
        model = Poet(vocab, shape).to(args.device)
        rate, pad_share = time_workload(model, make(poem_list, batch, length, np.random.default_rng(1)),
                                        args.warmup, args.steps, args.device, algorithm)
        print(f"python {name:13s} {where}  {shape.describe()}  batch {batch} x {length}  {rate:.0f} useful tokens/s "
              f"({100 * pad_share:.0f}% of positions are padding)")
        print(f"RESULT python_{name.replace('-', '_')}_tokens_per_s={rate:.1f}")
        if name != "padded":  # padded and packed share an algorithm: one line for both
            print(f"python compute       {compute(model, args.device, algorithm)}")


if __name__ == "__main__":
    main()
