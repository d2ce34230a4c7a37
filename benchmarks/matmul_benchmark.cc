// MatMul (ops/matmul.h) on the MLP's and CNN's GEMM shapes, batch 200, plus the scalar
// reference on a smaller shape. Counter GFLOPS = 2*m*n*k per iteration / wall time.
// The ReLU-fused variants (the dense layers' LinearRelu): the forward with the ReLU
// epilogue, and the weight gradient with the ReLU-mask prologue (MatMulReluMaskedB, also
// giving the bias gradient, and the masked dY when dX is needed), beside the plain ones.
//   bazel run -c opt //benchmarks:matmul_benchmark -- --threads=2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "ops/matmul.h"
#include "ops/reference.h"

namespace gradway {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

template <bool kReference>
void RunMatMul(benchmark::State& state, int64_t m, int64_t n, int64_t k, bool ta, bool tb,
               bool bias) {
  const std::vector<float> a = Random(m * k, 1), b = Random(k * n, 2), bv = Random(n, 3);
  std::vector<float> c(m * n);
  for (auto _ : state) {
    if (kReference) {
      ops::reference::MatMul(a.data(), b.data(), c.data(), m, n, k, ta, tb,
                             bias ? bv.data() : nullptr, false);
    } else {
      ops::MatMul(a.data(), b.data(), c.data(), m, n, k, ta, tb, bias ? bv.data() : nullptr,
                  false);
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * m * n * k,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// Y = relu(X·W + b) with the epilogue; dW = Xᵀ·G and db = Σ G, G = dY ⊙ (Y > 0), with the
// prologue (and G itself when `copy`, for dX).
void RunFwdRelu(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  const std::vector<float> a = Random(m * k, 1), b = Random(k * n, 2), bv = Random(n, 3);
  std::vector<float> c(m * n);
  for (auto _ : state) {
    ops::MatMul(a.data(), b.data(), c.data(), m, n, k, false, false, bv.data(), false,
                ops::Epilogue::kRelu);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * m * n * k,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void RunBwdWeightsReluMasked(benchmark::State& state, int64_t batch, int64_t in, int64_t out,
                             bool copy) {
  const std::vector<float> x = Random(batch * in, 1), dy = Random(batch * out, 2);
  std::vector<float> y = Random(batch * out, 3);
  for (float& v : y) v = v > 0.f ? v : 0.f;
  std::vector<float> dw(in * out), db(out), g(batch * out);
  for (auto _ : state) {
    ops::MatMulReluMaskedB(x.data(), dy.data(), y.data(), dw.data(), in, out, batch, true,
                           db.data(), copy ? g.data() : nullptr);
    benchmark::DoNotOptimize(dw.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * in * out * batch,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// Dense 784 -> 512 (MLP hidden layer): forward y = x·W + b, dX = dY·Wᵀ, dW = Xᵀ·dY.
void BM_MatMul_200x784x512_Fwd(benchmark::State& s) { RunMatMul<false>(s, 200, 512, 784, false, false, true); }
void BM_MatMul_200x784x512_BwdData(benchmark::State& s) { RunMatMul<false>(s, 200, 784, 512, false, true, false); }
void BM_MatMul_200x784x512_BwdWeights(benchmark::State& s) { RunMatMul<false>(s, 784, 512, 200, true, false, false); }
void BM_MatMul_200x784x512_FwdRelu(benchmark::State& s) { RunFwdRelu(s, 200, 512, 784); }
void BM_MatMul_200x784x512_BwdWeightsReluMasked(benchmark::State& s) { RunBwdWeightsReluMasked(s, 200, 784, 512, false); }
// Dense 9216 -> 128 (CNN): the same three GEMMs.
void BM_MatMul_200x9216x128_Fwd(benchmark::State& s) { RunMatMul<false>(s, 200, 128, 9216, false, false, true); }
void BM_MatMul_200x9216x128_BwdData(benchmark::State& s) { RunMatMul<false>(s, 200, 9216, 128, false, true, false); }
void BM_MatMul_200x9216x128_BwdWeights(benchmark::State& s) { RunMatMul<false>(s, 9216, 128, 200, true, false, false); }
void BM_MatMul_200x9216x128_FwdRelu(benchmark::State& s) { RunFwdRelu(s, 200, 128, 9216); }
void BM_MatMul_200x9216x128_BwdWeightsReluMasked(benchmark::State& s) { RunBwdWeightsReluMasked(s, 200, 9216, 128, true); }
// The im2col GEMM of conv2 (200x26x26x32 -> 64, 3x3): 115200x288 @ 288x64.
void BM_MatMul_115200x288x64(benchmark::State& s) { RunMatMul<false>(s, 115200, 64, 288, false, false, false); }
// Small shapes: batch-1 inference and the output layer.
void BM_MatMul_1x784x512_Fwd(benchmark::State& s) { RunMatMul<false>(s, 1, 512, 784, false, false, true); }
void BM_MatMul_200x512x10_Fwd(benchmark::State& s) { RunMatMul<false>(s, 200, 10, 512, false, false, true); }
// The plain scalar reference, on a smaller shape.
void BM_MatMulReference_64x256x128(benchmark::State& s) { RunMatMul<true>(s, 64, 128, 256, false, false, true); }
void BM_MatMul_64x256x128(benchmark::State& s) { RunMatMul<false>(s, 64, 128, 256, false, false, true); }

BENCHMARK(BM_MatMul_200x784x512_Fwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_BwdData)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_BwdWeights)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_FwdRelu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_BwdWeightsReluMasked)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x9216x128_Fwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x9216x128_BwdData)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x9216x128_BwdWeights)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x9216x128_FwdRelu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x9216x128_BwdWeightsReluMasked)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_115200x288x64)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_1x784x512_Fwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x512x10_Fwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_64x256x128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMulReference_64x256x128)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gradway
