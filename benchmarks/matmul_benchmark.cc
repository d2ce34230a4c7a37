// MatMul (ops/matmul.h) on the MLP's and CNN's GEMM shapes, batch 200, plus the scalar
// reference on a smaller shape. Counter GFLOPS = 2*m*n*k per iteration / wall time.
// The ReLU-fused variants (the dense layers' LinearRelu): the forward with the ReLU
// epilogue, and the weight gradient with the ReLU-mask prologue (MatMulReluMaskedB, also
// giving the bias gradient, and the masked dY when dX is needed), beside the plain ones.
//   bazel run -c opt //benchmarks:matmul_benchmark -- --threads=2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/idx.h"
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

// Where the Fashion-MNIST training images are (Debian's dataset-fashion-mnist, installed
// by third_party/install.sh).
constexpr char kFashionImages[] =
    "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";

// A training batch of `batch` real Fashion-MNIST images (784 floats in [0, 1] each, about
// half of them 0: the background), drawn with a fixed seed from the first 6,000, or empty
// (with a message in *error) when the file cannot be read. Exercises MatMul's skipping of
// all-zero steps of A, which random dense data never triggers.
std::vector<float> FashionBatch(int64_t batch, std::string* error) {
  static const absl::StatusOr<data::IdxImages> images =
      data::ReadIdxImages(kFashionImages, {0, 6000});
  if (!images.ok()) {
    *error = std::string(images.status().message());
    return {};
  }
  std::mt19937 rng(1);
  std::uniform_int_distribution<int64_t> pick(0, images->count - 1);
  std::vector<float> x(batch * 784);
  for (int64_t i = 0; i < batch; ++i) {
    const uint8_t* image = images->pixels.data() + pick(rng) * 784;
    for (int64_t j = 0; j < 784; ++j) x[i * 784 + j] = image[j] / 255.0f;
  }
  return x;
}

// The products of a dense layer y = x · W (+ b), x [batch x in], W [in x out], that
// RunMatMul times.
enum class Dense {
  kForward,          // y = x · W + b
  kForwardNoBias,    // y = x · W (an im2col tile's product)
  kBackwardData,     // dx = dy · Wᵀ
  kBackwardWeights,  // dW = xᵀ · dy
};

// Times one product of a dense layer on random data, with MatMul or the scalar reference.
template <bool kReference>
void RunMatMul(benchmark::State& state, int64_t batch, int64_t in, int64_t out,
               Dense product) {
  const std::vector<float> x = Random(batch * in, 1), w = Random(in * out, 2),
                           bv = Random(out, 3), dy = Random(batch * out, 1);
  std::vector<float> c(product == Dense::kBackwardWeights ? in * out
                       : product == Dense::kBackwardData ? batch * in
                                                         : batch * out);
  ops::Mat a{x.data(), batch, in}, b{w.data(), in, out};
  ops::OutMat result{c.data(), batch, out};
  ops::MatMulOptions options;
  switch (product) {
    case Dense::kForward:
      options.Bias(bv.data());
      break;
    case Dense::kForwardNoBias:
      break;
    case Dense::kBackwardData:
      a = ops::Mat{dy.data(), batch, out};
      b = ops::Mat{w.data(), in, out}.Transposed();
      result = ops::OutMat{c.data(), batch, in};
      break;
    case Dense::kBackwardWeights:
      a = ops::Mat{x.data(), batch, in}.Transposed();
      b = ops::Mat{dy.data(), batch, out};
      result = ops::OutMat{c.data(), in, out};
      break;
  }
  for (auto _ : state) {
    if (kReference) {
      ops::reference::MatMul(a, b, result, options);
    } else {
      ops::MatMul(a, b, result, options);
    }
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * batch * in * out,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// Y = relu(X·W + b) with the epilogue; dW = Xᵀ·G and db = Σ G, G = dY ⊙ (Y > 0), with the
// prologue (and G itself when `copy`, for dX).
// With `images`, X (m x 784) is a FashionBatch instead of dense random.
void RunFwdRelu(benchmark::State& state, int64_t m, int64_t n, int64_t k, bool images = false) {
  std::string error;
  const std::vector<float> a = images ? FashionBatch(m, &error) : Random(m * k, 1);
  if (a.empty()) return state.SkipWithError(error.c_str());
  const std::vector<float> b = Random(k * n, 2), bv = Random(n, 3);
  std::vector<float> c(m * n);
  for (auto _ : state) {
    ops::MatMul(ops::Mat{a.data(), m, k}, ops::Mat{b.data(), k, n}, ops::OutMat{c.data(), m, n},
                ops::MatMulOptions().Bias(bv.data()).Epilogue(ops::Epilogue::kRelu));
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * m * n * k,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void RunBwdWeightsReluMasked(benchmark::State& state, int64_t batch, int64_t in, int64_t out,
                             bool copy, bool images = false) {
  std::string error;
  const std::vector<float> x = images ? FashionBatch(batch, &error) : Random(batch * in, 1);
  if (x.empty()) return state.SkipWithError(error.c_str());
  const std::vector<float> dy = Random(batch * out, 2);
  std::vector<float> y = Random(batch * out, 3);
  for (float& v : y) v = v > 0.f ? v : 0.f;
  std::vector<float> dw(in * out), db(out), g(batch * out);
  for (auto _ : state) {
    ops::MatMulReluMaskedB(ops::Mat{x.data(), batch, in}.Transposed(),
                           ops::Mat{dy.data(), batch, out}, y.data(),
                           ops::OutMat{dw.data(), in, out}, db.data(), copy ? g.data() : nullptr);
    benchmark::DoNotOptimize(dw.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOPS"] = benchmark::Counter(2e-9 * in * out * batch,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

// Dense 784 -> 512 (MLP hidden layer): forward y = x·W + b, dX = dY·Wᵀ, dW = Xᵀ·dY.
void BM_MatMul_200x784x512_Fwd(benchmark::State& s) { RunMatMul<false>(s, 200, 784, 512, Dense::kForward); }
void BM_MatMul_200x784x512_BwdData(benchmark::State& s) { RunMatMul<false>(s, 200, 784, 512, Dense::kBackwardData); }
void BM_MatMul_200x784x512_BwdWeights(benchmark::State& s) { RunMatMul<false>(s, 200, 784, 512, Dense::kBackwardWeights); }
void BM_MatMul_200x784x512_FwdRelu(benchmark::State& s) { RunFwdRelu(s, 200, 512, 784); }
void BM_MatMul_200x784x512_BwdWeightsReluMasked(benchmark::State& s) { RunBwdWeightsReluMasked(s, 200, 784, 512, false); }
// The same two with X a batch of Fashion-MNIST images: MatMul skips A's all-zero steps.
void BM_MatMul_200x784x512_FwdRelu_Fashion(benchmark::State& s) { RunFwdRelu(s, 200, 512, 784, true); }
void BM_MatMul_200x784x512_BwdWeightsReluMasked_Fashion(benchmark::State& s) { RunBwdWeightsReluMasked(s, 200, 784, 512, false, true); }
// Dense 9216 -> 128 (CNN): the same three GEMMs.
void BM_MatMul_200x9216x128_Fwd(benchmark::State& s) { RunMatMul<false>(s, 200, 9216, 128, Dense::kForward); }
void BM_MatMul_200x9216x128_BwdData(benchmark::State& s) { RunMatMul<false>(s, 200, 9216, 128, Dense::kBackwardData); }
void BM_MatMul_200x9216x128_BwdWeights(benchmark::State& s) { RunMatMul<false>(s, 200, 9216, 128, Dense::kBackwardWeights); }
void BM_MatMul_200x9216x128_FwdRelu(benchmark::State& s) { RunFwdRelu(s, 200, 128, 9216); }
void BM_MatMul_200x9216x128_BwdWeightsReluMasked(benchmark::State& s) { RunBwdWeightsReluMasked(s, 200, 9216, 128, true); }
// The im2col GEMM of conv2 (200x26x26x32 -> 64, 3x3): 115200x288 @ 288x64.
void BM_MatMul_115200x288x64(benchmark::State& s) { RunMatMul<false>(s, 115200, 288, 64, Dense::kForwardNoBias); }
// Small shapes: batch-1 inference and the output layer.
void BM_MatMul_1x784x512_Fwd(benchmark::State& s) { RunMatMul<false>(s, 1, 784, 512, Dense::kForward); }
void BM_MatMul_200x512x10_Fwd(benchmark::State& s) { RunMatMul<false>(s, 200, 512, 10, Dense::kForward); }
// The plain scalar reference, on a smaller shape.
void BM_MatMulReference_64x256x128(benchmark::State& s) { RunMatMul<true>(s, 64, 256, 128, Dense::kForward); }
void BM_MatMul_64x256x128(benchmark::State& s) { RunMatMul<false>(s, 64, 256, 128, Dense::kForward); }

BENCHMARK(BM_MatMul_200x784x512_Fwd)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_BwdData)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_BwdWeights)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_FwdRelu)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_BwdWeightsReluMasked)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_FwdRelu_Fashion)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatMul_200x784x512_BwdWeightsReluMasked_Fashion)->UseRealTime()->Unit(benchmark::kMillisecond);
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
