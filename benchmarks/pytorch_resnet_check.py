#!/usr/bin/env python3
"""Checks that pytorch_mnist.py's ResNet is the same model as gradway's fashion_resnet.

    flock /tmp/gradway-bazel.lock bazel build -c opt //examples:fashion_resnet //examples:export_onnx
    /usr/bin/python3 benchmarks/pytorch_resnet_check.py

In a temporary folder it
  1. trains gradway's ResNet briefly (bazel-bin/examples/fashion_resnet --epochs=1
     --train_samples=600 --test_samples=200 --threads=2) and reads its Summary (each
     layer's output shape; total, trainable and non-trainable parameter counts) and its
     checkpoint, model/<epoch>-<val_loss>.safetensors;
  2. writes gradway's probabilities for those 200 test images with
     bazel-bin/examples/export_onnx --check_dir (input.bin, expected.bin);
  3. builds the PyTorch twin (pytorch_mnist.build_model("resnet")) and checks
     - the parameter counts equal gradway's (PyTorch's running_mean/running_var are the
       non-trainable ones; num_batches_tracked is not a weight);
     - every convolution, batch norm and the dense layer has gradway's output shape (NHWC),
       pairing gradway's conv2d, conv2d_1, ... and batch_normalization, ... in creation
       order with the twin's modules in registration order;
     - with the checkpoint's weights loaded (conv kernels HWIO -> OIHW, dense kernel
       [in, out] transposed, BN gamma/beta/moving_mean/moving_variance -> weight/bias/
       running_mean/running_var; every checkpoint weight used once, every twin weight set)
       the twin's softmax outputs in eval mode equal gradway's within --tolerance (1e-4);
     - the twin's augmentation in training gives each image one of its 2 x 25 flips and
       windows of the image zero-padded by 2 (about half flipped, every window used), and
       the image itself in eval mode;
     - the check can fail: with PyTorch's symmetric padding=1 in place of Keras' 'same'
       (pad 0 before, 1 after) for the stride-2 3x3 convolutions, the outputs differ by
       more than --tolerance.
Prints what it compared; exits 1 when a check fails. The safetensors file is read with
the format's own layout (8-byte little-endian header length, JSON header, little-endian
data), so the safetensors package is not needed.
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import pytorch_mnist  # noqa: E402  (the twin under test)

failures = []


def check(ok, message):
    print(("ok    " if ok else "FAIL  ") + message)
    if not ok:
        failures.append(message)


def run(cmd, cwd):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} exited with status {p.returncode}:\n{p.stdout[-3000:]}")
    return p.stdout


def read_safetensors(path):
    """{name: float32 array} of a safetensors file (F32 tensors only)."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {info['dtype']}, not F32")
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + begin:base + end], dtype="<f4").reshape(
            info["shape"])
    return tensors


def parse_summary(stdout):
    """({layer name: output shape tuple without the batch}, {"Total": n, ...})."""
    shapes = {}
    for m in re.finditer(r"^(\w+) \((\w+)\)\s+\(None((?:, \d+)*)\)", stdout, re.M):
        shapes[m.group(1)] = tuple(int(v) for v in m.group(3).split(",")[1:])
    counts = {k: int(v.replace(",", "")) for k, v in
              re.findall(r"^(Total|Trainable|Non-trainable) params: ([\d,]+)", stdout, re.M)}
    return shapes, counts


def by_creation(names, prefix):
    """gradway's layer names prefix, prefix_1, prefix_2, ... in creation order."""
    own = [n for n in names if re.fullmatch(re.escape(prefix) + r"(_\d+)?", n)]
    return sorted(own, key=lambda n: int(n[len(prefix) + 1:] or 0) if n != prefix else 0)


def twin_layers(model):
    """The twin's (kind, module) in registration order: conv2d, batch_normalization, dense."""
    from torch import nn
    kinds = ((nn.Conv2d, "conv2d"), (nn.BatchNorm2d, "batch_normalization"),
             (nn.Linear, "dense"))
    return [(kind, m) for m in model.modules() for cls, kind in kinds if isinstance(m, cls)]


def pair_layers(model, gradway_names):
    """[(gradway name, twin module)], pairing each kind in order; checks the counts."""
    layers = twin_layers(model)
    pairs = []
    for kind in ("conv2d", "batch_normalization", "dense"):
        mine = [m for k, m in layers if k == kind]
        theirs = by_creation(gradway_names, kind)
        check(len(mine) == len(theirs), f"{len(theirs)} gradway {kind} layers, "
              f"{len(mine)} in the twin")
        pairs += list(zip(theirs, mine))
    return pairs


def load_weights(pairs, weights):
    """Copies the checkpoint's weights into the twin; checks that all are used once."""
    import torch
    from torch import nn
    used = set()

    def take(name, array):
        used.add(name)
        return torch.from_numpy(np.array(array, dtype=np.float32))  # a writable copy

    with torch.no_grad():
        for name, m in pairs:
            if isinstance(m, nn.Conv2d):  # HWIO -> OIHW
                m.weight.copy_(take(f"{name}/kernel", weights[f"{name}/kernel"]
                                    .transpose(3, 2, 0, 1)))
            elif isinstance(m, nn.BatchNorm2d):
                for ours, theirs in (("weight", "gamma"), ("bias", "beta"),
                                     ("running_mean", "moving_mean"),
                                     ("running_var", "moving_variance")):
                    getattr(m, ours).copy_(take(f"{name}/{theirs}", weights[f"{name}/{theirs}"]))
            else:  # Linear: [in, out] -> [out, in]
                m.weight.copy_(take(f"{name}/kernel", weights[f"{name}/kernel"].T))
                m.bias.copy_(take(f"{name}/bias", weights[f"{name}/bias"]))
    model_weights = {n for n in weights if not n.startswith("optimizer/")}
    check(used == model_weights, f"all {len(model_weights)} model weights of the checkpoint "
          f"loaded once (unused: {sorted(model_weights - used)[:5]})")


def perturbed_copy(path, out_path, seed=0):
    """Writes the checkpoint with its batch norms' weights and statistics and the dense
    layer's redrawn (seeded), so that the outputs are far from the near-uniform ones of a
    briefly trained model and every mapping (gamma/beta, mean/variance, the dense
    transpose) shows in them. The header, and so the names and shapes, stay as written."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    rng = np.random.RandomState(seed)
    draws = {"gamma": (0.5, 1.5), "beta": (-0.5, 0.5), "moving_mean": (-0.3, 0.3),
             "moving_variance": (0.5, 2.0), "bias": (-1.0, 1.0)}
    for name, info in sorted(header.items()):
        if name == "__metadata__" or name.startswith("optimizer/"):
            continue
        begin, end = (8 + header_len + o for o in info["data_offsets"])
        old = np.frombuffer(bytes(raw[begin:end]), dtype="<f4")
        leaf = name.rsplit("/", 1)[1]
        if leaf in draws:
            new = rng.uniform(*draws[leaf], size=old.size)
        elif name.startswith("dense/"):
            new = old * 20.0
        else:
            continue
        raw[begin:end] = new.astype("<f4").tobytes()
    with open(out_path, "wb") as f:
        f.write(raw)


def gradway_outputs(args, model_path, check_dir):
    """(x NHWC, gradway's probabilities) for the test images: export_onnx --check_dir."""
    run([os.path.join(args.bin_dir, "examples", "export_onnx"), f"--model={model_path}",
         "--model_kind=resnet", f"--check_dir={check_dir}", f"--dataset={args.dataset}",
         f"--check_samples={args.test_samples}"], os.path.dirname(check_dir))
    meta = json.load(open(os.path.join(check_dir, "meta.json")))
    x = np.fromfile(os.path.join(check_dir, "input.bin"), dtype="<f4")
    x = x.reshape([-1] + list(meta["input_shape"][-3:]))
    expected = np.fromfile(os.path.join(check_dir, "expected.bin"), dtype="<f4")
    return x, expected.reshape(len(x), -1)


def twin_outputs(model, x):
    """The twin's softmax outputs (eval mode) for NHWC images x."""
    import torch
    import torch.nn.functional as F
    model.eval()
    with torch.no_grad():
        xt = torch.from_numpy(x.copy()).permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
        return F.softmax(model(xt), dim=1).numpy()


def compare(got, expected, tolerance, what):
    diff = float(np.abs(got - expected).max())
    agree = float((got.argmax(1) == expected.argmax(1)).mean())
    check(got.shape == expected.shape and diff <= tolerance,
          f"{what}: softmax outputs on {len(got)} test images (gradway's largest "
          f"probability {expected.max(1).mean():.3f} on average): max |twin - gradway| = "
          f"{diff:.2e} (tolerance {tolerance:g}); argmax agrees on {agree:.1%}")


def check_counts_and_shapes(model, pairs, shapes, counts, x):
    """The parameter counts and every paired layer's output shape against the Summary."""
    trainable = sum(p.numel() for p in model.parameters())
    frozen = sum(b.numel() for n, b in model.named_buffers()
                 if not n.endswith("num_batches_tracked"))
    check(counts == {"Total": trainable + frozen, "Trainable": trainable,
                     "Non-trainable": frozen},
          f"parameters: gradway {counts}; twin total {trainable + frozen:,}, trainable "
          f"{trainable:,}, non-trainable {frozen:,}")
    seen = {}
    hooks = [m.register_forward_hook(
        lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape)))
        for name, m in pairs]
    twin_outputs(model, x[:2])
    for h in hooks:
        h.remove()
    nhwc = {n: (s[2], s[3], s[1]) if len(s) == 4 else s[1:] for n, s in seen.items()}
    wrong = [f"{n}: gradway {shapes[n]}, twin {nhwc.get(n)}" for n, _ in pairs
             if shapes[n] != nhwc.get(n)]
    stages = ", ".join(str(nhwc.get(n)) for n in ("conv2d", "conv2d_4", "conv2d_9",
                                                   "conv2d_14"))
    check(not wrong, f"output shapes of {len(pairs)} layers equal gradway's (NHWC; stem "
          f"and the three stages' last convolutions: {stages}) {'; '.join(wrong[:3])}")


def check_augmentation(model, x, padding=2):
    """The twin's augmentation in training: each image is exactly one of its 2 x 25 flips
    and windows of the zero-padded image, flipped about half the time, every window used;
    in eval mode, the image itself."""
    import torch
    images = torch.from_numpy(x.copy()).permute(0, 3, 1, 2).contiguous()
    n, _, h, w = images.shape
    model.augment.train()
    with torch.no_grad():
        out = model.augment(images)
    model.augment.eval()
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    found = []
    for i in range(n):
        matches = [(flip, dy, dx) for flip in (False, True) for dy in range(2 * padding + 1)
                   for dx in range(2 * padding + 1)
                   if torch.equal(out[i], (padded[i].flip(2) if flip else padded[i])
                                  [:, dy:dy + h, dx:dx + w])]
        found.append(matches[0] if len(matches) == 1 else None)
    flips = sum(1 for f in found if f and f[0])
    windows = {f[1:] for f in found if f}
    check(None not in found and 0.35 * n < flips < 0.65 * n and len(windows) == 25,
          f"augmentation: {sum(1 for f in found if f)}/{n} images one flip-and-window of "
          f"their input, {flips} flipped, {len(windows)} of 25 windows used")
    with torch.no_grad():
        check(torch.equal(model.augment(images), images), "augmentation: identity in eval mode")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin_dir", default=os.path.join(ROOT, "bazel-bin"))
    parser.add_argument("--dataset", choices=["fashion", "mnist"], default="fashion")
    parser.add_argument("--epochs", type=int, default=1, help="gradway's training epochs")
    parser.add_argument("--train_samples", type=int, default=600)
    parser.add_argument("--test_samples", type=int, default=200)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F
    torch.set_num_threads(2)
    torch.manual_seed(0)  # the augmentation check's draws: the same every run

    tmp = tempfile.mkdtemp(prefix="resnet_twin_")
    try:
        out = run([os.path.join(args.bin_dir, "examples", "fashion_resnet"),
                   f"--dataset={args.dataset}", f"--epochs={args.epochs}",
                   f"--train_samples={args.train_samples}",
                   f"--test_samples={args.test_samples}", "--threads=2",
                   f"--output_dir={tmp}/out", f"--model_dir={tmp}/model"], tmp)
        shapes, counts = parse_summary(out)
        checkpoints = sorted(c for c in os.listdir(os.path.join(tmp, "model"))
                             if c.endswith(".safetensors"))
        if not checkpoints:
            sys.exit(f"fashion_resnet wrote no checkpoint in {tmp}/model")
        trained = os.path.join(tmp, "model", checkpoints[-1])
        x, expected = gradway_outputs(args, trained, os.path.join(tmp, "check"))

        model = pytorch_mnist.build_model("resnet")
        pairs = pair_layers(model, shapes)
        check_counts_and_shapes(model, pairs, shapes, counts, x)
        check_augmentation(model, x)
        load_weights(pairs, read_safetensors(trained))
        compare(twin_outputs(model, x), expected, args.tolerance, "trained checkpoint")

        perturbed = os.path.join(tmp, "perturbed.safetensors")
        perturbed_copy(trained, perturbed)
        x, expected = gradway_outputs(args, perturbed, os.path.join(tmp, "check_perturbed"))
        load_weights(pairs, read_safetensors(perturbed))
        compare(twin_outputs(model, x), expected, args.tolerance,
                "checkpoint with redrawn batch norms and a x20 dense kernel")

        # Negative control: PyTorch's own symmetric padding for the stride-2 convolutions.
        for _, m in pairs:
            if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2) and m.kernel_size == (3, 3):
                m.forward = lambda v, m=m: F.conv2d(v, m.weight, None, m.stride, 1)
        wrong_pad = float(np.abs(twin_outputs(model, x) - expected).max())
        check(wrong_pad > args.tolerance,
              f"negative control: with padding=1 for the stride-2 3x3 convolutions the "
              f"outputs differ by {wrong_pad:.2e} (> tolerance: the check sees the padding)")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASSED" if not failures else f"FAILED: {len(failures)} check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
