// End-to-end training and inference of the seed's MNIST models, built with the nn API
// exactly as examples/mnist_{mlp,cnn}.cc build them (batch 200, Adam, categorical
// cross-entropy, accuracy metric), on synthetic data of MNIST's shape.
//
//   bazel run -c opt //benchmarks:model_benchmark -- --threads=2
//
// Counters:
//   samples_per_second / images_per_second   training / inference throughput
//   GFLOPS           model FLOPs (forward + backward, counted per layer below) per second
//   peak_fraction    GFLOPS / the machine's FP32 peak, measured in this binary by BM_PeakFma
//                    (independent FMA chains on every thread, Highway dispatch)
//   peak_rss_MiB     the process's peak resident memory so far (getrusage ru_maxrss); run
//                    one model at a time (--benchmark_filter) for that model's own figure
//
// benchmarks/train_vs_pytorch.py parses BM_{Cnn,Mlp}Inference/{200,1} (images_per_second).

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "benchmarks/model_benchmark.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

// ---------------------------------------------------------------- FMA peak (per target)
HWY_BEFORE_NAMESPACE();
namespace gradway {
namespace bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Runs `iters` rounds of 12 independent FMA chains (enough to cover the FMA latency
// times the number of FMA pipes on current x86 cores); returns a value depending on all
// of them so the compiler keeps the loop. FLOPs: iters * 12 * Lanes * 2.
float FmaChains(int64_t iters, float seed) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.999999f), a = hn::Set(d, 1e-7f);
  auto v0 = hn::Set(d, seed), v1 = hn::Set(d, seed + 1), v2 = hn::Set(d, seed + 2),
       v3 = hn::Set(d, seed + 3), v4 = hn::Set(d, seed + 4), v5 = hn::Set(d, seed + 5),
       v6 = hn::Set(d, seed + 6), v7 = hn::Set(d, seed + 7), v8 = hn::Set(d, seed + 8),
       v9 = hn::Set(d, seed + 9), v10 = hn::Set(d, seed + 10), v11 = hn::Set(d, seed + 11);
  for (int64_t i = 0; i < iters; ++i) {
    v0 = hn::MulAdd(v0, m, a);
    v1 = hn::MulAdd(v1, m, a);
    v2 = hn::MulAdd(v2, m, a);
    v3 = hn::MulAdd(v3, m, a);
    v4 = hn::MulAdd(v4, m, a);
    v5 = hn::MulAdd(v5, m, a);
    v6 = hn::MulAdd(v6, m, a);
    v7 = hn::MulAdd(v7, m, a);
    v8 = hn::MulAdd(v8, m, a);
    v9 = hn::MulAdd(v9, m, a);
    v10 = hn::MulAdd(v10, m, a);
    v11 = hn::MulAdd(v11, m, a);
  }
  auto s = hn::Add(hn::Add(hn::Add(v0, v1), hn::Add(v2, v3)),
                   hn::Add(hn::Add(v4, v5), hn::Add(v6, v7)));
  s = hn::Add(s, hn::Add(hn::Add(v8, v9), hn::Add(v10, v11)));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

int64_t FloatLanes() { return static_cast<int64_t>(hn::Lanes(hn::ScalableTag<float>())); }

}  // namespace HWY_NAMESPACE
}  // namespace bench
}  // namespace gradway
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <benchmark/benchmark.h>

#include "autograd/tensor.h"
#include "base/runtime.h"
#include "nn/nn.h"
#include "ops/parallel.h"

namespace gradway {
namespace bench {

HWY_EXPORT(FmaChains);
HWY_EXPORT(FloatLanes);

constexpr int64_t kBatch = 200;
constexpr int64_t kEpochSamples = 10000;
constexpr int64_t kFmaChains = 12;

// ---------------------------------------------------------------- Peak FP32

// Runs the FMA loop on NumThreads() threads at once (one chunk each); returns FLOPs.
double RunFmaOnAllThreads(int64_t iters_per_thread) {
  const int threads = NumThreads();
  std::atomic<float> sink{0.f};
  ParallelFor(threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const float r = HWY_DYNAMIC_DISPATCH(FmaChains)(iters_per_thread, 1.f + t);
      sink.store(r, std::memory_order_relaxed);
    }
  });
  benchmark::DoNotOptimize(sink.load());
  return static_cast<double>(iters_per_thread) * threads * kFmaChains *
         HWY_DYNAMIC_DISPATCH(FloatLanes)() * 2.0;
}

// The machine's FP32 peak in GFLOP/s on NumThreads() threads: the best of a few short
// FMA runs, measured once per process (also when BM_PeakFma is filtered out).
double PeakGflops() {
  static const double peak = [] {
    double best = 0;
    RunFmaOnAllThreads(1 << 20);  // warm up: wake the workers, reach full clock
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      const double flops = RunFmaOnAllThreads(1 << 23);
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, flops / s * 1e-9);
    }
    return best;
  }();
  return peak;
}

void BM_PeakFma(benchmark::State& state) {
  double flops = 0;
  for (auto _ : state) flops += RunFmaOnAllThreads(1 << 22);
  state.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
  state.counters["threads"] = NumThreads();
  state.counters["lanes"] = static_cast<double>(HWY_DYNAMIC_DISPATCH(FloatLanes)());
}
BENCHMARK(BM_PeakFma)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- Models

// The MLP of examples/mnist_mlp.cc on flat 784-pixel images: Dense 512 relu, Dense 10
// softmax.
std::unique_ptr<nn::Sequential> MakeMlp() {
  auto model = std::make_unique<nn::Sequential>(42);
  model->Add(nn::Dense(nn::DenseOptions(512).Activation(nn::kRelu)
                           .InputShape({784})));
  model->Add(nn::Dense(nn::DenseOptions(10).Activation(nn::kSoftmax)));
  model->Compile(nn::CategoricalCrossentropy(), nn::Adam(), {"accuracy"});
  return model;
}

// The CNN of examples/mnist_cnn.cc.
std::unique_ptr<nn::Sequential> MakeCnn() {
  auto model = std::make_unique<nn::Sequential>(42);
  model->Add(nn::Conv2D(nn::Conv2DOptions(32, 3).Activation(nn::kRelu)
                            .InputShape({28, 28, 1})));
  model->Add(nn::Conv2D(nn::Conv2DOptions(64, 3).Activation(nn::kRelu)));
  model->Add(nn::MaxPooling2D(2));
  model->Add(nn::Dropout(0.25));
  model->Add(nn::Flatten());
  model->Add(nn::Dense(nn::DenseOptions(128).Activation(nn::kRelu)));
  model->Add(nn::Dropout(0.5));
  model->Add(nn::Dense(nn::DenseOptions(10).Activation(nn::kSoftmax)));
  model->Compile(nn::CategoricalCrossentropy(), nn::Adam(), {"accuracy"});
  return model;
}

// Multiply-adds per sample of the GEMM-like layers (elementwise work is not counted).
// Forward FLOPs = 2 * MACs; backward = 2 * forward (input and weight gradients), except
// the first layer, whose input needs no gradient (backward = forward).
struct LayerMacs {
  double macs;
  bool first;
};

double TrainFlopsPerSample(const std::vector<LayerMacs>& layers) {
  double flops = 0;
  for (const LayerMacs& l : layers) flops += 2 * l.macs * (l.first ? 2 : 3);
  return flops;
}

double ForwardFlopsPerSample(const std::vector<LayerMacs>& layers) {
  double flops = 0;
  for (const LayerMacs& l : layers) flops += 2 * l.macs;
  return flops;
}

const std::vector<LayerMacs>& MlpMacs() {
  static const std::vector<LayerMacs> v = {{784.0 * 512, true}, {512.0 * 10, false}};
  return v;
}

const std::vector<LayerMacs>& CnnMacs() {
  static const std::vector<LayerMacs> v = {
      {26.0 * 26 * 32 * 9 * 1, true},    // conv 3x3, 1 -> 32
      {24.0 * 24 * 64 * 9 * 32, false},  // conv 3x3, 32 -> 64
      {12.0 * 12 * 64 * 128, false},     // dense 9216 -> 128
      {128.0 * 10, false}};              // dense 128 -> 10
  return v;
}

// Synthetic MNIST-shaped data.
struct Data {
  Tensor x, y;
};

// Synthetic data for `model`: x [n, ...input shape] with pixels in [0, 1), y one-hot.
Data MakeData(const nn::Sequential& model, int64_t n) {
  Generator gen(7);
  Data d;
  Shape shape = model.input_shape();
  shape.insert(shape.begin(), n);
  d.x = Tensor::Uniform(shape, 0.f, 1.f, gen);
  d.y = Tensor::Zeros({n, 10});
  for (int64_t i = 0; i < n; ++i) d.y.data()[i * 10 + gen.UniformInt(10)] = 1.f;
  return d;
}

double PeakRssMiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // KiB on Linux
}

// Throughput counters from `items` samples processed in `seconds` of wall time, each
// costing `flops_per_item`. `rate_name` is samples_per_second or images_per_second.
void SetCounters(benchmark::State& state, const char* rate_name, int64_t items,
                 double seconds, double flops_per_item) {
  const double gflops = flops_per_item * items / seconds * 1e-9;
  state.counters[rate_name] = items / seconds;
  state.counters["GFLOPS"] = gflops;
  state.counters["peak_fraction"] = gflops / PeakGflops();
  state.counters["peak_rss_MiB"] = PeakRssMiB();
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Trains on `n` samples per iteration (one Fit epoch, batch 200), after one warm-up epoch
// that builds the model and the optimiser's state.
void TrainBenchmark(benchmark::State& state, std::unique_ptr<nn::Sequential> (*make)(),
                    const std::vector<LayerMacs>& macs, int64_t n) {
  PeakGflops();  // before the model exists, so the FMA run is not in the timings
  std::unique_ptr<nn::Sequential> model = make();
  Data data = MakeData(*model, n);
  const nn::FitOptions options = nn::FitOptions().Epochs(1).BatchSize(kBatch).Verbose(0);
  model->Fit(data.x, data.y, options);
  int64_t samples = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    nn::History h = model->Fit(data.x, data.y, options);
    benchmark::DoNotOptimize(h.loss.back());
    samples += n;
  }
  SetCounters(state, "samples_per_second", samples, SecondsSince(t0),
              TrainFlopsPerSample(macs));
}

void BM_MlpTrainStep(benchmark::State& state) {
  TrainBenchmark(state, MakeMlp, MlpMacs(), kBatch);
}
void BM_MlpTrainEpoch(benchmark::State& state) {
  TrainBenchmark(state, MakeMlp, MlpMacs(), kEpochSamples);
}
void BM_CnnTrainStep(benchmark::State& state) {
  TrainBenchmark(state, MakeCnn, CnnMacs(), kBatch);
}
void BM_CnnTrainEpoch(benchmark::State& state) {
  TrainBenchmark(state, MakeCnn, CnnMacs(), kEpochSamples);
}
BENCHMARK(BM_MlpTrainStep)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MlpTrainEpoch)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CnnTrainStep)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CnnTrainEpoch)->UseRealTime()->Unit(benchmark::kMillisecond);

// Where a training step's time goes: each layer's forward (in training mode, graph
// recorded) and backward at batch 200, timed separately, plus the optimiser step.
// Counters (milliseconds per step): <index>_<layer type>_fwd / _bwd, adam, layers_total.
// Each layer's backward runs alone (its input is a detached leaf), so engine overhead
// between layers and the loss are not included; compare layers_total with
// BM_{Cnn,Mlp}TrainStep.
void LayersBenchmark(benchmark::State& state, std::unique_ptr<nn::Sequential> (*make)()) {
  PeakGflops();
  std::unique_ptr<nn::Sequential> model = make();
  Data data = MakeData(*model, kBatch);
  const nn::FitOptions options = nn::FitOptions().Epochs(1).BatchSize(kBatch).Verbose(0);
  model->Fit(data.x, data.y, options);  // builds the model and Adam's state
  model->Train(true);
  const size_t num_layers = model->size();
  std::vector<double> fwd(num_layers, 0), bwd(num_layers, 0);
  double adam = 0;
  Generator gen(3);
  int64_t steps = 0;
  for (auto _ : state) {
    Tensor h = data.x;
    for (size_t i = 0; i < num_layers; ++i) {
      Tensor in = h.Detach();
      if (i > 0) in.SetRequiresGrad();
      auto t0 = std::chrono::steady_clock::now();
      Tensor out = model->layer(i)(in);
      fwd[i] += SecondsSince(t0);
      Tensor g = Tensor::Uniform(out.shape(), -1.f, 1.f, gen);
      t0 = std::chrono::steady_clock::now();
      out.Backward(g);
      bwd[i] += SecondsSince(t0);
      h = out.Detach();
    }
    auto t0 = std::chrono::steady_clock::now();
    model->optimizer()->Step();
    adam += SecondsSince(t0);
    model->ZeroGrad();
    ++steps;
  }
  double total = adam;
  for (size_t i = 0; i < num_layers; ++i) {
    const std::string name = std::to_string(i) + "_" + model->layer(i).type_name();
    state.counters[name + "_fwd"] = fwd[i] * 1e3 / steps;
    state.counters[name + "_bwd"] = bwd[i] * 1e3 / steps;
    total += fwd[i] + bwd[i];
  }
  state.counters["adam"] = adam * 1e3 / steps;
  state.counters["layers_total"] = total * 1e3 / steps;
}

void BM_CnnLayers(benchmark::State& state) { LayersBenchmark(state, MakeCnn); }
void BM_MlpLayers(benchmark::State& state) { LayersBenchmark(state, MakeMlp); }
BENCHMARK(BM_CnnLayers)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MlpLayers)->UseRealTime()->Unit(benchmark::kMillisecond);

// Inference at batch state.range(0) with Predict (eval mode, no graph).
void InferenceBenchmark(benchmark::State& state, std::unique_ptr<nn::Sequential> (*make)(),
                        const std::vector<LayerMacs>& macs) {
  const int64_t batch = state.range(0);
  PeakGflops();
  std::unique_ptr<nn::Sequential> model = make();
  Data data = MakeData(*model, batch);
  model->Predict(data.x, batch);  // builds the model, warms the caches
  int64_t images = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    Tensor out = model->Predict(data.x, batch);
    benchmark::DoNotOptimize(out.data());
    images += batch;
  }
  SetCounters(state, "images_per_second", images, SecondsSince(t0),
              ForwardFlopsPerSample(macs));
}

void BM_CnnInference(benchmark::State& state) { InferenceBenchmark(state, MakeCnn, CnnMacs()); }
void BM_MlpInference(benchmark::State& state) { InferenceBenchmark(state, MakeMlp, MlpMacs()); }
BENCHMARK(BM_CnnInference)->Arg(200)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MlpInference)->Arg(200)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace bench
}  // namespace gradway
#endif  // HWY_ONCE
