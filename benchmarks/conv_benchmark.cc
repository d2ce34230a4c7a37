// Conv2D (ops/conv.h) on the seed CNN's layers, batch 200, plus the direct nested-loop
// reference on batch 2. Counter GFLOPS = multiply-adds * 2 per iteration / wall time.
//   conv1: 200x28x28x1  -> 32, 3x3 valid (its input gradient is never needed)
//   conv2: 200x26x26x32 -> 64, 3x3 valid
//   bazel run -c opt //benchmarks:conv_benchmark -- --threads=2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "ops/conv.h"
#include "ops/reference.h"

namespace gradway {
namespace {

using ops::Conv2DShape;

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

enum Pass { kFwd, kBwdData, kBwdWeights, kFwdBwd, kFwdBwdNoData };

struct Buffers {
  explicit Buffers(const Conv2DShape& s)
      : x(Random(s.n * s.h * s.w * s.cin, 1)),
        w(Random(s.kh * s.kw * s.cin * s.cout, 2)),
        b(Random(s.cout, 3)),
        dy(Random(s.n * s.out_h * s.out_w * s.cout, 4)),
        y(dy.size()),
        dx(x.size()),
        dw(w.size()),
        db(b.size()) {}
  std::vector<float> x, w, b, dy, y, dx, dw, db;
};

template <bool kReference>
void RunConv(benchmark::State& state, const Conv2DShape& s, Pass pass) {
  Buffers t(s);
  const double gemm = 2e-9 * s.n * s.out_h * s.out_w * s.kh * s.kw * s.cin * s.cout;
  double flops = 0;
  for (auto _ : state) {
    if (pass == kFwd || pass == kFwdBwd || pass == kFwdBwdNoData) {
      if (kReference) {
        ops::reference::Conv2DForward(t.x.data(), t.w.data(), t.b.data(), t.y.data(), s);
      } else {
        ops::Conv2DForward(t.x.data(), t.w.data(), t.b.data(), t.y.data(), s);
      }
      benchmark::DoNotOptimize(t.y.data());
    }
    if (pass == kBwdData || pass == kFwdBwd) {
      if (kReference) {
        ops::reference::Conv2DBackwardData(t.dy.data(), t.w.data(), t.dx.data(), s);
      } else {
        ops::Conv2DBackwardData(t.dy.data(), t.w.data(), t.dx.data(), s);
      }
      benchmark::DoNotOptimize(t.dx.data());
    }
    if (pass == kBwdWeights || pass == kFwdBwd || pass == kFwdBwdNoData) {
      if (kReference) {
        ops::reference::Conv2DBackwardWeights(t.x.data(), t.dy.data(), t.dw.data(),
                                              t.db.data(), s);
      } else {
        ops::Conv2DBackwardWeights(t.x.data(), t.dy.data(), t.dw.data(), t.db.data(), s);
      }
      benchmark::DoNotOptimize(t.dw.data());
    }
    benchmark::ClobberMemory();
  }
  switch (pass) {
    case kFwd:
    case kBwdData:
    case kBwdWeights:
      flops = gemm;
      break;
    case kFwdBwd:
      flops = 3 * gemm;
      break;
    case kFwdBwdNoData:
      flops = 2 * gemm;
      break;
  }
  state.counters["GFLOPS"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

Conv2DShape Conv1(int64_t n) { return ops::MakeConv2DShape(n, 28, 28, 1, 3, 3, 32, 1, 1, false); }
Conv2DShape Conv2(int64_t n) { return ops::MakeConv2DShape(n, 26, 26, 32, 3, 3, 64, 1, 1, false); }

void BM_Conv1_Fwd(benchmark::State& s) { RunConv<false>(s, Conv1(200), kFwd); }
void BM_Conv1_BwdData(benchmark::State& s) { RunConv<false>(s, Conv1(200), kBwdData); }
void BM_Conv1_BwdWeights(benchmark::State& s) { RunConv<false>(s, Conv1(200), kBwdWeights); }
// Forward + dW + db (the first layer's input gradient is not needed).
void BM_Conv1_FwdBwd(benchmark::State& s) { RunConv<false>(s, Conv1(200), kFwdBwdNoData); }
void BM_Conv2_Fwd(benchmark::State& s) { RunConv<false>(s, Conv2(200), kFwd); }
void BM_Conv2_BwdData(benchmark::State& s) { RunConv<false>(s, Conv2(200), kBwdData); }
void BM_Conv2_BwdWeights(benchmark::State& s) { RunConv<false>(s, Conv2(200), kBwdWeights); }
// Forward + dX + dW + db.
void BM_Conv2_FwdBwd(benchmark::State& s) { RunConv<false>(s, Conv2(200), kFwdBwd); }
// Batch 1 (inference).
void BM_Conv2_Fwd_Batch1(benchmark::State& s) { RunConv<false>(s, Conv2(1), kFwd); }
// The direct nested-loop reference, batch 2, and the fast kernel on the same shape.
void BM_Conv2Reference_FwdBwd_Batch2(benchmark::State& s) { RunConv<true>(s, Conv2(2), kFwdBwd); }
void BM_Conv2_FwdBwd_Batch2(benchmark::State& s) { RunConv<false>(s, Conv2(2), kFwdBwd); }

BENCHMARK(BM_Conv1_Fwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv1_BwdData)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv1_BwdWeights)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv1_FwdBwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2_Fwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2_BwdData)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2_BwdWeights)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2_FwdBwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2_Fwd_Batch1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2_FwdBwd_Batch2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2Reference_FwdBwd_Batch2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gradway
