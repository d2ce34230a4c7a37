#include "data/mnist.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/file_util.h"
#include "data/idx.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

#define EXPECT_CONTAINS(text, part)                                  \
  EXPECT_NE(std::string(text).find(part), std::string::npos)         \
      << "expected to find \"" << (part) << "\" in \"" << (text) << "\""

// A fresh folder under TEST_TMPDIR.
std::string TmpDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::string dir = absl::StrCat(root != nullptr ? root : "/tmp", "/", name);
  EXPECT_TRUE(MakeDirs(dir).ok());
  return dir;
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

TEST(IdxDir, NoImagesIsAnError) {
  for (const bool empty_train : {true, false}) {
    const std::string dir = TmpDir(empty_train ? "idxdir-empty-train" : "idxdir-empty-test");
    WriteIdxFolder(dir, empty_train ? 0 : 3, empty_train ? 2 : 0, "");
    absl::Status s = LoadIdxDir(dir).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_CONTAINS(s.message(),
                    absl::StrCat(dir, "/", empty_train ? kTrainImagesFile : kTestImagesFile,
                                 ": holds no images"));
  }
}

TEST(DefaultMnist, NothingInstalled) {
  const std::string cache = TmpDir("cache-empty");
  absl::Status s = LoadDefaultMnist(cache).status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_CONTAINS(s.message(), "bash third_party/install.sh");
  EXPECT_CONTAINS(s.message(), cache + "/mnist holds none of its four IDX files");
}

TEST(DefaultMnist, LoadsTheCacheFolder) {
  const std::string cache = TmpDir("cache-full");
  ASSERT_TRUE(MakeDirs(cache + "/mnist").ok());
  WriteIdxFolder(cache + "/mnist", 6, 4, ".gz");
  absl::StatusOr<Dataset> d = LoadDefaultMnist(cache);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train_count(), 6);
  EXPECT_EQ(d->test_count(), 4);
  EXPECT_CONTAINS(d->description, "MNIST (the official IDX files in " + cache + "/mnist)");

  // Only some of the files: an error naming the missing one.
  const std::string gone = absl::StrCat(cache, "/mnist/", kTestLabelsFile, ".gz");
  std::remove(gone.c_str());
  absl::Status s = LoadDefaultMnist(cache).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_CONTAINS(s.message(), std::string("but not ") + kTestLabelsFile);
  EXPECT_CONTAINS(s.message(), "bash third_party/install.sh");
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

TEST(RealData, OfficialMnist) {
  const std::string dir = DefaultCacheDir() + "/mnist";
  ASSERT_TRUE(DirExists(dir)) << dir << " is missing: run `bash third_party/install.sh`";
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<Dataset> d = LoadDefaultMnist();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(d.ok()) << d.status();
  std::printf("LoadDefaultMnist: %.3f s\n", seconds);
  EXPECT_EQ(d->train_count(), 60000);
  EXPECT_EQ(d->test_count(), 10000);
  EXPECT_EQ(d->rows, 28);
  EXPECT_EQ(d->cols, 28);

  // The official class counts of the training and test sets.
  const std::vector<int> train_counts = {5923, 6742, 5958, 6131, 5842,
                                         5421, 5918, 6265, 5851, 5949};
  const std::vector<int> test_counts = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
  std::vector<int> train(10), test(10);
  for (uint8_t l : d->train_labels) ++train[l];
  for (uint8_t l : d->test_labels) ++test[l];
  EXPECT_EQ(train, train_counts);
  EXPECT_EQ(test, test_counts);

  // X_train[0] is the chapter's 5; y_train[:10] = 5 0 4 1 9 2 1 3 1 4.
  EXPECT_EQ(std::vector<uint8_t>(d->train_labels.begin(), d->train_labels.begin() + 10),
            (std::vector<uint8_t>{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}));
  const uint8_t* five = d->train_images.data();
  const std::vector<uint8_t> row5 = {0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
                                     0,   0,   3,   18,  18,  18,  126, 136, 175, 26,
                                     166, 255, 247, 127, 0,   0,   0,   0};
  const std::vector<uint8_t> row6 = {0,   0,   0,   0,   0,   0,   0,   0,   30,  36,
                                     94,  154, 170, 253, 253, 253, 253, 253, 225, 172,
                                     253, 242, 195, 64,  0,   0,   0,   0};
  EXPECT_EQ(std::vector<uint8_t>(five + 5 * 28, five + 6 * 28), row5);
  EXPECT_EQ(std::vector<uint8_t>(five + 6 * 28, five + 7 * 28), row6);
  // y_test[:5] = 7 2 1 0 4.
  EXPECT_EQ(std::vector<uint8_t>(d->test_labels.begin(), d->test_labels.begin() + 5),
            (std::vector<uint8_t>{7, 2, 1, 0, 4}));
}

}  // namespace
}  // namespace gradway::data
