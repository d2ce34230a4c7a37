#include "nn/augmentation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/error.h"
#include "base/runtime.h"
#include "gtest/gtest.h"
#include "nn/backup_and_restore.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/test_util.h"

namespace gradway {
namespace nn {
namespace {

using testing::Bars;
using testing::TempPath;

// x[i] = sin(0.37 i + 0.1) * 2, as nn/testdata/augmentation_pytorch.py.
Tensor SineImages(const Shape& shape) {
  Tensor t = Tensor::Empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) {
    t.data()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + 0.1) * 2);
  }
  return t;
}

// 1, 2, 3, ... (no zero, so that a zero shows padding).
Tensor Counting(const Shape& shape) {
  Tensor t = Tensor::Empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i + 1);
  return t;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Image b of x [N, H, W, C] as a vector, with (y, x) read at (f(y), g(x)) (-1: zero).
std::vector<float> Remapped(const Tensor& x, int64_t b, int64_t out_h, int64_t out_w,
                            const std::function<int64_t(int64_t)>& rows,
                            const std::function<int64_t(int64_t)>& cols) {
  const int64_t h = x.size(1), w = x.size(2), c = x.size(3);
  std::vector<float> out;
  for (int64_t y = 0; y < out_h; ++y) {
    for (int64_t xx = 0; xx < out_w; ++xx) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t sy = rows(y), sx = cols(xx);
        const bool in = sy >= 0 && sy < h && sx >= 0 && sx < w;
        out.push_back(in ? x.at({b, sy, sx, ch}) : 0.f);
      }
    }
  }
  return out;
}

std::vector<float> Image(const Tensor& y, int64_t b) {
  const int64_t n = y.numel() / y.size(0);
  return std::vector<float>(y.data() + b * n, y.data() + (b + 1) * n);
}

// ---- PyTorch parity.

// From nn/testdata/augmentation_pytorch.py (F.grid_sample on TF's transforms).
const float kRotation005Reflect[] = {
    0.923675195f, 1.44779353f, 1.75096777f, 1.86440975f, 1.53899192f,
    1.25906069f, 0.600232939f, 0.455202255f, 0.684978342f, 0.860512389f,
    -0.262241077f, -0.0393925724f, -0.91503341f, -0.758187339f, -1.45374516f,
    -0.945532383f, -0.479725626f, -0.205130884f, -0.776933358f, -0.731786134f,
    -0.115585286f, -0.385687315f, 0.605756922f, 0.362927693f, 0.946683491f,
    0.310668354f, 0.148406109f, -0.201664632f, 0.530778368f, 0.375613293f,
    0.692906383f, 0.864661331f, -0.213016836f, 0.0296096054f, -0.29387999f,
    0.299875684f, 0.851088623f, 1.39348181f, 1.72318687f, 1.86619674f,
};
const float kRotationMinus03Reflect[] = {
    -0.904543029f, -0.232004517f, -0.99828153f, -0.460064242f, 1.73452263f,
    1.55824531f, -1.38009043f, -1.73324225f, 0.11225324f, 0.744949711f,
    0.409259029f, 1.06546969f, 0.400829661f, 0.562951541f, 0.242776626f,
    -0.0324390757f, -0.868739992f, -0.707602601f, 1.3686265f, 1.78090148f,
    1.55338713f, 1.87759097f, 0.174453874f, -0.161674831f, -0.680501621f,
    -0.515612329f, 0.568506292f, 0.650700687f, 1.92714766f, 1.85981657f,
    1.77105893f, 1.61304177f, -1.39465585f, -1.74086477f, 0.0508750956f,
    0.677152933f, 1.16943049f, 0.674350434f, 1.56697478f, 1.0613988f,
};
const float kTranslationNearest[] = {
    1.66800637f, 1.86657263f, 1.81250697f, 1.51312709f, 1.0089525f,
    0.368220938f, 0.163004309f, -0.568851411f, 0.163004309f, -0.568851411f,
    1.66800637f, 1.86657263f, 1.81250697f, 1.51312709f, 1.0089525f,
    0.368220938f, 0.163004309f, -0.568851411f, 0.163004309f, -0.568851411f,
    -1.16316856f, -0.977805914f, -0.660102006f, -0.253056233f, 0.188239469f,
    0.604057874f, 0.766923183f, 1.08490859f, 0.766923183f, 1.08490859f,
    0.830223626f, 0.460732544f, 0.0288836286f, -0.406874697f, -0.787564414f,
    -1.06166102f, -1.1923804f, -1.27844832f, -1.1923804f, -1.27844832f,
};
const float kTranslationReflect[] = {
    0.0108075468f, -0.216466871f, 0.430405507f, 0.23661915f, 0.624874328f,
    0.565938457f, 0.492494578f, 0.599236362f, 0.34225742f, 0.528242142f,
    1.75341016f, 1.86416864f, 0.867055833f, 1.40533578f, -0.472823203f,
    0.211423934f, -1.56538594f, -1.09307593f, -1.95835543f, -1.67900896f,
    0.591674623f, 0.477077749f, 0.5759555f, 0.626191052f, 0.258975442f,
    0.447767043f, -0.193465049f, 0.0351327129f, -0.424612919f, -0.207507641f,
    -0.611039075f, -0.619820006f, -0.357755112f, -0.519556897f, 0.0826572778f,
    -0.147532864f, 0.479834691f, 0.301660126f, 0.636113348f, 0.514663342f,
};

void ExpectNear(const Tensor& y, const float (&want)[40], const char* what) {
  ASSERT_EQ(y.numel(), 40) << what;
  for (int i = 0; i < 40; ++i) EXPECT_NEAR(y.data()[i], want[i], 1e-5f) << what << " at " << i;
}

// A factor range of one value makes the transform fixed: the numbers PyTorch's grid_sample
// gives for it (reflect is grid_sample's "reflection", nearest its "border").
TEST(AugmentationTest, WarpsAsPyTorchGridSample) {
  const Tensor x = SineImages({1, 4, 5, 2});
  RandomRotation a(RandomRotationOptions({0.05, 0.05}).Seed(1));
  ExpectNear(a(x), kRotation005Reflect, "rotation 0.05");
  RandomRotation b(RandomRotationOptions({-0.3, -0.3}).Seed(2));
  ExpectNear(b(x), kRotationMinus03Reflect, "rotation -0.3");
  RandomTranslation c(RandomTranslationOptions({0.3, 0.3}, {-0.27, -0.27}).FillMode("nearest"));
  ExpectNear(c(x), kTranslationNearest, "translation, nearest");
  RandomTranslation d(RandomTranslationOptions({-0.6, -0.6}, {0.9, 0.9}));
  ExpectNear(d(x), kTranslationReflect, "translation, reflect");
}

// ---- By hand.

TEST(AugmentationTest, TranslatesAndRotatesByHand) {
  // Down by a quarter of 4 rows: row 0 reads row -1, reflected to row 0.
  const Tensor x = Counting({1, 4, 3, 1});
  RandomTranslation down({0.25, 0.25}, 0);
  const Tensor y = down(x);
  EXPECT_EQ(Image(y, 0), Remapped(x, 0, 4, 3, [](int64_t r) { return r == 0 ? 0 : r - 1; },
                                  [](int64_t c) { return c; }));
  // A quarter turn counter-clockwise: output (y, x) reads input (x, 4 - y); clockwise
  // (4 - x, y).
  const Tensor sq = Counting({1, 5, 5, 2});
  RandomRotation ccw(RandomRotationOptions({0.25, 0.25}).Interpolation("nearest"));
  const Tensor r = ccw(sq);
  RandomRotation cw(RandomRotationOptions({-0.25, -0.25}).Interpolation("nearest"));
  const Tensor l = cw(sq);
  for (int64_t yy = 0; yy < 5; ++yy) {
    for (int64_t xx = 0; xx < 5; ++xx) {
      for (int64_t ch = 0; ch < 2; ++ch) {
        EXPECT_EQ(r.at({0, yy, xx, ch}), sq.at({0, xx, 4 - yy, ch})) << yy << "," << xx;
        EXPECT_EQ(l.at({0, yy, xx, ch}), sq.at({0, 4 - xx, yy, ch})) << yy << "," << xx;
      }
    }
  }
}

// The flips each image got, as a set of "h", "v", "hv", "".
std::set<std::string> FlipsSeen(RandomFlip& flip, const Tensor& x) {
  const Tensor y = flip(x);
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2);
  std::set<std::string> seen;
  for (int64_t b = 0; b < n; ++b) {
    std::string found = "none of the four";
    for (int k = 0; k < 4; ++k) {
      const bool lr = k & 1, ud = k & 2;
      const std::vector<float> want =
          Remapped(x, b, h, w, [&](int64_t r) { return ud ? h - 1 - r : r; },
                   [&](int64_t c) { return lr ? w - 1 - c : c; });
      if (Image(y, b) == want) found = std::string(lr ? "h" : "") + (ud ? "v" : "");
    }
    seen.insert(found);
  }
  return seen;
}

TEST(AugmentationTest, FlipsEachImageAsTheModeSays) {
  const Tensor x = Counting({48, 3, 4, 2});
  RandomFlip both;
  EXPECT_EQ(FlipsSeen(both, x), (std::set<std::string>{"", "h", "v", "hv"}));
  RandomFlip h("horizontal");
  EXPECT_EQ(FlipsSeen(h, x), (std::set<std::string>{"", "h"}));
  RandomFlip v(RandomFlipOptions("vertical").Seed(4));
  EXPECT_EQ(FlipsSeen(v, x), (std::set<std::string>{"", "v"}));
}

TEST(AugmentationTest, CropsAWindowOfThePaddedImage) {
  // Pad by 2 and crop 4x5 back: each image a window at its own offset in [0, 4]^2.
  const Tensor x = Counting({40, 4, 5, 1});
  RandomCrop crop(RandomCropOptions(4, 5).Padding(2).Seed(3));
  const Tensor y = crop(x);
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int64_t b = 0; b < 40; ++b) {
    bool found = false;
    for (int64_t oy = 0; oy <= 4 && !found; ++oy) {
      for (int64_t ox = 0; ox <= 4 && !found; ++ox) {
        if (Image(y, b) == Remapped(x, b, 4, 5, [&](int64_t r) { return r + oy - 2; },
                                    [&](int64_t c) { return c + ox - 2; })) {
          offsets.insert({oy, ox});
          found = true;
        }
      }
    }
    EXPECT_TRUE(found) << "image " << b;
  }
  EXPECT_GE(offsets.size(), 12u);  // 25 windows, 40 draws
  crop.Eval();
  EXPECT_TRUE(crop(x).is_same(x));  // the centred window is the image

  // Keras' form: a 3x4 window of 6x7, the centre one at inference (rows 1-3, columns 1-4).
  const Tensor big = Counting({10, 6, 7, 2});
  RandomCrop keras(3, 4);
  const Tensor t = keras(big);
  EXPECT_EQ(t.shape(), (Shape{10, 3, 4, 2}));
  keras.Eval();
  const Tensor centre = keras(big);
  for (int64_t b = 0; b < 10; ++b) {
    EXPECT_EQ(Image(centre, b), Remapped(big, b, 3, 4, [](int64_t r) { return r + 1; },
                                         [](int64_t c) { return c + 1; }));
  }
  // A centred window that reaches into the padding: 7 rows of 4 + 2 + 2, from row -2.
  const Tensor small = Counting({2, 4, 5, 1});
  RandomCrop tall(RandomCropOptions(7, 5).Padding(2));
  tall.Eval();
  EXPECT_EQ(Image(tall(small), 1), Remapped(small, 1, 7, 5, [](int64_t r) { return r - 2; },
                                            [](int64_t c) { return c; }));
}

// ---- Randomness.

TEST(AugmentationTest, TransformsComeFromSeedStepAndRow) {
  const Tensor x = SineImages({6, 7, 6, 3});
  RandomRotation layer(RandomRotationOptions(0.2).Seed(9));
  Tensor a, b, c;
  {
    RandomStepScope step(5);
    a = layer(x);
    b = layer(x);  // the same step: the same transforms
  }
  {
    RandomStepScope step(6);
    c = layer(x);
  }
  EXPECT_EQ(a.ToVector(), b.ToVector());
  EXPECT_NE(a.ToVector(), c.ToVector());
  // Row r's transform does not depend on the other rows: the first three rows alone give
  // the same images (as a micro-shard of data-parallel training would).
  {
    RandomStepScope step(5);
    const Tensor first = layer(x.Narrow(0, 0, 3));
    for (int64_t r = 0; r < 3; ++r) EXPECT_EQ(Image(first, r), Image(a, r)) << r;
  }
  EXPECT_NE(Image(a, 0), Image(a, 1));
  EXPECT_EQ(layer.TransformOf(5, 2), layer.TransformOf(5, 2));
  EXPECT_NE(layer.TransformOf(5, 2), layer.TransformOf(5, 3));
  EXPECT_NE(layer.TransformOf(5, 2), layer.TransformOf(6, 2));
}

TEST(AugmentationTest, SeedsComeFromTheModelGenerator) {
  auto seeds = [](uint64_t model_seed, std::optional<uint64_t> fixed) {
    Sequential m(model_seed);
    RandomTranslationOptions o(0.1, 0.1);
    if (fixed) o.Seed(*fixed);
    RandomFlip& f = m.Add(RandomFlip(RandomFlipOptions().InputShape({5, 5, 1})));
    RandomTranslation& t = m.Add(RandomTranslation(o));
    return std::make_pair(f.seed(), t.seed());
  };
  EXPECT_EQ(seeds(1, std::nullopt), seeds(1, std::nullopt));
  EXPECT_NE(seeds(1, std::nullopt).first, seeds(2, std::nullopt).first);
  EXPECT_NE(seeds(1, std::nullopt).first, seeds(1, std::nullopt).second);
  EXPECT_EQ(seeds(1, 77).second, 77u);
  EXPECT_EQ(seeds(2, 77).second, 77u);
}

TEST(AugmentationTest, SameBitsForOneAndTwoThreads) {
  const Tensor x = SineImages({12, 33, 31, 3});
  Sequential model(3);
  model.Add(RandomFlip(RandomFlipOptions().InputShape({33, 31, 3})));
  model.Add(RandomTranslation(RandomTranslationOptions(0.2, 0.3).FillMode("wrap")));
  model.Add(RandomRotation(RandomRotationOptions(0.5).FillMode("constant").FillValue(-1)));
  model.Add(RandomCrop(RandomCropOptions(29, 30).Padding(3)));
  std::vector<float> out[2];
  for (int threads : {1, 2}) {
    SetNumThreads(threads);
    RandomStepScope step(11);
    const Tensor y = model(x);
    out[threads - 1] = y.ToVector();
  }
  SetNumThreads(0);
  ASSERT_EQ(out[0].size(), out[1].size());
  EXPECT_EQ(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)), 0);
}

TEST(AugmentationTest, EvalIsTheIdentity) {
  const Tensor x = SineImages({3, 6, 5, 2});
  Sequential model(1);
  model.Add(RandomFlip(RandomFlipOptions().InputShape({6, 5, 2})));
  model.Add(RandomTranslation(0.5, 0.5));
  model.Add(RandomRotation(1.0));
  model.Add(RandomCrop(RandomCropOptions(6, 5).Padding(4)));
  model.Eval();
  EXPECT_TRUE(model(x).is_same(x));
  EXPECT_EQ(model.Predict(x).ToVector(), x.ToVector());
  model.Train();
  EXPECT_NE(model(x).ToVector(), x.ToVector());
}

// ---- Fit, resumed.

struct Crashed {};

// Throws Crashed at the end of global step `at` (1-based).
class CrashAt : public Callback {
 public:
  explicit CrashAt(int64_t at) : at_(at) {}
  void OnBatchEnd(int64_t, const Logs&) override {
    if (model()->train_step() == at_) throw Crashed{};
  }

 private:
  int64_t at_;
};

// A small CNN behind every augmentation layer, trained 3 epochs of 5 steps with a backup
// each step in `dir`; crashes at step `crash_step` when given.
struct AugmentedRun {
  explicit AugmentedRun(const std::string& dir, int64_t crash_step = -1) : model(4) {
    std::filesystem::create_directories(dir);
    model.Add(RandomFlip(RandomFlipOptions("horizontal").InputShape({8, 8, 1})));
    model.Add(RandomTranslation(0.15, 0.15));
    model.Add(RandomRotation(RandomRotationOptions(0.05).FillMode("nearest")));
    model.Add(RandomCrop(RandomCropOptions(8, 8).Padding(1)));
    model.Add(Conv2D(Conv2DOptions(3, 3).Activation(kRelu)));
    model.Add(Flatten());
    model.Add(Dense(DenseOptions(2).Activation(kSoftmax)));
    model.Compile(CategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.02)),
                  {"accuracy"});
    model.SetOutput(&out);
    auto [x, y] = Bars(40, 8, 5);
    backup = std::make_shared<BackupAndRestore>(
        BackupAndRestoreOptions(dir + "/backup").SaveFreq(1));
    history = model.Fit(x, y, FitOptions().Epochs(3).BatchSize(8).Verbose(0).Callbacks(
                                  {backup, CrashAt(crash_step)}));
  }
  Sequential model;
  std::ostringstream out;
  std::shared_ptr<BackupAndRestore> backup;
  History history;
};

TEST(AugmentationTest, ResumedFitEqualsUninterrupted) {
  const std::string ref_dir = TempPath("augment_ref");
  std::filesystem::remove_all(ref_dir);
  AugmentedRun ref(ref_dir);
  const std::string dir = TempPath("augment_crashed");
  std::filesystem::remove_all(dir);
  EXPECT_THROW(AugmentedRun(dir, /*crash_step=*/8), Crashed);
  AugmentedRun resumed(dir);
  // Resumed after step 7 (step 8's backup is not written): epoch 1, after 2 batches.
  EXPECT_EQ(resumed.backup->resumed_epoch(), 1);
  EXPECT_EQ(resumed.backup->resumed_batch(), 2);
  const std::vector<Tensor> a = ref.model.GetWeights(), b = resumed.model.GetWeights();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].ToVector(), b[i].ToVector()) << i;
  EXPECT_EQ(ref.history.loss, resumed.history.loss);
}

// ---- Summary, errors.

TEST(AugmentationTest, SummaryShowsTheLayers) {
  ClearSession();
  Sequential model(1);
  model.Add(RandomFlip(RandomFlipOptions().InputShape({8, 8, 1})));
  model.Add(RandomRotation(0.1));
  model.Add(RandomCrop(6, 7));
  model.Add(Flatten());
  model.Add(Dense(2));
  std::ostringstream os;
  model.Summary(os);
  const std::string s = os.str();
  // "random_rotation (RandomRotation)" widens the first column to 33.
  auto row = [](const std::string& layer, const std::string& shape) {
    return layer + std::string(33 - layer.size(), ' ') + shape +
           std::string(26 - shape.size(), ' ') + "0         \n";
  };
  EXPECT_NE(s.find(row("random_flip (RandomFlip)", "(None, 8, 8, 1)")), std::string::npos)
      << s;
  EXPECT_NE(s.find(row("random_rotation (RandomRotation)", "(None, 8, 8, 1)")),
            std::string::npos) << s;
  EXPECT_NE(s.find(row("random_crop (RandomCrop)", "(None, 6, 7, 1)")), std::string::npos)
      << s;
  EXPECT_NE(s.find("Total params: 86\n"), std::string::npos) << s;
}

TEST(AugmentationTest, ErrorsNameTheLayer) {
  EXPECT_EQ(ErrorOf([] { RandomFlip("diagonal"); }),
            "RandomFlip: unknown mode 'diagonal' (expected horizontal_and_vertical, "
            "horizontal or vertical)");
  EXPECT_EQ(ErrorOf([] {
              RandomTranslation(RandomTranslationOptions(0.1, 0.1).FillMode("mirror"));
            }),
            "RandomTranslation: unknown fill_mode 'mirror' (expected reflect, wrap, constant "
            "or nearest)");
  EXPECT_EQ(ErrorOf([] { RandomRotation(RandomRotationOptions(0.1).Interpolation("bicubic")); }),
            "RandomRotation: unknown interpolation 'bicubic' (expected bilinear or nearest)");
  EXPECT_EQ(ErrorOf([] { RandomTranslation(1.5, 0); }),
            "RandomTranslation: height_factor must lie in [-1, 1], got [-1.5, 1.5]");
  EXPECT_EQ(ErrorOf([] { RandomRotation({-0.2, 1.25}); }),
            "RandomRotation: factor must lie in [-1, 1], got [-0.2, 1.25]");
  EXPECT_EQ(ErrorOf([] { RandomCrop(RandomCropOptions(0, 3)); }),
            "RandomCrop: height and width must be positive and padding non-negative, got 0x3 "
            "with padding 0x0");
  EXPECT_EQ(ErrorOf([] { RandomCrop(RandomCropOptions(10, 9).Name("crop")).Build({8, 8, 1}); }),
            "crop (RandomCrop): a 10x9 crop does not fit input (None, 8, 8, 1) padded by 0x0");
  EXPECT_EQ(ErrorOf([] { RandomFlip(RandomFlipOptions().Name("flip")).Build({5}); }),
            "flip (RandomFlip): expects images (None, height, width, channels), got (None, 5)");
  RandomFlip flip(RandomFlipOptions().Name("flip"));
  Tensor x = Counting({2, 3, 3, 1}).SetRequiresGrad();
  EXPECT_NE(ErrorOf([&] { flip(x); })
                .find("flip (RandomFlip): its input requires a gradient, but augmentation "
                      "layers pass none back"),
            std::string::npos);
  flip.Eval();
  EXPECT_TRUE(flip(x).is_same(x));  // the identity passes gradients through
}

}  // namespace
}  // namespace nn
}  // namespace gradway
