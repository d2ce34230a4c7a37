// The sequence models' kernels, on the shapes of examples/pronounce (batch 128, 21 steps,
// width 64, 4 heads of 16) and of a GRU layer (batch 64, 50 steps, 32 features, 64
// units), each beside PyTorch in benchmarks/kernels_vs_pytorch.py:
//   BM_BatchedMatMul_Attention  the attention scores q · kᵀ: 512 products 21x16 · 16x21
//   BM_LayerNorm_FwdBwd         layer normalisation of 2688 rows of 64, forward + backward
//   BM_Attention_FwdBwd         nn::MultiHeadAttention self-attention, forward + backward
//   BM_GRU_FwdBwd               a GRU over the whole sequence, forward + backward
//                               (the counter steps_per_second: time steps, both passes)
//
//   bazel run -c opt //benchmarks:sequence_benchmark -- --threads=2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "autograd/autograd.h"
#include "nn/nn.h"
#include "ops/layer_norm.h"
#include "ops/matmul.h"
#include "ops/recurrent.h"

namespace gradway {
namespace {

std::vector<float> Random(int64_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

constexpr int64_t kBatch = 128, kSteps = 21, kDim = 64, kHeads = 4, kKeyDim = 16;

void BM_BatchedMatMul_Attention(benchmark::State& state) {
  const int64_t count = kBatch * kHeads;
  const std::vector<float> q = Random(count * kSteps * kKeyDim, 1);
  const std::vector<float> k = Random(count * kSteps * kKeyDim, 2);
  std::vector<float> scores(count * kSteps * kSteps);
  std::vector<int64_t> offsets(count);
  for (int64_t i = 0; i < count; ++i) offsets[i] = i * kSteps * kKeyDim;
  for (auto _ : state) {
    ops::BatchedMatMul(ops::Mat{q.data(), kSteps, kKeyDim}, offsets.data(),
                       ops::Mat{k.data(), kSteps, kKeyDim}.Transposed(), offsets.data(),
                       ops::OutMat{scores.data(), kSteps, kSteps}, count);
    benchmark::DoNotOptimize(scores.data());
  }
}
BENCHMARK(BM_BatchedMatMul_Attention)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LayerNorm_FwdBwd(benchmark::State& state) {
  const int64_t rows = kBatch * kSteps;
  const std::vector<float> x = Random(rows * kDim, 3), dy = Random(rows * kDim, 4);
  const std::vector<float> gamma = Random(kDim, 5), beta = Random(kDim, 6);
  std::vector<float> y(rows * kDim), mean(rows), invstd(rows), dx(rows * kDim), dg(kDim),
      db(kDim);
  for (auto _ : state) {
    ops::LayerNormForward(x.data(), gamma.data(), beta.data(), rows, kDim, 1e-3f, y.data(),
                          mean.data(), invstd.data());
    ops::LayerNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), gamma.data(), rows,
                           kDim, dx.data(), dg.data(), db.data());
    benchmark::DoNotOptimize(dx.data());
  }
}
BENCHMARK(BM_LayerNorm_FwdBwd)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Attention_FwdBwd(benchmark::State& state) {
  nn::MultiHeadAttention mha(kHeads, kKeyDim);
  mha.BuildMerge({{kSteps, kDim}, {kSteps, kDim}});
  Generator gen(7);
  Tensor x = Tensor::Uniform({kBatch, kSteps, kDim}, -1.f, 1.f, gen);
  x.SetRequiresGrad();
  const Tensor dy = Tensor::Uniform({kBatch, kSteps, kDim}, -1.f, 1.f, gen);
  for (auto _ : state) {
    mha.ZeroGrad();
    x.ZeroGrad();
    mha({x, x}).Backward(dy);
    benchmark::DoNotOptimize(x.grad().data());
  }
}
BENCHMARK(BM_Attention_FwdBwd)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GRU_FwdBwd(benchmark::State& state) {
  const ops::RnnSizes s{ops::RnnCell::kGru, 64, 50, 32, 64};
  const int64_t GH = 3 * s.units;
  const std::vector<float> x = Random(s.batch * s.steps * s.features, 8);
  const std::vector<float> kernel = Random(s.features * GH, 9, 0.2f);
  const std::vector<float> recurrent = Random(s.units * GH, 10, 0.2f);
  const std::vector<float> bias = Random(2 * GH, 11, 0.1f);
  const int64_t out_size = s.batch * (s.steps + 1) * s.units;
  const std::vector<float> dout = Random(out_size, 12);
  std::vector<float> out(out_size), workspace(ops::RnnWorkspaceSize(s));
  std::vector<float> dx(x.size()), dk(kernel.size()), dr(recurrent.size()), db(bias.size());
  const ops::RnnWeights w{kernel.data(), recurrent.data(), bias.data()};
  for (auto _ : state) {
    ops::RnnForward(s, w, x.data(), nullptr, nullptr, nullptr, {}, out.data(),
                    workspace.data());
    ops::RnnBackward(s, w, dout.data(), {}, workspace.data(),
                     {dx.data(), dk.data(), dr.data(), db.data(), nullptr, nullptr});
    benchmark::DoNotOptimize(dx.data());
  }
  state.counters["steps_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * s.steps, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GRU_FwdBwd)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace gradway
