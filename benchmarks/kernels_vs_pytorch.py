#!/usr/bin/env python3
"""gradway's kernels side by side with OpenBLAS sgemm and PyTorch, on the same shapes.

    python3 benchmarks/kernels_vs_pytorch.py --threads 2

Runs the gradway Google Benchmark binaries (bazel run -c opt), then times the same shapes
with OpenBLAS's cblas_sgemm (ctypes, OPENBLAS_NUM_THREADS=N, separate process) and with
PyTorch (torch.set_num_threads(N), separate process in its faster malloc configuration),
and prints one markdown table. Needs python3-torch and libopenblas-dev
(benchmarks/kernels_vs_pytorch.sh installs them). Machines are noisy: compare the ratios
of one run, not absolute figures across runs. Each measurement is rerun (--attempts) while
other processes keep more than 10% of the CPUs busy, and the table notes any that never
ran on a quiet machine.

Convolutions get one row per gradway algorithm (base/conv_algorithm.h): "auto" (what
the library runs; the row names the algorithm it picked for each pass), "direct" (im2col +
GEMM, or direct loops for tiny input depth) and "winograd F(4x4,3x3)" (plus F(2x2,3x3) for
conv2 at batch 200), each beside the same PyTorch time. Their GFLOP/s are "effective":
direct-convolution FLOPs (2 n oh ow cout kh kw cin per pass) over the time, for gradway and
PyTorch alike, so Winograd can exceed the FMA peak.

The sequence kernels (benchmarks/sequence_benchmark.cc, on examples/pronounce's shapes and a
GRU of 64 units over 50 steps): the attention scores' batched matmul, layer norm, multi-head
self-attention and the GRU, each forward + backward, beside torch.matmul, nn.LayerNorm,
nn.MultiheadAttention and nn.GRU.

Batch normalisation in training (forward + backward: y, then dx, dgamma, dbeta) on conv2's
input, 200x26x26x32, times gradway's BM_BatchNorm_FwdBwd (conv_benchmark) beside PyTorch's
BatchNorm2d in channels_last on the same shape, and the run ends with its ratio to the
32 -> 64 3x3 convolution's forward + backward on that batch, for both libraries.
"""

import argparse
import ctypes
import ctypes.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# PyTorch's faster configuration (benchmarks/README.md, Environment): glibc keeps freed memory.
TORCH_ENV = {
    "MALLOC_TRIM_THRESHOLD_": "1000000000",
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "OPENBLAS_NUM_THREADS": "1",
}

# GEMMs: name -> (m, n, k, trans_a, trans_b) for C = op(A) op(B).
GEMMS = {
    "mlp_fwd": (200, 512, 784, False, False),
    "mlp_bwd_data": (200, 784, 512, False, True),
    "mlp_bwd_weights": (784, 512, 200, True, False),
    "dense_fwd": (200, 128, 9216, False, False),
    "dense_bwd_data": (200, 9216, 128, False, True),
    "dense_bwd_weights": (9216, 128, 200, True, False),
    "conv2_im2col": (115200, 64, 288, False, False),
}

# Rows of the table: (kernel, shape, gradway benchmark names summed, reference kind, key).
# Convolution rows are in CONV_ROWS below.
ROWS = [
    ("matmul fwd", "200x784 @ 784x512", ["BM_MatMul_200x784x512_Fwd"], "openblas", "mlp_fwd"),
    ("matmul dX = dY·Wᵀ", "200x512 @ 512x784", ["BM_MatMul_200x784x512_BwdData"], "openblas", "mlp_bwd_data"),
    ("matmul dW = Xᵀ·dY", "784x200 @ 200x512", ["BM_MatMul_200x784x512_BwdWeights"], "openblas", "mlp_bwd_weights"),
    ("matmul fwd+bwd", "200x784 @ 784x512",
     ["BM_MatMul_200x784x512_Fwd", "BM_MatMul_200x784x512_BwdData", "BM_MatMul_200x784x512_BwdWeights"],
     "torch", "mlp_fwdbwd"),
    ("matmul fwd", "200x9216 @ 9216x128", ["BM_MatMul_200x9216x128_Fwd"], "openblas", "dense_fwd"),
    ("matmul dX = dY·Wᵀ", "200x128 @ 128x9216", ["BM_MatMul_200x9216x128_BwdData"], "openblas", "dense_bwd_data"),
    ("matmul dW = Xᵀ·dY", "9216x200 @ 200x128", ["BM_MatMul_200x9216x128_BwdWeights"], "openblas", "dense_bwd_weights"),
    ("matmul fwd+bwd", "200x9216 @ 9216x128",
     ["BM_MatMul_200x9216x128_Fwd", "BM_MatMul_200x9216x128_BwdData", "BM_MatMul_200x9216x128_BwdWeights"],
     "torch", "dense_fwdbwd"),
    ("matmul (conv2 im2col)", "115200x288 @ 288x64", ["BM_MatMul_115200x288x64"], "openblas", "conv2_im2col"),
    ("batch norm fwd+bwd (training; dX, dγ, dβ)", "200x26x26x32, channels last",
     ["BM_BatchNorm_FwdBwd"], "torch", "batchnorm_fwdbwd"),
]

# Rows of ROWS that conv_benchmark times (it runs with a filter of the names it needs).
CONV_BINARY_EXTRA = ["BM_BatchNorm_FwdBwd"]

# Convolution rows: (kernel, shape, gradway benchmark base name, torch key, GFLOP counted as
# direct convolution, algorithms). Each algorithm's row times BM_<base><suffix>.
CONV1_GFLOP = 2e-9 * 200 * 26 * 26 * 32 * 9 * 1  # one pass of conv1, batch 200
CONV2_GFLOP = 2e-9 * 200 * 24 * 24 * 64 * 9 * 32  # one pass of conv2, batch 200
ALGOS_ALL = ("auto", "direct", "winograd", "winograd2x2")
ALGOS = ("auto", "direct", "winograd")
CONV_ROWS = [
    ("conv2d fwd", "200x28x28x1 -> 32, 3x3", "BM_Conv1_Fwd", "conv1_fwd", CONV1_GFLOP, ALGOS),
    ("conv2d bwd weights (dW, db)", "200x28x28x1 -> 32, 3x3", "BM_Conv1_BwdWeights",
     "conv1_bwd_weights", CONV1_GFLOP, ALGOS),
    ("conv2d fwd+bwd (dW, db)", "200x28x28x1 -> 32, 3x3", "BM_Conv1_FwdBwd", "conv1_fwdbwd",
     2 * CONV1_GFLOP, ALGOS),
    ("conv2d fwd", "200x26x26x32 -> 64, 3x3", "BM_Conv2_Fwd", "conv2_fwd", CONV2_GFLOP, ALGOS_ALL),
    ("conv2d bwd data", "200x26x26x32 -> 64, 3x3", "BM_Conv2_BwdData", "conv2_bwd_data",
     CONV2_GFLOP, ALGOS_ALL),
    ("conv2d bwd weights (dW, db)", "200x26x26x32 -> 64, 3x3", "BM_Conv2_BwdWeights",
     "conv2_bwd_weights", CONV2_GFLOP, ALGOS_ALL),
    ("conv2d fwd+bwd (dX, dW, db)", "200x26x26x32 -> 64, 3x3", "BM_Conv2_FwdBwd", "conv2_fwdbwd",
     3 * CONV2_GFLOP, ALGOS_ALL),
    ("conv2d fwd, batch 1", "1x28x28x1 -> 32, 3x3", "BM_Conv1_Fwd_Batch1", "conv1_fwd_b1",
     CONV1_GFLOP / 200, ALGOS),
    ("conv2d fwd, batch 1", "1x26x26x32 -> 64, 3x3", "BM_Conv2_Fwd_Batch1", "conv2_fwd_b1",
     CONV2_GFLOP / 200, ALGOS),
    ("conv2d fwd+bwd (dX, dW, db), batch 1", "1x26x26x32 -> 64, 3x3", "BM_Conv2_FwdBwd_Batch1",
     "conv2_fwdbwd_b1", 3 * CONV2_GFLOP / 200, ALGOS),
]
ALGO_SUFFIX = {"auto": "", "direct": "_Direct", "winograd": "_Winograd",
               "winograd2x2": "_Winograd2x2"}
ALGO_LABEL = {"auto": "auto", "direct": "direct", "winograd": "winograd F(4x4,3x3)",
              "winograd2x2": "winograd F(2x2,3x3)"}


def conv_benchmark_names():
    return ([base + ALGO_SUFFIX[a] for _, _, base, _, _, algos in CONV_ROWS for a in algos]
            + CONV_BINARY_EXTRA)

# ---- Rows from other kernels' benchmark binaries (added when the binary exists). ----
# (binary target, kernel, shape, gradway benchmark name prefix, torch key)
OPTIONAL_ROWS = [
    ("//benchmarks:pool_benchmark", "max-pool 2x2 fwd+bwd", "200x24x24x64",
     "BM_MaxPool2DFwdBwd", "maxpool_fwdbwd"),
    ("//benchmarks:pool_benchmark", "softmax + cross-entropy fwd+bwd", "200x10",
     "BM_SoftmaxCrossEntropy", "softmax_ce_fwdbwd"),
    ("//benchmarks:sequence_benchmark", "batched matmul q·kᵀ", "512 x (21x16 @ 16x21)",
     "BM_BatchedMatMul_Attention", "bmm_attention"),
    ("//benchmarks:sequence_benchmark", "layer norm fwd+bwd", "2688x64",
     "BM_LayerNorm_FwdBwd", "layernorm_fwdbwd"),
    ("//benchmarks:sequence_benchmark", "multi-head self-attention fwd+bwd",
     "128x21x64, 4 heads", "BM_Attention_FwdBwd", "attention_fwdbwd"),
    ("//benchmarks:sequence_benchmark", "GRU fwd+bwd (50 steps)", "64x50x32 -> 64",
     "BM_GRU_FwdBwd", "gru_fwdbwd"),
]


def median_ms(fn, min_seconds=0.5, min_reps=5, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 1000:
            break
    return statistics.median(times)


# ---------------------------------------------------------------------------------------
# Workers (run in their own processes, so thread settings and environments do not mix).

def worker_openblas():
    """Times cblas_sgemm on GEMMS; prints {key: ms} as JSON."""
    import array
    import random

    path = ctypes.util.find_library("openblas") or "libopenblas.so.0"
    blas = ctypes.CDLL(path)
    blas.cblas_sgemm.restype = None
    p = ctypes.POINTER(ctypes.c_float)
    blas.cblas_sgemm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_int, ctypes.c_float, p, ctypes.c_int,
                                 p, ctypes.c_int, ctypes.c_float, p, ctypes.c_int]
    row_major, no_trans, trans = 101, 111, 112
    rng = random.Random(0)
    block = array.array("f", [rng.uniform(-1, 1) for _ in range(4099)])

    def buffer(size):
        buf = block * (size // len(block) + 1)
        return buf, ctypes.cast(buf.buffer_info()[0], p)

    out = {}
    for key, (m, n, k, ta, tb) in GEMMS.items():
        a, pa = buffer(m * k)
        b, pb = buffer(k * n)
        c, pc = buffer(m * n)
        lda = m if ta else k
        ldb = k if tb else n
        args = (row_major, trans if ta else no_trans, trans if tb else no_trans, m, n, k, 1.0,
                pa, lda, pb, ldb, 0.0, pc, n)
        out[key] = median_ms(lambda: blas.cblas_sgemm(*args))
    out["_library"] = path
    print(json.dumps(out))


def worker_torch(threads):
    """Times the same work in PyTorch; prints {key: ms} as JSON."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {}

    def dense_fwdbwd(batch, fan_in, fan_out):
        x = torch.randn(batch, fan_in, requires_grad=True)
        w = torch.randn(fan_in, fan_out, requires_grad=True)
        b = torch.randn(fan_out, requires_grad=True)
        dy = torch.randn(batch, fan_out)

        def step():
            x.grad = w.grad = b.grad = None
            torch.addmm(b, x, w).backward(dy)
        return median_ms(step)

    out["mlp_fwdbwd"] = dense_fwdbwd(200, 784, 512)
    out["dense_fwdbwd"] = dense_fwdbwd(200, 9216, 128)

    def conv(n, h, cin, cout, need_dx, passes):
        x = torch.randn(n, cin, h, h, requires_grad=need_dx)
        w = torch.randn(cout, cin, 3, 3, requires_grad=True)
        b = torch.randn(cout, requires_grad=True)
        dy = torch.randn(n, cout, h - 2, h - 2)
        if passes == "fwd":
            with torch.no_grad():
                return median_ms(lambda: F.conv2d(x, w, b))
        if passes == "fwdbwd":
            def step():
                x.grad = w.grad = b.grad = None
                F.conv2d(x, w, b).backward(dy)
            return median_ms(step)
        mask = [passes == "bwd_data", passes == "bwd_weights", passes == "bwd_weights"]
        return median_ms(lambda: torch.ops.aten.convolution_backward(
            dy, x, w, [cout], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask))

    out["conv1_fwd"] = conv(200, 28, 1, 32, False, "fwd")
    try:
        out["conv1_bwd_weights"] = conv(200, 28, 1, 32, False, "bwd_weights")
    except (AttributeError, RuntimeError):
        pass
    out["conv1_fwdbwd"] = conv(200, 28, 1, 32, False, "fwdbwd")
    out["conv1_fwd_b1"] = conv(1, 28, 1, 32, False, "fwd")
    out["conv2_fwd"] = conv(200, 26, 32, 64, True, "fwd")
    try:
        out["conv2_bwd_data"] = conv(200, 26, 32, 64, True, "bwd_data")
        out["conv2_bwd_weights"] = conv(200, 26, 32, 64, True, "bwd_weights")
    except (AttributeError, RuntimeError):
        pass
    out["conv2_fwdbwd"] = conv(200, 26, 32, 64, True, "fwdbwd")
    out["conv2_fwd_b1"] = conv(1, 26, 32, 64, True, "fwd")
    out["conv2_fwdbwd_b1"] = conv(1, 26, 32, 64, True, "fwdbwd")

    # Batch norm in training on conv2's input, channels last (gradway's layout).
    bn = torch.nn.BatchNorm2d(32)
    xb = torch.randn(200, 32, 26, 26).contiguous(memory_format=torch.channels_last)
    xb.requires_grad_()
    dyb = torch.randn(200, 32, 26, 26).contiguous(memory_format=torch.channels_last)

    def bn_step():
        xb.grad = bn.weight.grad = bn.bias.grad = None
        bn(xb).backward(dyb)
    out["batchnorm_fwdbwd"] = median_ms(bn_step)

    # Other kernels (rows shown only when gradway's binary exists).
    x = torch.randn(200, 64, 24, 24, requires_grad=True)
    dy = torch.randn(200, 64, 12, 12)

    def pool_step():
        x.grad = None
        F.max_pool2d(x, 2).backward(dy)
    out["maxpool_fwdbwd"] = median_ms(pool_step)
    logits = torch.randn(200, 10, requires_grad=True)
    labels = torch.randint(0, 10, (200,))

    def ce_step():
        logits.grad = None
        F.cross_entropy(logits, labels).backward()
    out["softmax_ce_fwdbwd"] = median_ms(ce_step)

    # The sequence kernels (benchmarks/sequence_benchmark.cc's shapes).
    q = torch.randn(128, 4, 21, 16)
    kk = torch.randn(128, 4, 21, 16)
    out["bmm_attention"] = median_ms(lambda: torch.matmul(q, kk.transpose(-1, -2)))
    xl = torch.randn(2688, 64, requires_grad=True)
    dyl = torch.randn(2688, 64)
    ln = torch.nn.LayerNorm(64, eps=1e-3)

    def ln_step():
        xl.grad = ln.weight.grad = ln.bias.grad = None
        ln(xl).backward(dyl)
    out["layernorm_fwdbwd"] = median_ms(ln_step)
    mha = torch.nn.MultiheadAttention(64, 4, batch_first=True)
    xa = torch.randn(128, 21, 64, requires_grad=True)
    dya = torch.randn(128, 21, 64)

    def attention_step():
        xa.grad = None
        mha.zero_grad(set_to_none=True)
        mha(xa, xa, xa, need_weights=False)[0].backward(dya)
    out["attention_fwdbwd"] = median_ms(attention_step)
    gru = torch.nn.GRU(32, 64, batch_first=True)
    xg = torch.randn(64, 50, 32, requires_grad=True)

    def gru_step():
        xg.grad = None
        gru.zero_grad(set_to_none=True)
        y, h = gru(xg)
        (y.sum() + h.sum()).backward()
    out["gru_fwdbwd"] = median_ms(gru_step)
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------

def busy_cpu_seconds():
    """CPU seconds spent by all processes so far (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


NOTES = []


def run_phase(label, fn, attempts):
    """Runs fn() (a measurement in child processes) up to `attempts` times, until other
    processes used at most 10% of the CPUs meanwhile (/proc/stat minus the children's own
    CPU time; the bazel server counts as "other", a few %). Returns the last result and
    notes the other processes' share when it stayed above 10%."""
    share = None
    for attempt in range(attempts):
        busy0, own0, wall0 = busy_cpu_seconds(), children_cpu_seconds(), time.monotonic()
        result = fn()
        busy1, wall = busy_cpu_seconds(), time.monotonic() - wall0
        if busy0 is None or busy1 is None or wall < 1:
            return result
        others = busy1 - busy0 - (children_cpu_seconds() - own0)
        share = max(0.0, others / (wall * (os.cpu_count() or 1)))
        if share <= 0.1:
            return result
        print(f"{label}: other processes used {share:.0%} of the CPUs (attempt "
              f"{attempt + 1} of {attempts})", file=sys.stderr)
    NOTES.append(f"{label}: other processes used {share:.0%} of the CPUs during the "
                 "measurement; its timings are unreliable")
    return result


def python_with_torch():
    """This interpreter if it can import torch, else Debian's (python3-torch lives there)."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if subprocess.run([exe, "-c", "import torch"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            return exe
    return sys.executable


def run_worker(kind, threads, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    cmd = [python_with_torch() if kind == "torch" else sys.executable, os.path.abspath(__file__),
           "--worker", kind, "--threads", str(threads)]
    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        print(f"warning: {kind} reference failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return {}
    return json.loads(res.stdout.strip().splitlines()[-1])


def bazel_target_exists(target):
    pkg, name = target[2:].split(":")
    build = os.path.join(ROOT, pkg, "BUILD")
    return os.path.exists(build) and f'name = "{name}"' in open(build).read()


def run_gradway(target, threads, repetitions, bench_filter=None):
    cmd = ["bazel", "run", "-c", "opt", target, "--", "--benchmark_format=json",
           f"--threads={threads}", f"--benchmark_repetitions={repetitions}",
           "--benchmark_report_aggregates_only=true"]
    if bench_filter:
        cmd.append(f"--benchmark_filter={bench_filter}")
    res = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        print(f"warning: {target} failed:\n{res.stderr[-3000:]}", file=sys.stderr)
        return {}
    data = json.loads(res.stdout[res.stdout.index("{"):])
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    times = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name", "median") != "median" and repetitions > 1:
            continue
        name = b.get("run_name", b["name"]).split("/")[0]
        times[name] = b["real_time"] * scale[b["time_unit"]]
        if b.get("label"):
            LABELS[name] = b["label"]
    return times


# Benchmark labels (the conv benchmarks name the algorithm each pass ran), by name.
LABELS = {}


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repetitions", type=int, default=5,
                        help="gradway benchmark repetitions (the median is reported)")
    parser.add_argument("--attempts", type=int, default=3,
                        help="reruns of a measurement while other processes keep the CPUs "
                             "busy (> 10%%)")
    parser.add_argument("--worker", choices=["openblas", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "openblas":
        return worker_openblas()
    if args.worker == "torch":
        return worker_torch(args.threads)

    n = args.threads
    print(f"running gradway benchmarks ({n} threads) ...", file=sys.stderr)
    tries = max(1, args.attempts)
    g = {}
    g.update(run_phase("gradway matmul", lambda: run_gradway(
        "//benchmarks:matmul_benchmark", n, args.repetitions, "BM_MatMul_"), tries))
    conv_filter = "^(" + "|".join(conv_benchmark_names()) + ")/"
    g.update(run_phase("gradway conv", lambda: run_gradway(
        "//benchmarks:conv_benchmark", n, args.repetitions, conv_filter), tries))
    optional = [r for r in OPTIONAL_ROWS if bazel_target_exists(r[0])]
    for target in sorted({r[0] for r in optional}):
        g.update(run_phase("gradway " + target.split(":")[1], lambda: run_gradway(
            target, n, args.repetitions), tries))
    print("running OpenBLAS sgemm ...", file=sys.stderr)
    blas = run_phase("OpenBLAS", lambda: run_worker(
        "openblas", n, {"OPENBLAS_NUM_THREADS": str(n), "OMP_NUM_THREADS": str(n)}), tries)
    print("running PyTorch ...", file=sys.stderr)
    torch_ms = run_phase("PyTorch", lambda: run_worker("torch", n, TORCH_ENV), tries)

    rows = list(ROWS)
    for _, kernel, shape, prefix, key in optional:
        names = [k for k in g if k.startswith(prefix)]
        rows.append((kernel, shape, names[:1] or [prefix], "torch", key))

    print(f"\nCPU: {cpu_model()}; threads: {n}; "
          f"OpenBLAS: {blas.get('_library', 'n/a')}; PyTorch env: "
          + " ".join(f"{k}={v}" for k, v in TORCH_ENV.items()) + "\n")
    print("| kernel | shape | gradway ms | reference | reference ms | ratio (gradway / ref) |")
    print("|---|---|---|---|---|---|")
    for kernel, shape, names, kind, key in rows:
        if not all(name in g for name in names):
            continue
        ms = sum(g[name] for name in names)
        ref = (blas if kind == "openblas" else torch_ms).get(key)
        label = "OpenBLAS sgemm" if kind == "openblas" else "PyTorch"
        if ref is None:
            print(f"| {kernel} | {shape} | {ms:.3f} | {label} | n/a | n/a |")
        else:
            print(f"| {kernel} | {shape} | {ms:.3f} | {label} | {ref:.3f} | {ms / ref:.2f} |")

    print("\nConvolutions, one row per gradway algorithm; effective GFLOP/s = direct-convolution "
          "FLOPs / time (for PyTorch too).\n")
    print("| kernel | shape | gradway algorithm | gradway ms | gradway eff. GFLOP/s | "
          "PyTorch ms | PyTorch eff. GFLOP/s | ratio (gradway / PyTorch) |")
    print("|---|---|---|---|---|---|---|---|")
    for kernel, shape, base, key, gflop, algos in CONV_ROWS:
        ref = torch_ms.get(key)
        for algo in algos:
            name = base + ALGO_SUFFIX[algo]
            if name not in g:
                continue
            ms = g[name]
            algo_label = ALGO_LABEL[algo]
            if algo == "auto" and LABELS.get(name):
                algo_label = f"auto ({LABELS[name]})"
            ref_cols = (f"{ref:.3f} | {gflop / ref * 1e3:.0f} | {ms / ref:.2f}" if ref
                        else "n/a | n/a | n/a")
            print(f"| {kernel} | {shape} | {algo_label} | {ms:.3f} | {gflop / ms * 1e3:.0f} | "
                  f"{ref_cols} |")
    bn, conv = g.get("BM_BatchNorm_FwdBwd"), g.get("BM_Conv2_FwdBwd")
    torch_bn, torch_conv = torch_ms.get("batchnorm_fwdbwd"), torch_ms.get("conv2_fwdbwd")
    if bn and conv:
        ratios = f"gradway {bn / conv:.2f} ({bn:.3f} / {conv:.3f} ms, convolution auto)"
        if torch_bn and torch_conv:
            ratios += f", PyTorch {torch_bn / torch_conv:.2f} ({torch_bn:.3f} / {torch_conv:.3f} ms)"
        print("\nBatch norm fwd+bwd (200x26x26x32) / conv2d fwd+bwd (32 -> 64, 3x3, same batch): "
              + ratios + ".")
    for note in NOTES:
        print(f"\nNote: {note}.")


if __name__ == "__main__":
    main()
