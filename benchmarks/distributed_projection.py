#!/usr/bin/env python3
"""Projects data-parallel step time against rank count (docs/distributed.md).

Model, per global batch of B samples over p ranks:
  T(p) = B/p * t_sample + t_fixed + t_reduce(p)
  t_reduce(p) = 2 (p-1)/p * S / bandwidth + 2 log2(p) * latency   (p > 1; 0 for p = 1)
where t_sample is the measured compute time per sample (forward + backward, one thread),
t_fixed what every rank does whatever p is (the optimiser step over all weights), S the
gradient bytes reduced per step, and the all-reduce is gradway's recursive halving and
doubling (the same 2 (p-1)/p * S per rank as a ring, in 2 log2(p) messages).
Speed-up = samples per second against one rank's; efficiency = speed-up / p. With --weak
the global batch is B per rank (B p in all), as large jobs do to keep ranks busy.

  python3 benchmarks/distributed_projection.py --t_sample_ms 0.60 --t_fixed_ms 2.0 \
      --mbytes 4.80
"""
import argparse
import math


def step_ms(p, batch, t_sample, t_fixed, mbytes, gbit, latency_us):
    reduce = 0.0
    if p > 1:
        bandwidth = gbit * 1e9 / 8  # bytes per second
        reduce = 2 * (p - 1) / p * mbytes * 1e6 / bandwidth * 1e3
        reduce += 2 * math.log2(p) * latency_us / 1e3
    return batch / p * t_sample + t_fixed, reduce


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t_sample_ms", type=float, required=True)
    ap.add_argument("--t_fixed_ms", type=float, required=True)
    ap.add_argument("--mbytes", type=float, required=True, help="gradient MB per step")
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--weak", action="store_true",
                    help="the global batch grows with the ranks: batch samples per rank")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="model size factor: multiplies t_sample, t_fixed and mbytes")
    ap.add_argument("--latency_us", type=float, default=10.0)
    ap.add_argument("--ranks", default="1,2,8,32,128")
    ap.add_argument("--links", default="10,100", help="link speeds in Gbit/s")
    a = ap.parse_args()
    t_sample, t_fixed, mb = (a.t_sample_ms * a.scale, a.t_fixed_ms * a.scale,
                             a.mbytes * a.scale)
    ranks = [int(r) for r in a.ranks.split(",")]
    print(f"batch {a.batch}, {t_sample:g} ms/sample, {t_fixed:g} ms fixed, "
          f"{mb:g} MB of gradients, {a.latency_us:g} us per message")
    print("| link | ranks | compute ms | all-reduce ms | step ms | samples/s | speed-up | efficiency |")
    print("|---|---|---|---|---|---|---|---|")
    for gbit in [float(g) for g in a.links.split(",")]:
        base = sum(step_ms(1, a.batch, t_sample, t_fixed, mb, gbit, a.latency_us))
        for p in ranks:
            batch = a.batch * p if a.weak else a.batch
            comp, red = step_ms(p, batch, t_sample, t_fixed, mb, gbit, a.latency_us)
            t = comp + red
            speedup = batch / t / (a.batch / base)  # samples per second against one rank
            print(f"| {gbit:g} Gbit/s | {p} | {comp:.2f} | {red:.2f} | {t:.2f} | "
                  f"{batch / t * 1e3:,.0f} | {speedup:.2f}x | {speedup / p:.0%} |")


if __name__ == "__main__":
    main()
