#!/usr/bin/env python3
"""The PyTorch side of gradway's end-to-end benchmark: the examples' models, same work.

    /usr/bin/python3 benchmarks/pytorch_mnist.py --model cnn --dataset fashion --epochs 3 --threads 2
    /usr/bin/python3 benchmarks/pytorch_mnist.py --model resnet --dataset fashion --epochs 3

Trains the seed's MLP or CNN exactly as gradway's examples (and the Keras seed) do, or
fashion_resnet's ResNet as examples/fashion_resnet.cc does, then prints one JSON object of
results as the last line of stdout (progress goes to stderr):

  * models: MLP = Flatten, Dense(512) ReLU, Dense(10); CNN = Conv(32, 3x3) ReLU,
    Conv(64, 3x3) ReLU, MaxPool 2x2, Dropout 0.25, Flatten, Dense(128) ReLU, Dropout 0.5,
    Dense(10). Keras initialisation (Glorot-uniform weights, zero biases); softmax is folded
    into the loss (cross-entropy on logits = Keras categorical cross-entropy after softmax).
  * ResNet = examples/mnist_models.cc MakeFashionResNet: in training only, per image, a
    horizontal flip with probability 1/2 and a random 28x28 window of the image zero-padded
    by 2; a stem Conv(16, 3x3)-BN-ReLU; three stages of two residual blocks (Conv-BN-ReLU-
    Conv-BN plus the skip, then ReLU), 16, 32 and 64 filters, stages 2 and 3 starting with
    stride 2 and a 1x1 Conv-BN projection skip; global average pooling, Dense(10).
    Convolutions have no bias and Keras' 'same' padding (for stride 2 on an even size TF
    pads 0 before and 1 after: an F.pad); BatchNorm2d(momentum=0.01, eps=1e-3) = Keras'
    momentum 0.99, epsilon 1e-3; Glorot-uniform kernels, zero biases, gamma 1, beta 0;
    channels_last memory format. 176,090 weights (174,970 trainable), as gradway's
    Summary: benchmarks/pytorch_resnet_check.py loads a gradway checkpoint into it and
    compares the outputs.
  * MLP, CNN: Adam(lr 1e-3, betas 0.9/0.999, eps 1e-7), batch 200. ResNet: Adam(betas
    0.9/0.999, eps 1e-7) whose rate at every step is nn::CosineDecay with warm-up (0 at
    the first step, linear to 2e-3 over the first epoch's steps, then a cosine to 0 at the
    last step; LambdaLR), batch 128. All: reshuffled every epoch with a seeded
    torch.Generator, last partial batch included; float32; torch.set_num_threads(N).
  * data: --dataset fashion = Debian's dataset-fashion-mnist (60k/10k IDX .gz files);
    --dataset mnist = the official MNIST IDX files (60k/10k) that third_party/install.sh
    puts in ${XDG_CACHE_HOME:-~/.cache}/gradway/mnist/; --data_dir DIR = the four IDX
    files (raw or .gz) in DIR. Pixels are byte/255, images NCHW. --train_samples N and
    --test_samples N keep N evenly spaced images (row i * rows // N), the rows gradway's
    examples keep with the same flags.

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
import math
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

def tf_same_pads(size, kernel, stride):
    """Keras/TF 'same' padding of one spatial axis: (before, after), after >= before."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def build_model(kind):
    import torch
    from torch import nn
    import torch.nn.functional as F

    class SameConv2d(nn.Conv2d):
        """Conv2D(padding="same", use_bias=False) as Keras: TF pads an even-sized input of
        a stride-2 3x3 convolution by 0 before and 1 after (PyTorch's padding=1 would
        centre the windows one pixel earlier), so the odd pixel goes through F.pad."""

        def __init__(self, in_channels, out_channels, kernel, stride=1):
            super().__init__(in_channels, out_channels, kernel, stride=stride, bias=False)

        def forward(self, x):
            (top, bottom), (left, right) = (
                tf_same_pads(x.shape[d], self.kernel_size[i], self.stride[i])
                for i, d in enumerate((2, 3)))
            if bottom != top or right != left:
                x = F.pad(x, (0, right - left, 0, bottom - top))
            return F.conv2d(x, self.weight, None, self.stride, (top, left))

    def batch_norm(channels):  # Keras' BatchNormalization: momentum 0.99, epsilon 1e-3
        return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)

    class Augment(nn.Module):
        """Training only, per image: RandomFlip("horizontal") (probability 1/2) and
        RandomCrop(28, 28).Padding(2): zero-pad by 2, then a uniformly random window of the
        input's size (5 x 5 offsets). The identity in eval mode."""

        def __init__(self, padding=2):
            super().__init__()
            self.padding = padding

        def forward(self, x):
            if not self.training:
                return x
            n, c, h, w = x.shape
            p = self.padding
            flip = torch.rand(n) < 0.5
            x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
            padded = F.pad(x, (p, p, p, p)).reshape(n, c, (h + 2 * p) * (w + 2 * p))
            rows = torch.randint(0, 2 * p + 1, (n, 1, 1)) + torch.arange(h).view(1, h, 1)
            cols = torch.randint(0, 2 * p + 1, (n, 1, 1)) + torch.arange(w).view(1, 1, w)
            index = (rows * (w + 2 * p) + cols).view(n, 1, h * w).expand(n, c, h * w)
            return padded.gather(2, index).view(n, c, h, w)

    class ResidualBlock(nn.Module):
        """Conv-BN-ReLU-Conv-BN plus the skip (1x1 Conv-BN when the shape changes), ReLU."""

        def __init__(self, in_channels, channels, stride):
            super().__init__()
            self.conv1 = SameConv2d(in_channels, channels, 3, stride)
            self.bn1 = batch_norm(channels)
            self.conv2 = SameConv2d(channels, channels, 3)
            self.bn2 = batch_norm(channels)
            self.skip = None
            if stride != 1 or in_channels != channels:
                self.skip = nn.Sequential(SameConv2d(in_channels, channels, 1, stride),
                                          batch_norm(channels))

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)), inplace=True)
            y = self.bn2(self.conv2(y))
            y += x if self.skip is None else self.skip(x)
            return F.relu(y, inplace=True)

    class FashionResNet(nn.Module):
        """examples/mnist_models.cc MakeFashionResNet: augmentation, stem, 3 stages."""

        def __init__(self, width=16, blocks=2):
            super().__init__()
            self.augment = Augment()
            self.stem = nn.Sequential(SameConv2d(1, width, 3), batch_norm(width),
                                      nn.ReLU(inplace=True))
            layers, channels = [], width
            for stage in range(3):
                for b in range(blocks):
                    stride = 2 if stage > 0 and b == 0 else 1
                    layers.append(ResidualBlock(channels, width << stage, stride))
                    channels = width << stage
            self.stages = nn.Sequential(*layers)
            self.dense = nn.Linear(channels, 10)

        def forward(self, x):
            x = self.stages(self.stem(self.augment(x)))
            return self.dense(x.mean((2, 3)))  # GlobalAveragePooling2D

    if kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    elif kind == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(),
            nn.Conv2d(32, 64, 3), nn.ReLU(),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(128, 10))
    else:
        # channels_last (NHWC, gradway's layout): oneDNN's convolutions and batch norm
        # run about 1.2x faster than in NCHW on this model (one thread, CPU time).
        model = FashionResNet().to(memory_format=torch.channels_last)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(m.weight)  # Keras glorot_uniform
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            # BatchNorm2d starts as Keras': gamma 1, beta 0, moving mean 0, variance 1.
    return model


def cosine_decay_with_warmup(steps_per_epoch, epochs, peak):
    """fashion_resnet's schedule (nn::CosineDecay, Keras 3): the rate at 0-based step k
    rises linearly from 0 over the first epoch's steps to `peak`, then follows a cosine down
    to 0 at the last step."""
    total = steps_per_epoch * epochs
    warmup = min(steps_per_epoch, total - 1)
    decay_steps = total - warmup

    def rate(step):
        s = min(step, warmup + decay_steps)
        if s < warmup:
            return peak * s / warmup
        return peak * 0.5 * (1.0 + math.cos(math.pi * (s - warmup) / decay_steps))
    return rate


def make_optimizer(kind, model, steps_per_epoch, epochs):
    """(Adam, per-step scheduler or None): Adam(1e-3) for the MLP and CNN; for the ResNet
    Adam whose rate is cosine_decay_with_warmup(peak 2e-3) at every step (LambdaLR)."""
    import torch
    if kind != "resnet":
        return torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7), None
    peak = 2e-3
    opt = torch.optim.Adam(model.parameters(), lr=peak, betas=(0.9, 0.999), eps=1e-7)
    rate = cosine_decay_with_warmup(steps_per_epoch, epochs, peak)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda step: rate(step) / peak)


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


def train_epoch(model, opt, x, y, batch_size, gen, scheduler=None):
    """One epoch; returns (seconds, mean training loss, training accuracy). A per-step
    `scheduler` steps after every optimiser step."""
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
        if scheduler is not None:
            scheduler.step()
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
    parser.add_argument("--model", choices=["mlp", "cnn", "resnet"], default="cnn")
    parser.add_argument("--dataset", choices=["fashion", "mnist"], default="mnist")
    parser.add_argument("--data_dir", default="",
                        help="folder with the four IDX files (raw or .gz); overrides --dataset")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=None,
                        help="training batch (default: 128 for the ResNet, else 200)")
    parser.add_argument("--train_samples", type=int, default=0,
                        help="use only N evenly spaced training images (0: all), for quick "
                             "runs; the rows gradway's --train_samples keeps")
    parser.add_argument("--test_samples", type=int, default=0,
                        help="use only N evenly spaced test images (0: all)")
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
    if args.batch_size is None:
        args.batch_size = 128 if args.model == "resnet" else 200
    if min(args.batch_size, args.epochs) < 1 or min(args.train_samples, args.test_samples) < 0:
        parser.error("--batch_size and --epochs must be >= 1, --*_samples >= 0")

    if not args.default_malloc and any(os.environ.get(k) != v for k, v in TORCH_ENV.items()):
        env = dict(os.environ)
        env.update(TORCH_ENV)
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
                  env)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # weights, dropout masks and the ResNet's augmentation
    gen = torch.Generator().manual_seed(args.seed)  # shuffling

    t0 = time.perf_counter()
    x_train, y_train, x_test, y_test, description = load_dataset(args.dataset, args.data_dir)

    def to_tensors(x, y, samples):
        if 0 < samples < len(x):  # row i of the subset is row i * len(x) // samples
            rows = np.arange(samples, dtype=np.int64) * len(x) // samples
            x, y = x[rows], y[rows]
        xf = x.astype(np.float32)
        xf /= np.float32(255.0)  # in place: no second float copy to inflate the peak RSS
        xt = torch.from_numpy(xf)
        return xt.reshape(len(x), 1, x.shape[1], x.shape[2]).contiguous(), \
            torch.from_numpy(y.astype(np.int64))

    x_train, y_train = to_tensors(x_train, y_train, args.train_samples)
    x_test, y_test = to_tensors(x_test, y_test, args.test_samples)
    load_seconds = time.perf_counter() - t0
    log(f"{description}: {len(x_train)} train / {len(x_test)} test "
        f"({load_seconds:.1f} s to load); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads")

    model = build_model(args.model)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    opt, scheduler = make_optimizer(args.model, model, steps_per_epoch, args.epochs)

    history = []
    for epoch in range(1, args.epochs + 1):
        seconds, loss, acc = train_epoch(model, opt, x_train, y_train, args.batch_size, gen,
                                         scheduler)
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
