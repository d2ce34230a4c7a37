#include "data/mnist.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
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

// Training rows [b, e): the same images and labels as those rows of the whole load, raw
// and gz; the test split whole.
TEST(IdxDir, TrainRangeEqualsTheSameRowsOfTheWholeLoad) {
  for (const char* suffix : {"", ".gz"}) {
    const std::string dir = TmpDir(absl::StrCat("idxdir-range", suffix[0] ? "-gz" : "-raw"));
    WriteIdxFolder(dir, 12, 5, suffix);
    absl::StatusOr<Dataset> whole = LoadIdxDir(dir);
    ASSERT_TRUE(whole.ok()) << whole.status();
    EXPECT_EQ(whole->train_first, 0);
    EXPECT_EQ(whole->train_total, 12);
    EXPECT_EQ(whole->train_count(), 12);
    for (const auto& [b, e] : std::vector<std::pair<int64_t, int64_t>>{
             {0, 12}, {3, 7}, {0, 1}, {11, 12}, {5, -1}, {0, 0}, {12, 12}, {12, -1}}) {
      SCOPED_TRACE(absl::StrCat(suffix, " [", b, ", ", e, ")"));
      const int64_t end = e == -1 ? 12 : e;
      absl::StatusOr<Dataset> d = LoadIdxDir(dir, IdxRange{b, e});
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_EQ(d->train_first, b);
      EXPECT_EQ(d->train_total, 12);
      EXPECT_EQ(d->train_count(), end - b);
      EXPECT_EQ(d->rows, 4);
      EXPECT_EQ(d->cols, 3);
      EXPECT_EQ(d->train_images,
                std::vector<uint8_t>(whole->train_images.begin() + b * 12,
                                     whole->train_images.begin() + end * 12));
      EXPECT_EQ(d->train_labels, std::vector<uint8_t>(whole->train_labels.begin() + b,
                                                      whole->train_labels.begin() + end));
      EXPECT_EQ(d->test_count(), 5);
      EXPECT_EQ(d->test_images, whole->test_images);
      EXPECT_EQ(d->test_labels, whole->test_labels);
      if (end - b < 12) {
        EXPECT_CONTAINS(d->description,
                        absl::StrCat("train images [", b, ", ", end, ") of 12 / 5 test"));
      }
    }
  }
}

TEST(IdxDir, TrainRangeOutsideTheFileNamesIt) {
  const std::string dir = TmpDir("idxdir-range-bad");
  WriteIdxFolder(dir, 12, 5, ".gz");
  const std::string images = absl::StrCat(dir, "/", kTrainImagesFile, ".gz");
  for (const auto& [range, shown] : std::vector<std::pair<IdxRange, std::string>>{
           {{0, 13}, "[0, 13)"}, {{13, -1}, "[13, end)"}, {{-1, 3}, "[-1, 3)"}}) {
    absl::Status s = LoadIdxDir(dir, range).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_CONTAINS(s.message(), images + ": bad range: images " + shown +
                                     " of a file of 12 images");
  }
}

// The files' whole counts are compared, whatever the range (even one both files hold).
TEST(IdxDir, CountMismatchWithARangeComparesTheFiles) {
  const std::string dir = TmpDir("idxdir-range-mismatch");
  WriteIdxFolder(dir, 12, 5, "", /*n_train_labels=*/11);
  for (const IdxRange range : {IdxRange{0, 5}, IdxRange{0, 12}, IdxRange{11, -1}}) {
    absl::Status s = LoadIdxDir(dir, range).status();
    EXPECT_EQ(s.message(), absl::StrCat("count mismatch: ", dir, "/", kTrainImagesFile,
                                        " has 12 images but ", dir, "/", kTrainLabelsFile,
                                        " has 11 labels"));
  }
}

// A truncated raw training file is an error whatever the range; a .gz one (cut short, as
// an interrupted download is) when the range reaches past the cut.
TEST(IdxDir, TruncatedTrainingFileWithARange) {
  const std::string raw_dir = TmpDir("idxdir-range-truncated-raw");
  WriteIdxFolder(raw_dir, 12, 5, "");
  const std::string raw = absl::StrCat(raw_dir, "/", kTrainImagesFile);
  absl::StatusOr<std::string> bytes = ReadFileToString(raw);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_TRUE(WriteFileAtomically(raw, bytes->substr(0, 16 + 10 * 12 + 6)).ok());
  for (const IdxRange range : {IdxRange{0, 1}, IdxRange{0, 0}, IdxRange{11, 12}}) {
    absl::Status s = LoadIdxDir(raw_dir, range).status();
    EXPECT_CONTAINS(s.message(), raw + ": truncated: header says 12 images of 4x3 (144 "
                                       "bytes) but only 126 bytes follow");
  }

  const std::string gz_dir = TmpDir("idxdir-range-truncated-gz");
  WriteIdxFolder(gz_dir, 12, 5, ".gz");
  const std::string gz = absl::StrCat(gz_dir, "/", kTrainImagesFile, ".gz");
  bytes = ReadFileToString(gz);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_TRUE(WriteFileAtomically(gz, bytes->substr(0, bytes->size() / 2)).ok());
  for (const IdxRange range : {IdxRange{11, 12}, IdxRange{6, -1}, IdxRange{}}) {
    absl::Status s = LoadIdxDir(gz_dir, range).status();
    EXPECT_CONTAINS(s.message(), gz + ": truncated gzip data");
  }
}

TEST(ResolveDataset, TrainRange) {
  const std::string dir = TmpDir("resolve-dir-range");
  WriteIdxFolder(dir, 6, 2, "");
  absl::StatusOr<Dataset> d = ResolveDataset(dir, "", IdxRange{2, 4});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->train_first, 2);
  EXPECT_EQ(d->train_total, 6);
  EXPECT_EQ(d->train_count(), 2);
  EXPECT_EQ(d->train_labels, (std::vector<uint8_t>{2, 3}));
  EXPECT_EQ(d->test_count(), 2);
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

  // Ranges of the real .gz files: the same rows as the whole load.
  for (const auto& [b, e] :
       std::vector<std::pair<int64_t, int64_t>>{{0, 100}, {31234, 31734}, {59000, -1}}) {
    const int64_t end = e == -1 ? 60000 : e;
    absl::StatusOr<Dataset> part = LoadFashionMnist(kFashionMnistDir, IdxRange{b, e});
    ASSERT_TRUE(part.ok()) << part.status();
    EXPECT_EQ(part->train_first, b);
    EXPECT_EQ(part->train_total, 60000);
    EXPECT_EQ(part->train_count(), end - b);
    EXPECT_TRUE(part->train_images == std::vector<uint8_t>(d->train_images.begin() + b * 784,
                                                           d->train_images.begin() + end * 784))
        << "[" << b << ", " << e << ")";
    EXPECT_EQ(part->train_labels, std::vector<uint8_t>(d->train_labels.begin() + b,
                                                       d->train_labels.begin() + end));
    EXPECT_EQ(part->test_count(), 10000);
  }
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

  // A range of the installed files (raw, as install_mnist.sh leaves them): the same rows.
  absl::StatusOr<Dataset> part = LoadDefaultMnist(DefaultCacheDir(), IdxRange{30000, 30500});
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(part->train_first, 30000);
  EXPECT_EQ(part->train_total, 60000);
  EXPECT_EQ(part->train_count(), 500);
  EXPECT_TRUE(part->train_images == std::vector<uint8_t>(d->train_images.begin() + 30000 * 784,
                                                         d->train_images.begin() + 30500 * 784));
  EXPECT_EQ(part->train_labels, std::vector<uint8_t>(d->train_labels.begin() + 30000,
                                                     d->train_labels.begin() + 30500));
}

}  // namespace
}  // namespace gradway::data
