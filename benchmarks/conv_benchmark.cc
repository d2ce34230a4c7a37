// Conv2D (ops/conv.h) on the seed CNN's layers, each pass on each algorithm, plus the direct
// nested-loop reference on batch 2.
//   conv1: 28x28x1  -> 32, 3x3 valid (its input gradient is never needed)
//   conv2: 26x26x32 -> 64, 3x3 valid
// Names: BM_<layer>_<pass>[_Batch1][_<algorithm>], algorithm Direct (im2col + GEMM, or the
// direct loops for tiny cin), Winograd (F(4x4, 3x3)), Winograd2x2 (F(2x2, 3x3)); no suffix
// is kAuto, what the library runs (its label says which algorithm that is).
// Counter "effective GFLOP/s": direct-convolution FLOPs (2 n oh ow cout kh kw cin per pass)
// per second, whatever the algorithm, so Winograd can exceed the FMA peak.
// Beside them, batch normalisation (ops/batch_norm.h) forward+backward in training on conv2's
// input, 200x26x26x32 (and one image), so that its cost reads against the convolution's:
// BM_BatchNorm_FwdBwd[_Batch1].
//   bazel run -c opt //benchmarks:conv_benchmark -- --threads=2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/conv_algorithm.h"
#include "base/padding.h"
#include "ops/batch_norm.h"
#include "ops/conv.h"
#include "ops/reference.h"

namespace gradway {
namespace {

using ops::ConvPass;
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

const char* AlgorithmName(ConvAlgorithm a) {
  switch (a) {
    case ConvAlgorithm::kDirect: return "direct";
    case ConvAlgorithm::kWinograd: return "winograd F(4x4,3x3)";
    case ConvAlgorithm::kWinograd2x2: return "winograd F(2x2,3x3)";
    default: return "auto";
  }
}

// The algorithms each pass of `pass` runs, as a label ("fwd direct, dx winograd ...").
std::string Label(const Conv2DShape& s, Pass pass, ConvAlgorithm algo) {
  auto name = [&](ConvPass p) { return AlgorithmName(ops::Conv2DAlgorithmFor(s, p, algo)); };
  std::string label;
  if (pass == kFwd || pass == kFwdBwd || pass == kFwdBwdNoData) {
    label += std::string("fwd ") + name(ConvPass::kForward);
  }
  if (pass == kBwdData || pass == kFwdBwd) {
    label += std::string(label.empty() ? "" : ", ") + "dx " + name(ConvPass::kBackwardData);
  }
  if (pass == kBwdWeights || pass == kFwdBwd || pass == kFwdBwdNoData) {
    label += std::string(label.empty() ? "" : ", ") + "dw " + name(ConvPass::kBackwardWeights);
  }
  return label;
}

template <bool kReference>
void RunConv(benchmark::State& state, const Conv2DShape& s, Pass pass,
             ConvAlgorithm algo = ConvAlgorithm::kAuto) {
  Buffers t(s);
  const double gemm = 2e-9 * s.n * s.out_h * s.out_w * s.kh * s.kw * s.cin * s.cout;
  double flops = 0;
  for (auto _ : state) {
    if (pass == kFwd || pass == kFwdBwd || pass == kFwdBwdNoData) {
      if (kReference) {
        ops::reference::Conv2DForward(t.x.data(), t.w.data(), t.b.data(), t.y.data(), s);
      } else {
        ops::Conv2DForward(t.x.data(), t.w.data(), t.b.data(), t.y.data(), s,
                           ops::ConvForwardOptions().Algorithm(algo));
      }
      benchmark::DoNotOptimize(t.y.data());
    }
    if (pass == kBwdData || pass == kFwdBwd) {
      if (kReference) {
        ops::reference::Conv2DBackwardData(t.dy.data(), t.w.data(), t.dx.data(), s);
      } else {
        ops::Conv2DBackwardData(t.dy.data(), t.w.data(), t.dx.data(), s,
                                ops::ConvBackwardOptions().Algorithm(algo));
      }
      benchmark::DoNotOptimize(t.dx.data());
    }
    if (pass == kBwdWeights || pass == kFwdBwd || pass == kFwdBwdNoData) {
      if (kReference) {
        ops::reference::Conv2DBackwardWeights(t.x.data(), t.dy.data(), t.dw.data(),
                                              t.db.data(), s);
      } else {
        ops::Conv2DBackwardWeights(t.x.data(), t.dy.data(), t.dw.data(), t.db.data(), s,
                                   ops::ConvBackwardOptions().Algorithm(algo));
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
  state.counters["effective GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  if (!kReference) state.SetLabel(Label(s, pass, algo));
}

Conv2DShape Conv1(int64_t n) {
  return ops::MakeConv2DShape(n, 28, 28, 1, 3, 3, 32, 1, 1, Padding::kValid);
}
Conv2DShape Conv2(int64_t n) {
  return ops::MakeConv2DShape(n, 26, 26, 32, 3, 3, 64, 1, 1, Padding::kValid);
}
// The Fashion-MNIST ResNet's (examples/mnist_models.cc) 3x3 "same" convolutions of its three
// stages: 28x28x16, 14x14x32 and 7x7x64 (batch 128 there, 200 here as for the chapter).
Conv2DShape Res16(int64_t n) {
  return ops::MakeConv2DShape(n, 28, 28, 16, 3, 3, 16, 1, 1, Padding::kSame);
}
Conv2DShape Res32(int64_t n) {
  return ops::MakeConv2DShape(n, 14, 14, 32, 3, 3, 32, 1, 1, Padding::kSame);
}
Conv2DShape Res64(int64_t n) {
  return ops::MakeConv2DShape(n, 7, 7, 64, 3, 3, 64, 1, 1, Padding::kSame);
}

// Registers BM_<layer>_<pass><batch><algorithm> for every algorithm.
void RegisterAll() {
  struct Layer {
    const char* name;
    Conv2DShape (*shape)(int64_t);
    bool needs_dx;  // conv1's input gradient is never needed: its fwd+bwd is fwd + dW + db
  };
  struct PassName {
    const char* name;
    Pass pass;
  };
  struct AlgoName {
    const char* suffix;
    ConvAlgorithm algo;
  };
  const Layer layers[] = {{"Conv1", Conv1, false}, {"Conv2", Conv2, true},
                          {"Res16", Res16, true},  {"Res32", Res32, true},
                          {"Res64", Res64, true}};
  const PassName passes[] = {
      {"Fwd", kFwd}, {"BwdData", kBwdData}, {"BwdWeights", kBwdWeights}, {"FwdBwd", kFwdBwd}};
  const AlgoName algos[] = {{"", ConvAlgorithm::kAuto},
                            {"_Direct", ConvAlgorithm::kDirect},
                            {"_Winograd", ConvAlgorithm::kWinograd},
                            {"_Winograd2x2", ConvAlgorithm::kWinograd2x2}};
  for (const Layer& layer : layers) {
    for (int64_t n : {200, 1}) {
      for (const PassName& p : passes) {
        const Pass pass = (p.pass == kFwdBwd && !layer.needs_dx) ? kFwdBwdNoData : p.pass;
        for (const AlgoName& a : algos) {
          const std::string name = std::string("BM_") + layer.name + "_" + p.name +
                                   (n == 1 ? "_Batch1" : "") + a.suffix;
          const Conv2DShape s = layer.shape(n);
          const ConvAlgorithm algo = a.algo;
          benchmark::RegisterBenchmark(name.c_str(), [s, pass, algo](benchmark::State& st) {
            RunConv<false>(st, s, pass, algo);
          })->UseRealTime()->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
  // The direct nested-loop reference, batch 2, and the fast kernels on the same shape.
  benchmark::RegisterBenchmark("BM_Conv2_FwdBwd_Batch2", [](benchmark::State& st) {
    RunConv<false>(st, Conv2(2), kFwdBwd);
  })->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Conv2Reference_FwdBwd_Batch2", [](benchmark::State& st) {
    RunConv<true>(st, Conv2(2), kFwdBwd);
  })->UseRealTime()->Unit(benchmark::kMillisecond);
}

// Batch norm in training on x [n, 26, 26, 32] (conv2's input): the training forward (y,
// mean, invstd, and the moments for the running statistics), then the fused backward (dx,
// dgamma, dbeta). Counter "GB/s": the 8 passes over a batch-sized buffer this makes (x
// for the moments and again for y, y written; x and dy for the reduction, x, dy and dx for
// dx) per second.
void BM_BatchNormFwdBwd(benchmark::State& state, int64_t n) {
  const int64_t rows = n * 26 * 26, c = 32;
  const std::vector<float> x = Random(rows * c, 1), dy = Random(rows * c, 2),
                           gamma = Random(c, 3), beta = Random(c, 4);
  std::vector<float> y(x.size()), dx(x.size()), mean(c), invstd(c), dgamma(c), dbeta(c);
  for (auto _ : state) {
    ops::BatchNormTrainingForward(x.data(), gamma.data(), beta.data(), rows, c, 1e-3f,
                                  y.data(), mean.data(), invstd.data());
    ops::BatchNormBackward(x.data(), dy.data(), mean.data(), invstd.data(), gamma.data(), rows,
                           c, /*training=*/true, dx.data(), dgamma.data(), dbeta.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(8e-9 * sizeof(float) * rows * c,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void RegisterBatchNorm() {
  benchmark::RegisterBenchmark("BM_BatchNorm_FwdBwd", BM_BatchNormFwdBwd, 200)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_BatchNorm_FwdBwd_Batch1", BM_BatchNormFwdBwd, 1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

const bool registered = (RegisterAll(), RegisterBatchNorm(), true);

}  // namespace
}  // namespace gradway
