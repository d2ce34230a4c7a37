#include "nn/dataset.h"

#include <string>
#include <vector>

#include "autograd/error.h"
#include "gtest/gtest.h"
#include "nn/layers.h"
#include "nn/model.h"

namespace gradway {
namespace nn {
namespace {

// n images of 3x3 with bytes (7 i + 5 p) mod 256 and labels i mod 4.
std::vector<uint8_t> Pixels(int64_t n) {
  std::vector<uint8_t> p(n * 9);
  for (int64_t i = 0; i < n * 9; ++i) p[i] = static_cast<uint8_t>((7 * (i / 9) + 5 * i) % 256);
  return p;
}
std::vector<uint8_t> Labels(int64_t n) {
  std::vector<uint8_t> l(n);
  for (int64_t i = 0; i < n; ++i) l[i] = static_cast<uint8_t>(i % 4);
  return l;
}

// The same data as float tensors, scaled as the examples always did: byte / 255.0f.
void AsTensors(int64_t n, Tensor* x, Tensor* y) {
  std::vector<uint8_t> p = Pixels(n), l = Labels(n);
  *x = Tensor::Empty({n, 3, 3, 1});
  *y = Tensor::Zeros({n, 4});
  for (int64_t i = 0; i < n * 9; ++i) x->data()[i] = p[i] / 255.0f;
  for (int64_t i = 0; i < n; ++i) y->data()[i * 4 + l[i]] = 1.f;
}

TEST(ByteImageDatasetTest, GathersScaledPixelsAndOneHotLabels) {
  ByteImageDataset d(Pixels(60), Labels(60), {3, 3, 1}, 4);
  EXPECT_EQ(d.size(), 60);
  EXPECT_EQ(d.x_shape(), (Shape{3, 3, 1}));
  EXPECT_EQ(d.y_shape(), (Shape{4}));
  Tensor x_all, y_all;
  AsTensors(60, &x_all, &y_all);
  const std::vector<int64_t> rows = {59, 0, 17, 17, 33};
  Tensor x, y;
  d.Gather(rows.data(), 5, &x, &y);
  ASSERT_EQ(x.shape(), (Shape{5, 3, 3, 1}));
  ASSERT_EQ(y.shape(), (Shape{5, 4}));
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t k = 0; k < 9; ++k) {
      EXPECT_EQ(x.data()[i * 9 + k], x_all.data()[rows[i] * 9 + k]) << i << " " << k;
    }
    for (int64_t c = 0; c < 4; ++c) {
      EXPECT_EQ(y.at({i, c}), y_all.at({rows[i], c})) << i << " " << c;
    }
  }
  // Every byte value, exactly as byte / 255.0f.
  std::vector<uint8_t> all(256 * 9);
  for (int i = 0; i < 256 * 9; ++i) all[i] = static_cast<uint8_t>(i / 9);
  ByteImageDataset bytes(all, std::vector<uint8_t>(256, 0), {9}, 1, /*one_hot=*/false);
  Tensor xb, yb;
  bytes.Slice(0, 256, &xb, &yb);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(xb.at({b, 4}), static_cast<float>(b) / 255.0f) << b;
  EXPECT_EQ(yb.shape(), (Shape{256}));
}

TEST(ByteImageDatasetTest, SparseLabelsAndBufferReuse) {
  ByteImageDataset d(Pixels(10), Labels(10), {9}, 4, /*one_hot=*/false);
  Tensor x, y;
  const int64_t rows[] = {3, 6};
  d.Gather(rows, 2, &x, &y);
  const float* storage = x.data();
  EXPECT_EQ(y.ToVector(), (std::vector<float>{3, 2}));
  d.Gather(rows, 2, &x, &y);
  EXPECT_EQ(x.data(), storage);  // same shape: the storage is reused
}

TEST(ByteImageDatasetTest, RejectsSizesAndLabelsThatDisagree) {
  auto error = [](auto make) {
    try {
      make();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error([] { ByteImageDataset(Pixels(5), Labels(4), {3, 3}, 4, true, "train"); })
                .find("train: 45 pixel bytes for 4 labels of images shaped (3, 3)"),
            std::string::npos);
  EXPECT_NE(error([] { ByteImageDataset(Pixels(5), Labels(5), {3, 3}, 3, true, "train"); })
                .find("train: label 3 of image 3 is not below 3 classes"),
            std::string::npos);
}

TEST(TensorDatasetTest, GathersRowsAndSlicesViews) {
  Tensor x, y;
  AsTensors(8, &x, &y);
  TensorDataset d(x, y);
  Tensor xs, ys;
  d.Slice(2, 3, &xs, &ys);
  EXPECT_EQ(xs.data(), x.data() + 2 * 9);  // a view
  const int64_t rows[] = {7, 1};
  Tensor xg, yg;
  d.Gather(rows, 2, &xg, &yg);
  EXPECT_EQ(xg.at({0, 1, 2, 0}), x.at({7, 1, 2, 0}));
  EXPECT_EQ(yg.at({1, 1}), 1.f);
  EXPECT_THROW(TensorDataset(x, Tensor::Zeros({7, 4})), Error);
}

Sequential SmallCnn() {
  Sequential model(3);
  model.Add(Conv2D(Conv2DOptions(4, 2).Activation(kRelu).InputShape({3, 3, 1})));
  model.Add(Dropout(DropoutOptions(0.25)));
  model.Add(Flatten());
  model.Add(Dense(DenseOptions(4).Activation(kSoftmax)));
  model.Compile(CategoricalCrossentropy(), Adam(), {"accuracy"});
  return model;
}

// Fit and Evaluate on bytes train exactly as on the same data held as floats.
TEST(ByteImageDatasetTest, FitMatchesFloatTensorsBitForBit) {
  Tensor x, y;
  AsTensors(70, &x, &y);
  auto bytes = std::make_shared<ByteImageDataset>(Pixels(70), Labels(70), Shape{3, 3, 1}, 4);
  Sequential a = SmallCnn(), b = SmallCnn();
  FitOptions o = FitOptions().Epochs(3).BatchSize(16).Verbose(0);
  History ha = a.Fit(x, y, FitOptions(o).ValidationData(x, y));
  History hb = b.Fit(*bytes, FitOptions(o).ValidationData(bytes));
  EXPECT_EQ(ha.loss, hb.loss);
  EXPECT_EQ(ha.val_loss, hb.val_loss);
  EXPECT_EQ(ha.val_accuracy, hb.val_accuracy);
  std::vector<Tensor> wa = a.GetWeights(), wb = b.GetWeights();
  for (size_t i = 0; i < wa.size(); ++i) EXPECT_EQ(wa[i].ToVector(), wb[i].ToVector()) << i;
  EXPECT_EQ(a.Evaluate(x, y, 16).Get("loss"), b.Evaluate(*bytes, 16).Get("loss"));
}

TEST(ByteImageDatasetTest, FitNamesDataOfTheWrongShape) {
  Sequential model = SmallCnn();
  ByteImageDataset flat(Pixels(10), Labels(10), {9}, 4, true, "flat images");
  try {
    model.Fit(flat, FitOptions().Verbose(0));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("flat images (10 images (9,) as bytes)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace nn
}  // namespace gradway
