#!/usr/bin/env python3
"""gradway's MNIST examples side by side with the same training in PyTorch: one table.

    bash benchmarks/train_vs_pytorch.sh --dataset fashion --epochs 3 --threads 2
    bash benchmarks/train_vs_pytorch.sh --dataset fashion --epochs 3 --threads 2 --models resnet

For each model (--models mlp,cnn by default; resnet is the third) runs, one after the other
(never concurrently):
  * gradway: bazel-bin/examples/{mnist_mlp,mnist_cnn,fashion_resnet} --dataset=D
    --epochs=N --threads=T --seed=S --batch_size=B --patience=1000 --output_dir=TMP
    --model_dir=TMP/model (B = 200 for the MLP and CNN, 128 for the ResNet; built first
    with `bazel build -c opt`; the CNN once per --cnn_conv value, e.g.
    --conv_algorithm=direct), reading the per-epoch training seconds from TMP/history.csv
    (header epoch,loss,accuracy,val_loss,val_accuracy,seconds), the final accuracy from its
    " Test Accuracy: 0.9123" line, and its peak memory from the kernel's rusage of that
    process (os.wait4: ru_maxrss);
  * PyTorch: benchmarks/pytorch_mnist.py --model=M with the same flags (for the ResNet its
    twin: same layers, initialisers, augmentation, schedule and batch), in PyTorch's faster
    glibc malloc configuration (TORCH_ENV below), reading its JSON result line;
  * gradway inference (MLP and CNN; the ResNet rows have none):
    bazel-bin/benchmarks/model_benchmark --threads=T
    --benchmark_filter='BM_(Cnn|Mlp)Inference' --benchmark_format=json, whose
    BM_{Cnn,Mlp}Inference/200 and /1 report an images_per_second counter (real_time per
    iteration at /1 is the batch-1 latency).
--train_samples/--test_samples N pass through to both sides (N evenly spaced images, the
same rows), for a quick smoke run.
A missing binary or target gives "n/a" cells and a note under the table, not a failure.
The machines are shared and noisy: compare the ratios of one run, not figures across runs.
"""

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# PyTorch's faster configuration (benchmarks/README.md, Environment): glibc keeps freed memory.
TORCH_ENV = {
    "MALLOC_TRIM_THRESHOLD_": "1000000000",
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "OPENBLAS_NUM_THREADS": "1",
}

FIGURES = [  # (key, label, format)
    ("seconds_per_epoch", "seconds per epoch (median)", "{:.3f}"),
    ("test_accuracy", "final test accuracy", "{:.4f}"),
    ("test_per", "test phoneme error rate", "{:.4f}"),
    ("test_wer", "test word error rate", "{:.4f}"),
    ("peak_mib", "peak memory (MiB)", "{:.0f}"),
    ("images_per_second_b200", "inference img/s, batch 200", "{:,.0f}"),
    ("latency_ms_b1", "latency ms per image, batch 1", "{:.3f}"),
]

# The FIGURES only some models have (pronounce's error rates): no row when neither side
# reports them.
OPTIONAL_KEYS = ("test_per", "test_wer")
# The FIGURES that come from model_benchmark's inference run, not from training.
INFERENCE_KEYS = ("images_per_second_b200", "latency_ms_b1")

# Each model's gradway binary (examples/), row label and training batch (both sides).
BINARIES = {"mlp": "mnist_mlp", "cnn": "mnist_cnn", "resnet": "fashion_resnet",
            "spam": "spam_classifier", "pronounce": "pronounce"}
LABELS = {"mlp": "MLP", "cnn": "CNN", "resnet": "ResNet", "spam": "Spam BiLSTM",
          "pronounce": "G2P Transformer"}
BATCH = {"mlp": 200, "cnn": 200, "resnet": 128, "spam": 64, "pronounce": 128}
# The text models: their own corpus (no --dataset/--data_dir) and PyTorch twin.
TEXT_MODELS = ("spam", "pronounce")
# The models model_benchmark measures inference for (BM_{Cnn,Mlp}Inference).
WITH_INFERENCE = ("mlp", "cnn")

notes = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def busy_cpu_seconds():
    """CPU seconds spent by all processes so far (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_measured(cmd, env=None, echo=True, label=""):
    """Runs cmd, echoing its stdout lines to stderr; returns (exit code, stdout, peak MiB).

    The peak is this child's own ru_maxrss (os.wait4), not the maximum over all children.
    When other processes kept the CPUs busy meanwhile, a note says so (timings unreliable).
    """
    busy0, wall0 = busy_cpu_seconds(), time.monotonic()
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout:
        lines.append(line)
        if echo:
            sys.stderr.write("    " + line)
            sys.stderr.flush()
    p.stdout.close()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    busy1, wall = busy_cpu_seconds(), time.monotonic() - wall0
    if busy0 is not None and busy1 is not None and wall > 1:
        others = busy1 - busy0 - usage.ru_utime - usage.ru_stime
        share = others / (wall * (os.cpu_count() or 1))
        if share > 0.1:
            notes.append(f"{label or cmd[0]}: other processes used {share:.0%} of the CPUs "
                         "during the run; its timings are unreliable (rerun on an idle machine)")
    return p.returncode, "".join(lines), usage.ru_maxrss / 1024.0


def target_defined(target):
    pkg, name = target[2:].split(":")
    build = os.path.join(ROOT, pkg, "BUILD")
    return os.path.exists(build) and re.search(r'name\s*=\s*"%s"' % re.escape(name),
                                               open(build).read()) is not None


def bazel_build(targets):
    """Builds what it can (-c opt); a target that fails is reported, the others still build."""
    targets = [t for t in targets if target_defined(t)]
    if not targets:
        return
    if shutil.which("bazel") is None:
        notes.append("bazel is not on PATH: gradway binaries not rebuilt "
                      "(using whatever is in bazel-bin)")
        return
    log(f"building {' '.join(targets)} (bazel build -c opt) ...")
    if subprocess.run(["bazel", "build", "-c", "opt"] + targets, cwd=ROOT).returncode == 0:
        return
    for t in targets:  # one broken target must not hide the others
        if subprocess.run(["bazel", "build", "-c", "opt", t], cwd=ROOT).returncode != 0:
            notes.append(f"`bazel build -c opt {t}` failed")


def data_flags(args, model):
    """The data flags both sides take: the dataset (or folder; not for the text models,
    which read their own corpus) and the sample counts."""
    flags = [] if model in TEXT_MODELS else \
        [f"--data_dir={args.data_dir}" if args.data_dir else f"--dataset={args.dataset}"]
    flags += [f"--{k}={getattr(args, k)}" for k in ("train_samples", "test_samples")
              if getattr(args, k)]
    return flags


def gradway_train(args, model, bin_dir, conv_algorithm=None):
    """Trains one example; conv_algorithm (CNN only) becomes --conv_algorithm."""
    name, label = BINARIES[model], LABELS[model]
    binary = os.path.join(bin_dir, "examples", name)
    if not os.access(binary, os.X_OK):
        notes.append(f"gradway {label}: {binary} does not exist (target "
                     f"//examples:{name} not built yet?)")
        return {}
    out_dir = tempfile.mkdtemp(prefix=f"gradway_{model}_")
    cmd = [binary, f"--epochs={args.epochs}", f"--threads={args.threads}",
           f"--seed={args.seed}", f"--batch_size={BATCH[model]}", "--patience=1000",
           f"--output_dir={out_dir}",
           f"--model_dir={os.path.join(out_dir, 'model')}"]  # checkpoints: not in the tree
    cmd += data_flags(args, model)
    if conv_algorithm:
        cmd.append(f"--conv_algorithm={conv_algorithm}")
    log(f"gradway {label}: {' '.join(cmd)}")
    code, stdout, peak = run_measured(cmd, label=f"gradway {label}")
    result = {"peak_mib": peak}
    try:
        if code != 0:
            notes.append(f"gradway {label} exited with status {code}")
            return {}
        m = re.findall(r"Test Accuracy:\s*([0-9.eE+-]+)", stdout)
        history_path = os.path.join(out_dir, "history.csv")
        rows = []
        if os.path.exists(history_path):
            with open(history_path, newline="") as f:
                rows = list(csv.DictReader(f))
        else:
            notes.append(f"gradway {label}: no {history_path}")
        seconds = [float(r["seconds"]) for r in rows if r.get("seconds")]
        if seconds:
            result["seconds_per_epoch"] = statistics.median(seconds)
            result["epoch_seconds"] = seconds
        rates = re.findall(r"Test PER:\s*([0-9.]+)\s+WER:\s*([0-9.]+)", stdout)
        if rates:
            result["test_per"], result["test_wer"] = map(float, rates[-1])
        if m:
            result["test_accuracy"] = float(m[-1])
        elif rows and rows[-1].get("val_accuracy"):
            result["test_accuracy"] = float(rows[-1]["val_accuracy"])
            notes.append(f"gradway {label}: no 'Test Accuracy:' line; used the last "
                         "val_accuracy of history.csv")
        return result
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def gradway_inference(args, bin_dir):
    """{model: {images_per_second_b200, latency_ms_b1}} from model_benchmark, or {}."""
    binary = os.path.join(bin_dir, "benchmarks", "model_benchmark")
    if not os.access(binary, os.X_OK):
        notes.append(f"gradway inference: {binary} does not exist (target "
                     "//benchmarks:model_benchmark not built yet?): n/a")
        return {}
    cmd = [binary, f"--threads={args.threads}",
           "--benchmark_filter=BM_(Cnn|Mlp)Inference", "--benchmark_format=json",
           f"--benchmark_repetitions={args.repetitions}",
           "--benchmark_report_aggregates_only=" + ("true" if args.repetitions > 1 else "false")]
    log(f"gradway inference: {' '.join(cmd)}")
    code, stdout, _ = run_measured(cmd, echo=False, label="gradway inference")
    if code != 0 or "{" not in stdout:
        notes.append(f"gradway inference: model_benchmark exited with status {code}")
        return {}
    data = json.loads(stdout[stdout.index("{"):])
    to_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    out = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"])
        m = re.match(r"BM_(Cnn|Mlp)Inference/(\d+)", name)
        if not m:
            continue
        model, batch = m.group(1).lower(), int(m.group(2))
        entry = out.setdefault(model, {})
        ms_per_iter = b["real_time"] * to_ms[b.get("time_unit", "ns")]
        ips = b.get("images_per_second") or (batch * 1e3 / ms_per_iter if ms_per_iter else None)
        if batch == 200:
            entry["images_per_second_b200"] = ips
        elif batch == 1:
            entry["latency_ms_b1"] = ms_per_iter
    return out


def python_with_torch():
    """This interpreter if it can import torch, else Debian's (python3-torch lives there)."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([exe, "-c", "import torch"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            return exe
    return None


def pytorch_train(args, model):
    exe = python_with_torch()
    if exe is None:
        notes.append("PyTorch is not importable (apt-get install python3-torch)")
        return {}
    label = LABELS[model]
    script = "pytorch_text.py" if model in TEXT_MODELS else "pytorch_mnist.py"
    cmd = [exe, os.path.join(ROOT, "benchmarks", script), f"--model={model}",
           f"--epochs={args.epochs}", f"--threads={args.threads}", f"--seed={args.seed}",
           f"--batch_size={BATCH[model]}"]
    cmd += [f"--inference_passes={args.inference_passes}"] if model in WITH_INFERENCE \
        else ["--no_inference"]  # no gradway figures to set them beside
    cmd += data_flags(args, model)
    env = dict(os.environ)
    env.update(TORCH_ENV)
    log(f"PyTorch {label}: {' '.join(cmd)}")
    code, stdout, _ = run_measured(cmd, env=env, echo=False, label=f"PyTorch {label}")
    lines = stdout.strip().splitlines()
    if code != 0 or not lines:
        notes.append(f"PyTorch {label} exited with status {code}")
        return {}
    r = json.loads(lines[-1])
    return {
        "seconds_per_epoch": r["seconds_per_epoch_median"],
        "epoch_seconds": r["epoch_seconds"],
        "test_accuracy": r["test_accuracy"],
        "test_per": r.get("test_per"),
        "test_wer": r.get("test_wer"),
        "peak_mib": r["peak_rss_mib"],
        "images_per_second_b200": r.get("inference_images_per_second_b200"),
        "latency_ms_b1": r.get("latency_ms_b1"),
        "torch_version": r.get("torch_version"),
        "dataset_description": r.get("dataset_description"),
        "train_images": r.get("train_images"),
        "test_images": r.get("test_images"),
    }


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def fmt(fmt_str, value):
    return "n/a" if value is None else fmt_str.format(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["fashion", "mnist"], default="fashion")
    parser.add_argument("--data_dir", default="",
                        help="folder with the four IDX files (raw or .gz); overrides --dataset")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", default="mlp,cnn",
                        help="comma-separated: mlp, cnn, resnet (fashion_resnet's ResNet), "
                             "spam (spam_classifier's bidirectional LSTM on SpamAssassin), "
                             "pronounce (the G2P Transformer on CMUdict)")
    parser.add_argument("--cnn_conv", default="auto,direct",
                        help="comma-separated --conv_algorithm values: the gradway CNN is "
                             "trained once per value, each beside the same PyTorch run "
                             "(auto: Winograd for conv2; direct: im2col + GEMM)")
    parser.add_argument("--train_samples", type=int, default=0,
                        help="train on N evenly spaced images (0: all), both sides: a smoke run")
    parser.add_argument("--test_samples", type=int, default=0,
                        help="test on N evenly spaced images (0: all), both sides")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="model_benchmark repetitions (the median is reported)")
    parser.add_argument("--inference_passes", type=int, default=5,
                        help="PyTorch passes over the test set at batch 200 (median)")
    parser.add_argument("--bin_dir", default=os.path.join(ROOT, "bazel-bin"),
                        help="where the gradway binaries are (default: bazel-bin)")
    parser.add_argument("--skip_build", action="store_true",
                        help="don't run `bazel build`; use the binaries already in --bin_dir")
    parser.add_argument("--skip_gradway", action="store_true", help="PyTorch side only")
    parser.add_argument("--skip_pytorch", action="store_true", help="gradway side only")
    parser.add_argument("--json_out", default="", help="also write all results to this file")
    args = parser.parse_args()

    models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in BINARIES:
            parser.error(f"unknown model {m!r}: valid models are {', '.join(BINARIES)}")
    if args.train_samples < 0 or args.test_samples < 0:
        parser.error("--train_samples and --test_samples must be >= 0")

    with_inference = [m for m in models if m in WITH_INFERENCE]
    if not args.skip_gradway and not args.skip_build:
        bazel_build([f"//examples:{BINARIES[m]}" for m in models]
                    + (["//benchmarks:model_benchmark"] if with_inference else []))

    cnn_convs = [a.strip() for a in args.cnn_conv.split(",") if a.strip()] or ["auto"]
    for a in cnn_convs:
        if a not in ("auto", "direct", "winograd", "winograd2x2"):
            parser.error(f"unknown --cnn_conv value {a!r}: valid are auto, direct, winograd, "
                         "winograd2x2")

    results = {}  # row label -> {"gradway": ..., "pytorch": ...}
    inference = {}
    if not args.skip_gradway and with_inference:
        inference = gradway_inference(args, args.bin_dir)
    for m in models:
        t = {} if args.skip_pytorch else pytorch_train(args, m)
        for conv in (cnn_convs if m == "cnn" else [None]):
            label = LABELS[m] if conv in (None, "auto") else f"{LABELS[m]} ({conv} conv)"
            g = {} if args.skip_gradway else gradway_train(args, m, args.bin_dir, conv)
            # model_benchmark's inference runs the automatic choice: only those rows get it.
            own_inference = conv in (None, "auto") and m in WITH_INFERENCE
            if own_inference:
                g.update(inference.get(m, {}))
            results[label] = {"gradway": g, "pytorch": t, "inference": own_inference}

    desc = next((r["pytorch"].get("dataset_description") for r in results.values()
                 if r["pytorch"].get("dataset_description")), None)
    sizes = next((f"{r['pytorch']['train_images']} train / {r['pytorch']['test_images']} test"
                  for r in results.values() if r["pytorch"].get("train_images")), None)
    torch_version = next((r["pytorch"].get("torch_version") for r in results.values()
                          if r["pytorch"].get("torch_version")), "n/a")
    dataset = args.data_dir or args.dataset
    if all(m in TEXT_MODELS for m in models):
        dataset = "its own corpus"
    sys.stderr.flush()
    print()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs); threads: {args.threads}; "
          f"dataset: {dataset}" + (f" ({desc}; {sizes})" if desc else "")
          + f"; epochs: {args.epochs}; batch "
          + ", ".join(f"{LABELS[m]} {BATCH[m]}" for m in models) + f"; seed {args.seed}")
    print(f"PyTorch {torch_version} with " + " ".join(f"{k}={v}" for k, v in TORCH_ENV.items()))
    print()
    print("| model | figure | gradway | PyTorch | gradway / PyTorch |")
    print("|---|---|---|---|---|")
    for row, r in results.items():
        g, t = r["gradway"], r["pytorch"]
        for key, label, f in FIGURES:
            gv, tv = g.get(key), t.get(key)
            if key in INFERENCE_KEYS and not r["inference"]:
                continue  # the direct rows have no inference figures of their own
            if key in OPTIONAL_KEYS and gv is None and tv is None:
                continue
            ratio = f"{gv / tv:.2f}" if gv is not None and tv else "n/a"
            print(f"| {row} | {label} | {fmt(f, gv)} | {fmt(f, tv)} | {ratio} |")
    print()
    legend = ("Lower is better for seconds, memory and latency; higher for accuracy and "
              "img/s. Peak memory is each training process's maximum RSS.")
    if "cnn" in models:
        legend += (" CNN rows use the automatic convolution choice (Winograd F(4x4,3x3) for "
                   "conv2; direct for conv1's forward); \"direct conv\" rows force im2col + "
                   "GEMM for every convolution (--conv_algorithm=direct), compared with the "
                   "same PyTorch run.")
    if "spam" in models:
        legend += (" Spam rows: spam_classifier beside its PyTorch twin (pytorch_text.py "
                   "--model=spam: same split, tokens, layers, initialisers and batch; "
                   "PyTorch's LSTM reads packed sequences, gradway's skips masked steps), "
                   "training only.")
    if "pronounce" in models:
        legend += (" G2P rows: pronounce beside its PyTorch twin (pytorch_text.py "
                   "--model=pronounce: same split, layers, initialisers, loss and batch); "
                   "test accuracy is the share of test words decoded exactly (1 - WER).")
    if "resnet" in models:
        legend += (" ResNet rows: fashion_resnet beside its PyTorch twin (pytorch_mnist.py "
                   "--model=resnet), training only (model_benchmark has no ResNet inference).")
    print(legend)
    for n in notes:
        print(f"- note: {n}")
    sys.stdout.flush()
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"cpu": cpu_model(), "threads": args.threads, "dataset": dataset,
                       "epochs": args.epochs, "seed": args.seed, "results": results,
                       "notes": notes}, f, indent=2)


if __name__ == "__main__":
    main()
