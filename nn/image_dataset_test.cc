#include "nn/image_dataset.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "autograd/error.h"
#include "base/runtime.h"
#include "data/file_util.h"
#include "data/jpeg.h"
#include "data/png.h"
#include "gtest/gtest.h"
#include "nn/layers.h"
#include "nn/losses.h"
#include "nn/model.h"
#include "nn/optimizers.h"

namespace gradway {
namespace nn {
namespace {

#define EXPECT_CONTAINS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name, ".XXXXXX");
  EXPECT_NE(mkdtemp(dir.data()), nullptr) << dir;
  return dir;
}

// Class c's image i: a w x h gray picture, bright in the c-th third of its width.
std::vector<uint8_t> Picture(int c, int i, int w, int h) {
  std::vector<uint8_t> p(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      p[y * w + x] = static_cast<uint8_t>(x * 3 / w == c ? 230 - i : 20 + i);
    }
  }
  return p;
}

// `per_class` images in each of 3 class folders, PNG and JPEG alternately, 9x7 (the
// model's size) except every fourth, 12x10 (resized).
std::string MakeFolder(const std::string& name, int per_class) {
  const std::string dir = FreshDir(name);
  for (int c = 0; c < 3; ++c) {
    const std::string folder = absl::StrCat(dir, "/class_", c);
    EXPECT_TRUE(data::MakeDirs(folder).ok());
    for (int i = 0; i < per_class; ++i) {
      const int w = i % 4 == 3 ? 12 : 9, h = i % 4 == 3 ? 10 : 7;
      const std::vector<uint8_t> p = Picture(c, i, w, h);
      const std::string path = absl::StrFormat("%s/%03d.%s", folder, i, i % 2 ? "jpg" : "png");
      EXPECT_TRUE((i % 2 ? data::WriteJpeg(path, p.data(), w, h, 1, 95)
                         : data::WriteGrayPng(path, p.data(), w, h))
                      .ok());
    }
  }
  return dir;
}

TEST(ImageDatasetFromDirectory, GathersDecodedImagesAndLabels) {
  const std::string dir = MakeFolder("gather", 8);
  const auto options = ImageDirectoryOptions().ImageSize(7, 9).ColorMode("grayscale");
  absl::StatusOr<ImageDirectoryDatasets> d = ImageDatasetFromDirectory(dir, options);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->class_names, (std::vector<std::string>{"class_0", "class_1", "class_2"}));
  ASSERT_NE(d->training, nullptr);
  EXPECT_EQ(d->validation, nullptr);
  const ImageDirectoryDataset& train = *d->training;
  EXPECT_EQ(train.size(), 24);
  EXPECT_EQ(train.x_shape(), (Shape{7, 9, 1}));
  EXPECT_EQ(train.y_shape(), Shape{});
  EXPECT_EQ(train.Description(), "images (24 image files as (7, 9, 1), 3 classes)");

  const std::vector<int64_t> rows = {23, 0, 5, 5, 11};
  Tensor x, y;
  train.Gather(rows.data(), 5, &x, &y);
  ASSERT_EQ(x.shape(), (Shape{5, 7, 9, 1}));
  ASSERT_EQ(y.shape(), (Shape{5}));
  std::vector<float> expected(63);
  for (int64_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(train.loader().Load(rows[i], expected.data()).ok());
    for (int k = 0; k < 63; ++k) ASSERT_EQ(x.data()[i * 63 + k], expected[k]) << i << " " << k;
    EXPECT_EQ(y.data()[i], train.labels()[rows[i]]);
    EXPECT_CONTAINS(train.paths()[rows[i]], absl::StrCat("/class_", train.labels()[rows[i]], "/"));
  }
  // A PNG of the model's size: its pixels, in [0, 255].
  for (int64_t i = 0; i < train.size(); ++i) {
    const std::string& path = train.paths()[i];
    if (path.substr(path.size() - 7) != "000.png") continue;
    const int c = train.labels()[i];
    const std::vector<uint8_t> p = Picture(c, 0, 9, 7);
    const int64_t row = i;
    Tensor one_x, one_y;
    train.Gather(&row, 1, &one_x, &one_y);
    for (int k = 0; k < 63; ++k) ASSERT_EQ(one_x.data()[k], p[k]);
  }
}

TEST(ImageDatasetFromDirectory, LabelModesSubsetsAndRescale) {
  const std::string dir = MakeFolder("modes", 5);
  const auto base = ImageDirectoryOptions().ImageSize(7, 9).ValidationSplit(0.2).Seed(3);
  absl::StatusOr<ImageDirectoryDatasets> both = ImageDatasetFromDirectory(
      dir, ImageDirectoryOptions(base).Subset("both").LabelMode("categorical"));
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_NE(both->training, nullptr);
  ASSERT_NE(both->validation, nullptr);
  EXPECT_EQ(both->training->size(), 12);
  EXPECT_EQ(both->validation->size(), 3);
  EXPECT_EQ(both->training->x_shape(), (Shape{7, 9, 3}));  // Keras' default "rgb"
  EXPECT_EQ(both->validation->y_shape(), (Shape{3}));
  Tensor x, y;
  both->validation->Slice(0, 3, &x, &y);
  for (int64_t i = 0; i < 3; ++i) {
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(y.at({i, c}), both->validation->labels()[i] == c ? 1.f : 0.f);
    }
  }
  // "training" and "validation" in separate calls: the same, complementary files.
  absl::StatusOr<ImageDirectoryDatasets> training =
      ImageDatasetFromDirectory(dir, ImageDirectoryOptions(base).Subset("training"));
  absl::StatusOr<ImageDirectoryDatasets> validation =
      ImageDatasetFromDirectory(dir, ImageDirectoryOptions(base).Subset("validation"));
  ASSERT_TRUE(training.ok() && validation.ok());
  EXPECT_EQ(validation->training, nullptr);
  EXPECT_EQ(training->validation, nullptr);
  EXPECT_EQ(training->training->paths(), both->training->paths());
  EXPECT_EQ(validation->validation->paths(), both->validation->paths());
  std::set<std::string> all(training->training->paths().begin(),
                            training->training->paths().end());
  all.insert(validation->validation->paths().begin(), validation->validation->paths().end());
  EXPECT_EQ(all.size(), 15u);

  // Binary: two classes, y [N, 1]; Rescale(1 / 255.f): [0, 1].
  absl::StatusOr<ImageDirectoryDatasets> binary = ImageDatasetFromDirectory(
      dir, ImageDirectoryOptions().ImageSize(7, 9).ColorMode("grayscale").LabelMode("binary")
               .ClassNames({"class_2", "class_0"}).Shuffle(false).Rescale(1 / 255.f));
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->training->y_shape(), (Shape{1}));
  binary->training->Slice(0, 10, &x, &y);
  EXPECT_EQ(y.ToVector(), (std::vector<float>{0, 0, 0, 0, 0, 1, 1, 1, 1, 1}));
  const std::vector<uint8_t> first = Picture(2, 0, 9, 7);  // class_2/000.png
  for (int k = 0; k < 63; ++k) ASSERT_EQ(x.data()[k], first[k] * (1 / 255.f));
}

TEST(ImageDatasetFromDirectory, SameValuesAtAnyThreadCount) {
  const std::string dir = MakeFolder("threads", 12);
  std::vector<int64_t> rows;
  for (int64_t i = 35; i >= 0; i -= 2) rows.push_back(i);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 7}) {
    SetNumThreads(threads);
    // A fresh dataset each time and no cache: every row decoded by the threads.
    absl::StatusOr<ImageDirectoryDatasets> d = ImageDatasetFromDirectory(
        dir, ImageDirectoryOptions().ImageSize(8, 8).CacheBytes(0).Seed(5));
    ASSERT_TRUE(d.ok()) << d.status();
    Tensor x, y;
    d->training->Gather(rows.data(), static_cast<int64_t>(rows.size()), &x, &y);
    results.push_back(x.ToVector());
  }
  SetNumThreads(0);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(ImageDatasetFromDirectory, Errors) {
  absl::Status s = ImageDatasetFromDirectory(FreshDir("none") + "/x").status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;

  const std::string dir = MakeFolder("broken", 4);
  absl::StatusOr<ImageDirectoryDatasets> d = ImageDatasetFromDirectory(
      dir, ImageDirectoryOptions().ImageSize(7, 9).Shuffle(false).CacheBytes(0));
  ASSERT_TRUE(d.ok()) << d.status();
  // Files spoiled after listing: Gather throws, naming the first bad row's file.
  ASSERT_TRUE(data::WriteFileAtomically(dir + "/class_1/002.png", "\x89PNG\r\n\x1a\n!").ok());
  ASSERT_TRUE(data::RemoveFileDurably(dir + "/class_2/001.jpg").ok());
  const int64_t rows[] = {0, 9, 6};  // class_0/000.png, class_2/001.jpg, class_1/002.png
  Tensor x, y;
  try {
    d->training->Gather(rows, 3, &x, &y);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), "images: " + dir + "/class_2/001.jpg: cannot open the image file");
  }
  const int64_t png_row = 6;
  try {
    d->training->Gather(&png_row, 1, &x, &y);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_CONTAINS(e.what(), dir + "/class_1/002.png: not a readable PNG");
  }
  try {
    ImageDirectoryDataset bad({{"a.png"}, {3}}, 3, ImageDirectoryOptions(), "bad");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "bad: label 3 of a.png is not in [0, 3)");
  }
  try {
    ImageDirectoryDataset bad({{"a.png"}, {0}}, 1, ImageDirectoryOptions().ColorMode("cmyk"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "images: color_mode must be \"grayscale\", \"rgb\" or \"rgba\", not \"cmyk\"");
  }
}

TEST(ImageDatasetFromDirectory, FitsAModel) {
  // Three classes that a small dense model tells apart: the loss falls.
  const std::string dir = MakeFolder("fit", 16);
  absl::StatusOr<ImageDirectoryDatasets> d = ImageDatasetFromDirectory(
      dir, ImageDirectoryOptions().ImageSize(7, 9).ColorMode("grayscale").Rescale(1 / 255.f)
               .ValidationSplit(0.25).Subset("both").Seed(11));
  ASSERT_TRUE(d.ok()) << d.status();
  Sequential model(/*seed=*/1);
  model.Add(Flatten(Shape{7, 9, 1}));
  model.Add(Dense(DenseOptions(3).Activation(kSoftmax)));
  model.Compile(SparseCategoricalCrossentropy(), Adam(AdamOptions().LearningRate(0.05)),
                {"accuracy"});
  History h = model.Fit(*d->training, FitOptions()
                                          .Epochs(8)
                                          .BatchSize(8)
                                          .Verbose(0)
                                          .ValidationData(d->validation));
  EXPECT_LT(h.history["loss"].back(), 0.5 * h.history["loss"].front());
  EXPECT_GT(h.history["val_accuracy"].back(), 0.5);
}

}  // namespace
}  // namespace nn
}  // namespace gradway
