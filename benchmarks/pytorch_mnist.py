#!/usr/bin/env python3
"""The PyTorch side of gradway's end-to-end benchmark: the seed's MNIST models, same work.

    /usr/bin/python3 benchmarks/pytorch_mnist.py --model cnn --dataset fashion --epochs 3 --threads 2

Trains the seed's MLP or CNN exactly as gradway's examples (and the Keras seed) do, then
prints one JSON object of results as the last line of stdout (progress goes to stderr):

  * models: MLP = Flatten, Dense(512) ReLU, Dense(10); CNN = Conv(32, 3x3) ReLU,
    Conv(64, 3x3) ReLU, MaxPool 2x2, Dropout 0.25, Flatten, Dense(128) ReLU, Dropout 0.5,
    Dense(10). Keras initialisation (Glorot-uniform weights, zero biases); softmax is folded
    into the loss (cross-entropy on logits = Keras categorical cross-entropy after softmax).
  * Adam(lr 1e-3, betas 0.9/0.999, eps 1e-7); batch 200, reshuffled every epoch with a
    seeded torch.Generator, last partial batch included; float32; torch.set_num_threads(N).
  * data: --dataset fashion = Debian's dataset-fashion-mnist (60k/10k IDX .gz files);
    --dataset mnist = the official MNIST IDX files (60k/10k) that third_party/install.sh
    puts in ${XDG_CACHE_HOME:-~/.cache}/gradway/mnist/; --data_dir DIR = the four IDX
    files (raw or .gz) in DIR. Pixels are byte/255, images NCHW.

Measured:
  * seconds per training epoch (the optimisation loop only: shuffling, batch gather,
    forward, backward, Adam step; no evaluation, no data loading), median over epochs;
  * final test accuracy and loss after --epochs epochs (model.eval());
  * peak RSS (getrusage ru_maxrss) after training and the final evaluation, in MiB;
  * inference: img/s at batch 200 over the test set (median of several passes) and
    latency at batch 1 (median ms per image over single-image calls after warm-up), both
    under model.eval() and torch.no_grad().

glibc's allocator settings matter a lot for PyTorch on CPU (benchmarks/README.md): unless
--default_malloc is given, the script re-executes itself once with
MALLOC_TRIM_THRESHOLD_=1000000000 MALLOC_MMAP_THRESHOLD_=33554432 OPENBLAS_NUM_THREADS=1
when they are not already set (glibc reads them at process start).
"""

import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import time

# PyTorch's faster configuration (benchmarks/README.md, Environment): glibc keeps freed memory.
TORCH_ENV = {
    "MALLOC_TRIM_THRESHOLD_": "1000000000",
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "OPENBLAS_NUM_THREADS": "1",
}

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ---------------------------------------------------------------------------------------
# Data (returns numpy uint8 images N x 28 x 28 and uint8 labels).

def cache_dir():
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "gradway")
    return os.path.join(os.path.expanduser("~"), ".cache", "gradway")


def find_idx(directory, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def read_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    count = 1
    for d in dims:
        count *= d
    if len(raw) - offset != count:
        raise ValueError(f"{path}: header says {dims} ({count} bytes) but holds "
                         f"{len(raw) - offset} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


def load_idx_dir(directory):
    paths = [find_idx(directory, name) for name in IDX_FILES]
    missing = [name for name, p in zip(IDX_FILES, paths) if p is None]
    if missing:
        raise FileNotFoundError(f"{directory}: missing {', '.join(missing)} (raw or .gz)")
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError(f"{directory}: image and label counts differ")
    return x_train, y_train, x_test, y_test


def load_dataset(name, data_dir):
    """Returns (x_train, y_train, x_test, y_test, description)."""
    if data_dir:
        return (*load_idx_dir(data_dir), f"IDX files in {data_dir}")
    if name == "fashion":
        if not os.path.isdir(FASHION_DIR):
            raise FileNotFoundError(f"Fashion-MNIST not found in {FASHION_DIR}: "
                                    "apt-get install dataset-fashion-mnist")
        return (*load_idx_dir(FASHION_DIR), f"Fashion-MNIST ({FASHION_DIR})")
    full = os.path.join(cache_dir(), "mnist")
    present = [n for n in IDX_FILES if find_idx(full, n)]
    if len(present) < 4:
        raise FileNotFoundError(f"MNIST not found: {full} holds {len(present)} of its four "
                                "IDX files; run: bash third_party/install.sh")
    return (*load_idx_dir(full), f"MNIST (official IDX files in {full})")


# ---------------------------------------------------------------------------------------
# Models.

def build_model(kind):
    import torch
    from torch import nn
    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    else:
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(128, 10))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(m.weight)  # Keras glorot_uniform
                nn.init.zeros_(m.bias)
    return model


def evaluate(model, x, y, batch_size):
    import torch
    import torch.nn.functional as F
    model.eval()
    loss_sum = 0.0
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size])
            yb = y[i:i + batch_size]
            loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
    return loss_sum / len(x), correct / len(x)


def train_epoch(model, opt, x, y, batch_size, gen):
    """One epoch; returns (seconds, mean training loss, training accuracy)."""
    import torch
    import torch.nn.functional as F
    model.train()
    n = len(x)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    t0 = time.perf_counter()
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch_size):
        idx = perm[i:i + batch_size]
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            loss_sum += loss.detach().double() * len(idx)
            correct += (logits.argmax(1) == yb).sum()
    seconds = time.perf_counter() - t0
    return seconds, loss_sum.item() / n, correct.item() / n


def inference(model, x, batch_size, passes, latency_calls):
    import torch
    model.eval()
    with torch.no_grad():
        for i in range(0, min(len(x), 2 * batch_size), batch_size):  # warm-up
            model(x[i:i + batch_size])
        times = []
        for _ in range(passes):
            t0 = time.perf_counter()
            for i in range(0, len(x), batch_size):
                model(x[i:i + batch_size])
            times.append(time.perf_counter() - t0)
        ips = len(x) / statistics.median(times)
        singles = [x[i % len(x):i % len(x) + 1] for i in range(latency_calls)]
        for s in singles[:20]:  # warm-up
            model(s)
        lat = []
        for s in singles:
            t0 = time.perf_counter()
            model(s)
            lat.append((time.perf_counter() - t0) * 1e3)
    return ips, statistics.median(lat)


# ---------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    parser.add_argument("--dataset", choices=["fashion", "mnist"], default="mnist")
    parser.add_argument("--data_dir", default="",
                        help="folder with the four IDX files (raw or .gz); overrides --dataset")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=200)
    parser.add_argument("--inference_passes", type=int, default=5,
                        help="passes over the test set at batch 200 (median reported)")
    parser.add_argument("--latency_calls", type=int, default=200,
                        help="single-image calls for the batch-1 latency (median reported)")
    parser.add_argument("--no_inference", action="store_true",
                        help="skip the inference measurements")
    parser.add_argument("--default_malloc", action="store_true",
                        help="keep glibc's default allocator settings (PyTorch's slower "
                             "configuration) instead of re-executing with TORCH_ENV")
    args = parser.parse_args()

    if not args.default_malloc and any(os.environ.get(k) != v for k, v in TORCH_ENV.items()):
        env = dict(os.environ)
        env.update(TORCH_ENV)
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
                  env)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # weights and dropout masks
    gen = torch.Generator().manual_seed(args.seed)  # shuffling

    t0 = time.perf_counter()
    x_train, y_train, x_test, y_test, description = load_dataset(args.dataset, args.data_dir)

    def to_tensors(x, y):
        xf = x.astype(np.float32)
        xf /= np.float32(255.0)  # in place: no second float copy to inflate the peak RSS
        xt = torch.from_numpy(xf)
        return xt.reshape(len(x), 1, x.shape[1], x.shape[2]).contiguous(), \
            torch.from_numpy(y.astype(np.int64))

    x_train, y_train = to_tensors(x_train, y_train)
    x_test, y_test = to_tensors(x_test, y_test)
    load_seconds = time.perf_counter() - t0
    log(f"{description}: {len(x_train)} train / {len(x_test)} test "
        f"({load_seconds:.1f} s to load); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads")

    model = build_model(args.model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    history = []
    for epoch in range(1, args.epochs + 1):
        seconds, loss, acc = train_epoch(model, opt, x_train, y_train, args.batch_size, gen)
        val_loss, val_acc = evaluate(model, x_test, y_test, args.batch_size)
        history.append({"epoch": epoch, "loss": loss, "accuracy": acc, "val_loss": val_loss,
                        "val_accuracy": val_acc, "seconds": seconds})
        log(f"epoch {epoch}/{args.epochs}: {seconds:.2f} s, loss {loss:.4f}, "
            f"accuracy {acc:.4f}, val_loss {val_loss:.4f}, val_accuracy {val_acc:.4f}")
    test_loss, test_acc = (history[-1]["val_loss"], history[-1]["val_accuracy"]) if history \
        else evaluate(model, x_test, y_test, args.batch_size)
    peak_train = peak_rss_mib()

    result = {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "model": args.model,
        "dataset": args.data_dir or args.dataset,
        "dataset_description": description,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "epochs": args.epochs,
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "seed": args.seed,
        "seconds_per_epoch_median": statistics.median(h["seconds"] for h in history)
        if history else None,
        "epoch_seconds": [h["seconds"] for h in history],
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "peak_rss_mib": peak_train,
        "load_seconds": load_seconds,
        "history": history,
        "malloc_env": {k: os.environ.get(k) for k in TORCH_ENV},
    }
    if not args.no_inference:
        ips, lat = inference(model, x_test, 200, args.inference_passes, args.latency_calls)
        result["inference_images_per_second_b200"] = ips
        result["latency_ms_b1"] = lat
        log(f"inference: {ips:,.0f} img/s at batch 200, {lat:.3f} ms per image at batch 1")
    result["peak_rss_mib_end"] = peak_rss_mib()
    log(f"test accuracy {test_acc:.4f}; median {result['seconds_per_epoch_median']:.3f} s/epoch;"
        f" peak RSS {peak_train:.0f} MiB")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
