// The acceptance test of ImageDatasetFromDirectory on real images: Fashion-MNIST's first
// 6,000 training images written as files into one folder per class (every other one PNG,
// the rest JPEG at quality 95), read back through ImageDatasetFromDirectory, give the same
// pixels (the PNGs exactly, the JPEGs nearly) and train a model to the accuracy the same
// model reaches, trained the same way, on the IDX files' bytes (within 1 point on the
// 10,000 test images).
//
// Fashion-MNIST is Debian's dataset-fashion-mnist, installed by `bash
// third_party/install.sh`; without it the test fails (it does not skip), so that a machine
// lacking it cannot pass silently.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_util.h"
#include "data/jpeg.h"
#include "data/mnist.h"
#include "data/png.h"
#include "gtest/gtest.h"
#include "nn/dataset.h"
#include "nn/image_dataset.h"
#include "nn/layers.h"
#include "nn/losses.h"
#include "nn/model.h"
#include "nn/optimizers.h"

namespace gradway {
namespace nn {
namespace {

constexpr int64_t kTrain = 6000;
// Class folders as a user would name them; the digit first keeps Keras' alphabetical class
// order equal to Fashion-MNIST's label order.
const char* const kClasses[10] = {"0_t-shirt_top", "1_trouser", "2_pullover", "3_dress",
                                  "4_coat",        "5_sandal",  "6_shirt",    "7_sneaker",
                                  "8_bag",         "9_ankle_boot"};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// The model both runs train: a small MLP, the same seed.
double TrainAndTest(const Dataset& train, const Dataset& test) {
  Sequential model(/*seed=*/7);
  model.Add(Flatten(Shape{28, 28, 1}));
  model.Add(Dense(DenseOptions(64).Activation(kRelu)));
  model.Add(Dense(DenseOptions(10).Activation(kSoftmax)));
  model.Compile(SparseCategoricalCrossentropy(), Adam(), {"accuracy"});
  model.Fit(train, FitOptions().Epochs(6).BatchSize(32).Seed(11).Verbose(0));
  return model.Evaluate(test, 500).Get("accuracy");
}

// Writes the images into a fresh folder: <dir>/<class>/<index>.png or .jpg. Returns it.
std::string WriteClassFolders(const data::Dataset& fashion) {
  const auto start = std::chrono::steady_clock::now();
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/fashion.XXXXXX");
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  for (const char* name : kClasses) EXPECT_TRUE(data::MakeDirs(dir + "/" + name).ok());
  for (int64_t i = 0; i < kTrain; ++i) {
    const uint8_t* pixels = fashion.train_images.data() + i * 784;
    const std::string path = absl::StrFormat("%s/%s/%05d.%s", dir,
                                             kClasses[fashion.train_labels[i]], i,
                                             i % 2 ? "jpg" : "png");
    const absl::Status s = i % 2 ? data::WriteJpeg(path, pixels, 28, 28, 1, 95)
                                 : data::WriteGrayPng(path, pixels, 28, 28);
    EXPECT_TRUE(s.ok()) << s;
  }
  std::printf("wrote %lld images in %.2f s\n", static_cast<long long>(kTrain), Seconds(start));
  return dir;
}

// The pixels of `from_files` against `from_idx` (the same rows): PNG rows exactly
// byte * (1 / 255), JPEG rows within JPEG's loss.
void ExpectSamePixels(const ImageDirectoryDataset& from_files, const ByteImageDataset& from_idx) {
  Tensor x, y, x_idx, y_idx;
  from_files.Slice(0, kTrain, &x, &y);
  from_idx.Slice(0, kTrain, &x_idx, &y_idx);
  EXPECT_EQ(y.ToVector(), y_idx.ToVector());
  double jpeg_error = 0;
  int64_t jpegs = 0;
  for (int64_t row = 0; row < kTrain; ++row) {
    const std::string& path = from_files.paths()[row];
    const bool png = path.compare(path.size() - 4, 4, ".png") == 0;
    for (int64_t k = row * 784; k < (row + 1) * 784; ++k) {
      if (png) {
        ASSERT_EQ(x.data()[k], from_idx.pixels()[k] * (1 / 255.f)) << path;
      } else {
        jpeg_error += std::abs(x.data()[k] - x_idx.data()[k]);
      }
    }
    jpegs += png ? 0 : 1;
  }
  EXPECT_EQ(jpegs, kTrain / 2);
  jpeg_error *= 255.0 / (jpegs * 784);
  std::printf("JPEG quality 95: mean absolute error %.3f levels\n", jpeg_error);
  EXPECT_GT(jpeg_error, 0.05);  // they are JPEGs,
  EXPECT_LT(jpeg_error, 2.0);   // and good ones
}

TEST(ImageDatasetFromDirectoryFashionMnist, TrainsAsWellAsTheIdxFiles) {
  ASSERT_TRUE(data::DirExists(data::kFashionMnistDir))
      << data::kFashionMnistDir
      << " is missing: run `bash third_party/install.sh` (Debian package "
         "dataset-fashion-mnist)";
  absl::StatusOr<data::Dataset> fashion =
      data::LoadFashionMnist(data::kFashionMnistDir, data::IdxRange{0, kTrain});
  ASSERT_TRUE(fashion.ok()) << fashion.status();
  const std::string dir = WriteClassFolders(*fashion);

  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ImageDirectoryDatasets> files = ImageDatasetFromDirectory(
      dir, ImageDirectoryOptions().ImageSize(28, 28).ColorMode("grayscale").Shuffle(false)
               .Rescale(1 / 255.f));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->class_names, std::vector<std::string>(kClasses, kClasses + 10));
  const ImageDirectoryDataset& from_files = *files->training;
  ASSERT_EQ(from_files.size(), kTrain);
  EXPECT_EQ(from_files.x_shape(), (Shape{28, 28, 1}));

  // The IDX bytes in the folder's order (class by class, by index), as a ByteImageDataset:
  // both runs then see the same images in the same order, and differ only by JPEG's loss.
  std::vector<uint8_t> pixels, labels;
  for (int64_t row = 0; row < kTrain; ++row) {
    const std::string& path = from_files.paths()[row];
    const int64_t i = std::atoll(path.substr(path.rfind('/') + 1).c_str());
    ASSERT_EQ(from_files.labels()[row], fashion->train_labels[i]) << path;
    pixels.insert(pixels.end(), fashion->train_images.begin() + i * 784,
                  fashion->train_images.begin() + (i + 1) * 784);
    labels.push_back(fashion->train_labels[i]);
  }
  ByteImageDataset from_idx(pixels, labels, {28, 28, 1}, 10, /*one_hot=*/false, "idx");
  ExpectSamePixels(from_files, from_idx);
  std::printf("listed and decoded %lld images in %.2f s\n", static_cast<long long>(kTrain),
              Seconds(start));

  // The same model trained the same way on each; tested on the 10,000 test images.
  ByteImageDataset test(fashion->test_images, fashion->test_labels, {28, 28, 1}, 10,
                        /*one_hot=*/false, "test");
  start = std::chrono::steady_clock::now();
  const double idx_accuracy = TrainAndTest(from_idx, test);
  std::printf("IDX bytes: test accuracy %.4f (%.2f s)\n", idx_accuracy, Seconds(start));
  start = std::chrono::steady_clock::now();
  const double files_accuracy = TrainAndTest(from_files, test);
  std::printf("PNG + JPEG files: test accuracy %.4f (%.2f s)\n", files_accuracy,
              Seconds(start));
  EXPECT_GT(idx_accuracy, 0.78);  // the model learned something
  EXPECT_NEAR(files_accuracy, idx_accuracy, 0.01);
  EXPECT_EQ(from_files.loader().cached_images(), kTrain);  // all kept: decoded once
}

}  // namespace
}  // namespace nn
}  // namespace gradway
