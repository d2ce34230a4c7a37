// Memory-bound kernels (pooling, softmax + cross-entropy, elementwise, Adam) against their
// scalar references, at batch 200. Each reports GB/s of compulsory traffic (bytes read +
// written once) as a counter.
//
//   bazel run -c opt //benchmarks:pool_benchmark -- --threads=2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "base/padding.h"
#include "hwy/aligned_allocator.h"
#include "ops/adam.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/reference.h"
#include "ops/softmax.h"

namespace gradway {
namespace ops {
namespace {

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

void SetGBps(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iteration / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// ---- Max pooling 2x2 on the seed's CNN activation: 200x24x24x64 ----

// Buffers 64-byte aligned, as autograd's tensors are (hwy::AllocateAligned).
template <typename T>
hwy::AlignedFreeUniquePtr<T[]> Aligned(int64_t n, uint32_t seed) {
  auto p = hwy::AllocateAligned<T>(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(dist(rng));
  return p;
}

struct PoolData {
  Pool2DShape s = MakePool2DShape(200, 24, 24, 64, 2, 2, 2, 2, Padding::kValid);
  int64_t in = s.n * s.h * s.w * s.c, out = s.n * s.out_h * s.out_w * s.c;
  hwy::AlignedFreeUniquePtr<float[]> x = Aligned<float>(in, 1), y = Aligned<float>(out, 0),
                                     dy = Aligned<float>(out, 2), dx = Aligned<float>(in, 0);
  hwy::AlignedFreeUniquePtr<int32_t[]> argmax = Aligned<int32_t>(out, 0);
  // x, y, argmax (fwd) + dy, argmax, dx (bwd).
  double fwd_bytes() const { return 4.0 * (in + 2 * out); }
  double fwdbwd_bytes() const { return 4.0 * (2 * in + 4 * out); }
};

// misalign > 0 offsets the outputs by that many floats (no non-temporal stores).
template <bool kReference>
void MaxPool2DFwdBwd(benchmark::State& state, int misalign = 0) {
  PoolData p;
  float* dx = p.dx.get() + misalign;
  float* y = p.y.get() + misalign;
  int32_t* am = p.argmax.get() + misalign;
  const Pool2DShape s = MakePool2DShape(200, 24, 24, 64 - misalign, 2, 2, 2, 2, Padding::kValid);
  for (auto _ : state) {
    if (kReference) {
      reference::MaxPool2DForward(p.x.get(), y, am, s);
      reference::MaxPool2DBackward(p.dy.get(), am, dx, s);
    } else {
      MaxPool2DForward(p.x.get(), y, am, s);
      MaxPool2DBackward(p.dy.get(), am, dx, s);
    }
    benchmark::DoNotOptimize(p.dx.get());
    benchmark::ClobberMemory();
  }
  SetGBps(state, p.fwdbwd_bytes());
}

template <bool kReference>
void MaxPool2DForwardBench(benchmark::State& state) {
  PoolData p;
  for (auto _ : state) {
    if (kReference) {
      reference::MaxPool2DForward(p.x.get(), p.y.get(), p.argmax.get(), p.s);
    } else {
      MaxPool2DForward(p.x.get(), p.y.get(), p.argmax.get(), p.s);
    }
    benchmark::DoNotOptimize(p.y.get());
    benchmark::ClobberMemory();
  }
  SetGBps(state, p.fwd_bytes());
}

// ---- Softmax + cross-entropy, 200x10, forward + backward (class-index labels) ----

template <bool kReference, bool kSparse>
void SoftmaxCE(benchmark::State& state) {
  const int64_t rows = 200, cols = 10;
  const std::vector<float> logits = Random(rows * cols, 3);
  std::vector<float> targets(rows * cols, 0.0f), dlogits(rows * cols);
  std::vector<int32_t> labels(rows);
  for (int64_t r = 0; r < rows; ++r) {
    labels[r] = static_cast<int32_t>((r * 7) % cols);
    targets[r * cols + labels[r]] = 1.0f;
  }
  for (auto _ : state) {
    float loss;
    if (kSparse) {
      loss = kReference ? reference::SparseSoftmaxCrossEntropy(logits.data(), labels.data(),
                                                               rows, cols, dlogits.data())
                        : SparseSoftmaxCrossEntropy(logits.data(), labels.data(), rows,
                                                    cols, dlogits.data());
    } else {
      loss = kReference ? reference::SoftmaxCrossEntropy(logits.data(), targets.data(), rows,
                                                         cols, dlogits.data())
                        : SoftmaxCrossEntropy(logits.data(), targets.data(), rows, cols,
                                              dlogits.data());
    }
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  SetGBps(state, 4.0 * rows * cols * (kSparse ? 2 : 3));
}

// ---- Elementwise: ReLU and bias add on [rows, cols] ----

template <bool kReference>
void Relu(benchmark::State& state) {
  const int64_t n = state.range(0) * state.range(1);
  const std::vector<float> x = Random(n, 4);
  std::vector<float> y(n);
  for (auto _ : state) {
    if (kReference) {
      reference::Unary(UnaryOp::kRelu, x.data(), y.data(), n);
    } else {
      Unary(UnaryOp::kRelu, x.data(), y.data(), n);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetGBps(state, 8.0 * n);
}

template <bool kReference>
void BiasAdd(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const std::vector<float> x = Random(rows * cols, 5), b = Random(cols, 6);
  std::vector<float> y(rows * cols);
  for (auto _ : state) {
    if (kReference) {
      reference::BroadcastBinary(BinaryOp::kAdd, x.data(), {rows, cols}, b.data(), {1, cols},
                                 y.data(), {rows, cols});
    } else {
      BroadcastBinary(BinaryOp::kAdd, x.data(), {rows, cols}, b.data(), {1, cols}, y.data(),
                      {rows, cols});
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetGBps(state, 8.0 * rows * cols);
}

// Bias gradient: the sum over rows (SumToShape to [1, cols]).
template <bool kReference>
void BiasGrad(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  const std::vector<float> dy = Random(rows * cols, 7);
  std::vector<float> db(cols);
  for (auto _ : state) {
    if (kReference) {
      reference::SumToShape(dy.data(), {rows, cols}, db.data(), {1, cols});
    } else {
      SumToShape(dy.data(), {rows, cols}, db.data(), {1, cols});
    }
    benchmark::DoNotOptimize(db.data());
    benchmark::ClobberMemory();
  }
  SetGBps(state, 4.0 * rows * cols);
}

// ---- Adam over 1.2M parameters (the seed's CNN has 1.2M) ----

template <bool kReference>
void Adam(benchmark::State& state) {
  const int64_t n = 1200000;
  std::vector<float> param = Random(n, 8), grad = Random(n, 9), m(n, 0.0f), v(n, 0.0f);
  AdamParams p;
  for (auto _ : state) {
    if (kReference) {
      reference::AdamUpdate(param.data(), grad.data(), m.data(), v.data(), n, p);
    } else {
      AdamUpdate(param.data(), grad.data(), m.data(), v.data(), n, p);
    }
    ++p.step;
    benchmark::ClobberMemory();
  }
  SetGBps(state, 4.0 * n * 7);  // read param, grad, m, v; write param, m, v
}

// The fast kernels first (benchmarks/kernels_vs_pytorch.py picks the first name with a
// row's prefix), then the scalar references.
void BM_MaxPool2DFwdBwd(benchmark::State& s) { MaxPool2DFwdBwd<false>(s); }
void BM_MaxPool2DForward(benchmark::State& s) { MaxPool2DForwardBench<false>(s); }
// 63 channels, outputs at odd addresses: plain stores only.
void BM_Misaligned_MaxPool2DFwdBwd(benchmark::State& s) { MaxPool2DFwdBwd<false>(s, 1); }
void BM_SoftmaxCrossEntropy(benchmark::State& s) { SoftmaxCE<false, true>(s); }
void BM_DenseSoftmaxCrossEntropy(benchmark::State& s) { SoftmaxCE<false, false>(s); }
void BM_Relu(benchmark::State& s) { Relu<false>(s); }
void BM_BiasAdd(benchmark::State& s) { BiasAdd<false>(s); }
void BM_BiasGrad(benchmark::State& s) { BiasGrad<false>(s); }
void BM_Adam(benchmark::State& s) { Adam<false>(s); }
void BM_Reference_MaxPool2DFwdBwd(benchmark::State& s) { MaxPool2DFwdBwd<true>(s); }
void BM_Reference_MaxPool2DForward(benchmark::State& s) { MaxPool2DForwardBench<true>(s); }
void BM_Reference_SoftmaxCrossEntropy(benchmark::State& s) { SoftmaxCE<true, true>(s); }
void BM_Reference_DenseSoftmaxCrossEntropy(benchmark::State& s) { SoftmaxCE<true, false>(s); }
void BM_Reference_Relu(benchmark::State& s) { Relu<true>(s); }
void BM_Reference_BiasAdd(benchmark::State& s) { BiasAdd<true>(s); }
void BM_Reference_BiasGrad(benchmark::State& s) { BiasGrad<true>(s); }
void BM_Reference_Adam(benchmark::State& s) { Adam<true>(s); }

#define GRADWAY_SHAPES ->Args({200, 512})->Args({200 * 24 * 24, 64})->Unit(benchmark::kMicrosecond)
BENCHMARK(BM_MaxPool2DFwdBwd)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MaxPool2DForward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Misaligned_MaxPool2DFwdBwd)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SoftmaxCrossEntropy)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_DenseSoftmaxCrossEntropy)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Relu) GRADWAY_SHAPES->UseRealTime();
BENCHMARK(BM_BiasAdd) GRADWAY_SHAPES->UseRealTime();
BENCHMARK(BM_BiasGrad) GRADWAY_SHAPES->UseRealTime();
BENCHMARK(BM_Adam)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Reference_MaxPool2DFwdBwd)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Reference_MaxPool2DForward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Reference_SoftmaxCrossEntropy)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Reference_DenseSoftmaxCrossEntropy)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Reference_Relu) GRADWAY_SHAPES->UseRealTime();
BENCHMARK(BM_Reference_BiasAdd) GRADWAY_SHAPES->UseRealTime();
BENCHMARK(BM_Reference_BiasGrad) GRADWAY_SHAPES->UseRealTime();
BENCHMARK(BM_Reference_Adam)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace ops
}  // namespace gradway
