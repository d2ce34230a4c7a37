#include "data/idx.h"

#include <zlib.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/alloc_probe.h"
#include "data/file_util.h"
#include "gtest/gtest.h"

namespace gradway::data {
namespace {

// Checks that `text` contains `part`, printing both when it does not.
#define EXPECT_CONTAINS(text, part)                                          \
  EXPECT_NE(std::string(text).find(part), std::string::npos)                 \
      << "expected to find \"" << (part) << "\" in \"" << (text) << "\""

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

std::vector<uint8_t> Pattern(size_t n, int seed = 0) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 37 + seed * 11 + 5) % 256);
  return v;
}

std::string BigEndian(std::initializer_list<uint32_t> words) {
  std::string s;
  for (uint32_t w : words) {
    s.push_back(static_cast<char>(w >> 24));
    s.push_back(static_cast<char>(w >> 16));
    s.push_back(static_cast<char>(w >> 8));
    s.push_back(static_cast<char>(w));
  }
  return s;
}

std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

// Writes `bytes` gzip-compressed to `path`.
void WriteGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

void WriteRaw(const std::string& path, const std::string& bytes) {
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
}

// The status message must name the file and contain `problem`.
void ExpectError(const absl::Status& status, const std::string& path,
                 const std::string& problem) {
  ASSERT_FALSE(status.ok()) << "expected an error about " << problem << " for " << path;
  EXPECT_CONTAINS(std::string(status.message()), path);
  EXPECT_CONTAINS(std::string(status.message()), problem);
}

class IdxRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(IdxRoundTrip, ImagesAndLabels) {
  const std::string suffix = GetParam();
  const std::string images_path = TmpPath("rt-images" + suffix);
  const std::string labels_path = TmpPath("rt-labels" + suffix);
  const std::vector<uint8_t> pixels = Pattern(7 * 5 * 3);
  const std::vector<uint8_t> labels = {3, 1, 4, 1, 5, 9, 2};
  ASSERT_TRUE(WriteIdxImages(images_path, pixels, 7, 5, 3).ok());
  ASSERT_TRUE(WriteIdxLabels(labels_path, labels).ok());

  absl::StatusOr<std::string> bytes = ReadFileToString(images_path);
  ASSERT_TRUE(bytes.ok());
  if (suffix == ".gz") {
    EXPECT_EQ(static_cast<uint8_t>((*bytes)[0]), 0x1f);
    EXPECT_EQ(static_cast<uint8_t>((*bytes)[1]), 0x8b);
  } else {
    EXPECT_EQ(*bytes, BigEndian({0x803, 7, 5, 3}) + Str(pixels));
  }

  absl::StatusOr<IdxImages> images = ReadIdxImages(images_path);
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->count, 7);
  EXPECT_EQ(images->rows, 5);
  EXPECT_EQ(images->cols, 3);
  EXPECT_EQ(images->pixels, pixels);
  absl::StatusOr<std::vector<uint8_t>> read_labels = ReadIdxLabels(labels_path);
  ASSERT_TRUE(read_labels.ok()) << read_labels.status();
  EXPECT_EQ(*read_labels, labels);
}

TEST_P(IdxRoundTrip, EmptyFiles) {
  const std::string suffix = GetParam();
  const std::string images_path = TmpPath("empty-images" + suffix);
  ASSERT_TRUE(WriteIdxImages(images_path, {}, 0, 28, 28).ok());
  absl::StatusOr<IdxImages> images = ReadIdxImages(images_path);
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->count, 0);
  EXPECT_TRUE(images->pixels.empty());
}

INSTANTIATE_TEST_SUITE_P(RawAndGz, IdxRoundTrip, ::testing::Values("", ".gz"));

TEST(IdxWriter, RejectsWrongPixelCount) {
  const std::string path = TmpPath("bad-write");
  ExpectError(WriteIdxImages(path, Pattern(10), 2, 2, 2), path, "from 10 pixel bytes");
  ExpectError(WriteIdxImages(path, {}, -1, 2, 2), path, "cannot write");
}

TEST(IdxWriter, MissingDirectory) {
  const std::string path = TmpPath("no/such/dir/images");
  absl::Status s = WriteIdxLabels(path, {1, 2});
  ExpectError(s, path, "cannot create");
}

TEST(IdxReader, MissingFile) {
  const std::string path = TmpPath("does-not-exist-idx3-ubyte.gz");
  absl::StatusOr<IdxImages> images = ReadIdxImages(path);
  ExpectError(images.status(), path, "No such file");
  EXPECT_TRUE(absl::IsNotFound(images.status()));
  ExpectError(ReadIdxLabels(path).status(), path, "No such file");
}

TEST(IdxReader, WrongMagic) {
  const std::string labels_path = TmpPath("magic-labels");
  ASSERT_TRUE(WriteIdxLabels(labels_path, {1, 2, 3}).ok());
  absl::Status s = ReadIdxImages(labels_path).status();
  ExpectError(s, labels_path, "wrong magic number 0x00000801: expected 0x00000803");
  EXPECT_CONTAINS(std::string(s.message()), "labels file");

  const std::string images_path = TmpPath("magic-images.gz");
  ASSERT_TRUE(WriteIdxImages(images_path, Pattern(4), 1, 2, 2).ok());
  ExpectError(ReadIdxLabels(images_path).status(), images_path,
              "wrong magic number 0x00000803: expected 0x00000801");

  const std::string html = TmpPath("magic-html");
  WriteRaw(html, "<html><body>Not found</body></html>");
  s = ReadIdxImages(html).status();
  ExpectError(s, html, "wrong magic number 0x3c68746d");
  EXPECT_CONTAINS(std::string(s.message()), "not an IDX file");
}

TEST(IdxReader, TruncatedHeader) {
  for (size_t len : {0, 3, 4, 15}) {
    const std::string path = TmpPath(absl::StrCat("short-header-", len));
    WriteRaw(path, BigEndian({0x803, 1, 2, 2}).substr(0, len));
    ExpectError(ReadIdxImages(path).status(), path,
                absl::StrCat("truncated: an IDX images header needs 16 bytes but the file has "
                             "only ",
                             len));
  }
}

TEST(IdxReader, TruncatedImages) {
  const std::string raw = TmpPath("t10k-images-idx3-ubyte");
  WriteRaw(raw, BigEndian({0x803, 10000, 28, 28}) + Str(Pattern(1234)));
  ExpectError(ReadIdxImages(raw).status(), raw,
              "truncated: header says 10000 images of 28x28 (7840000 bytes) but only 1234 "
              "bytes follow");
  // The same, inside a valid gzip stream.
  const std::string gz = TmpPath("t10k-images-idx3-ubyte.gz");
  WriteGz(gz, BigEndian({0x803, 10000, 28, 28}) + Str(Pattern(1234)));
  ExpectError(ReadIdxImages(gz).status(), gz,
              "truncated: header says 10000 images of 28x28 (7840000 bytes) but only 1234 "
              "bytes follow");
}

TEST(IdxReader, TruncatedLabels) {
  const std::string path = TmpPath("truncated-labels");
  WriteRaw(path, BigEndian({0x801, 10}) + std::string(9, '\1'));
  ExpectError(ReadIdxLabels(path).status(), path,
              "truncated: header says 10 labels (10 bytes) but only 9 bytes follow");
}

TEST(IdxReader, TrailingBytes) {
  const std::string raw = TmpPath("trailing-images");
  WriteRaw(raw, BigEndian({0x803, 2, 3, 3}) + Str(Pattern(18 + 5)));
  ExpectError(ReadIdxImages(raw).status(), raw,
              "trailing bytes: header says 2 images of 3x3 (18 bytes) but 23 bytes follow "
              "(5 extra)");
  const std::string gz = TmpPath("trailing-labels.gz");
  WriteGz(gz, BigEndian({0x801, 2}) + std::string(3, '\1'));
  ExpectError(ReadIdxLabels(gz).status(), gz,
              "trailing bytes: header says 2 labels (2 bytes) but 3 bytes follow (1 extra)");
}

TEST(IdxReader, LabelOutOfRange) {
  const std::string path = TmpPath("labels-range");
  ASSERT_TRUE(WriteIdxLabels(path, {0, 9, 10, 3}).ok());
  ExpectError(ReadIdxLabels(path, 10).status(), path,
              "label 10 at index 2 is out of range: expected 0..9");
  EXPECT_TRUE(ReadIdxLabels(path, 0).ok());  // 0: any byte.
  EXPECT_TRUE(ReadIdxLabels(path, 11).ok());
}

TEST(IdxReader, ZeroSizedImages) {
  const std::string path = TmpPath("zero-rows");
  WriteRaw(path, BigEndian({0x803, 1, 0, 28}));
  ExpectError(ReadIdxImages(path).status(), path, "bad header: images of 0x28 pixels");
}

TEST(IdxReader, AbsurdHeaderDoesNotAllocate) {
  const std::string path = TmpPath("huge-header");
  WriteRaw(path, BigEndian({0x803, 0xffffffff, 0xffffffff, 0xffffffff}) + "abc");
  ExpectError(ReadIdxImages(path).status(), path, "more than the");
  const std::string path2 = TmpPath("big-header");
  WriteRaw(path2, BigEndian({0x803, 1000000, 1000, 1000}) + "abc");  // 1e12 bytes claimed
  ExpectError(ReadIdxImages(path2).status(), path2, "but only 3 bytes follow");
}

// A header is not trusted with memory: the buffer grows with the bytes actually there
// (plus one 64 KiB chunk), raw or gzip. 2^31 images (or labels) claimed by a 20-byte file
// are rejected as truncated without allocating anything like 2 GiB.
TEST(IdxReader, HostileHeaderAllocatesOnlyWhatIsThere) {
  for (const char* suffix : {"", ".gz"}) {
    const std::string images = TmpPath(absl::StrCat("2g-images", suffix));
    const std::string labels = TmpPath(absl::StrCat("2g-labels", suffix));
    const std::string image_bytes = BigEndian({0x803, 1u << 31, 1, 1}) + "abcd";
    const std::string label_bytes = BigEndian({0x801, 1u << 31}) + "abcd";
    if (std::string(suffix) == ".gz") {
      WriteGz(images, image_bytes);
      WriteGz(labels, label_bytes);
    } else {
      WriteRaw(images, image_bytes);
      WriteRaw(labels, label_bytes);
    }
    absl::Status s;
    size_t largest = LargestAllocationDuring([&] { s = ReadIdxImages(images).status(); });
    ExpectError(s, images,
                "truncated: header says 2147483648 images of 1x1 (2147483648 bytes) but only 4 "
                "bytes follow");
    EXPECT_LE(largest, size_t{1} << 16) << images;
    largest = LargestAllocationDuring([&] { s = ReadIdxLabels(labels).status(); });
    ExpectError(s, labels, "truncated: header says 2147483648 labels");
    EXPECT_LE(largest, size_t{1} << 16) << labels;
  }
  // A valid raw file's payload is read into one buffer of the file's size.
  const std::string path = TmpPath("3m-images");
  ASSERT_TRUE(WriteIdxImages(path, Pattern(3 << 20), 3 << 10, 32, 32).ok());
  absl::StatusOr<IdxImages> read;
  const size_t largest = LargestAllocationDuring([&] { read = ReadIdxImages(path); });
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_GE(largest, size_t{3} << 20);
  EXPECT_LE(largest, (size_t{3} << 20) + 16);
}

TEST(IdxReader, CorruptGzip) {
  const std::string good = TmpPath("good.gz");
  ASSERT_TRUE(WriteIdxImages(good, Pattern(3 * 28 * 28), 3, 28, 28).ok());
  absl::StatusOr<std::string> bytes = ReadFileToString(good);
  ASSERT_TRUE(bytes.ok());
  ASSERT_GT(bytes->size(), 40u);

  // Garbage in the deflate stream.
  std::string corrupt = *bytes;
  for (size_t i = 12; i < 30; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  const std::string path = TmpPath("corrupt.gz");
  WriteRaw(path, corrupt);
  absl::Status s = ReadIdxImages(path).status();
  ExpectError(s, path, "gzip data");
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;

  // A wrong CRC in the gzip trailer.
  std::string bad_crc = *bytes;
  bad_crc[bad_crc.size() - 6] = static_cast<char>(bad_crc[bad_crc.size() - 6] ^ 1);
  const std::string crc_path = TmpPath("bad-crc.gz");
  WriteRaw(crc_path, bad_crc);
  ExpectError(ReadIdxImages(crc_path).status(), crc_path, "corrupt gzip data");

  // The .gz file cut short: zlib sees the compressed stream end early.
  const std::string cut = TmpPath("cut.gz");
  WriteRaw(cut, bytes->substr(0, bytes->size() - 4));
  s = ReadIdxImages(cut).status();
  ExpectError(s, cut, "truncated gzip data");
  // zlib's own message repeats the path: it is named once only.
  EXPECT_EQ(s.message().find(cut), s.message().rfind(cut)) << s;
}

// Every prefix of a valid file, raw or gzip, is rejected with a message naming the
// file; none crashes.
TEST(IdxReader, EveryPrefixIsAnError) {
  for (const char* suffix : {"", ".gz"}) {
    const std::string good = TmpPath(absl::StrCat("prefix-good", suffix));
    ASSERT_TRUE(WriteIdxImages(good, Pattern(2 * 6 * 5), 2, 6, 5).ok());
    absl::StatusOr<std::string> bytes = ReadFileToString(good);
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE(ReadIdxImages(good).ok());
    const std::string path = TmpPath(absl::StrCat("prefix", suffix));
    for (size_t len = 0; len < bytes->size(); ++len) {
      WriteRaw(path, bytes->substr(0, len));
      absl::StatusOr<IdxImages> images = ReadIdxImages(path);
      EXPECT_FALSE(images.ok()) << "prefix of " << len << " bytes was accepted";
      EXPECT_CONTAINS(std::string(images.status().message()), path);
    }
  }
}

// Random bytes after a plausible header, and random flips in a gzip file: errors, never
// crashes (run under --config=asan).
TEST(IdxReader, RandomGarbage) {
  std::mt19937 rng(42);
  const std::string good = TmpPath("fuzz-good.gz");
  ASSERT_TRUE(WriteIdxImages(good, Pattern(4 * 7 * 7), 4, 7, 7).ok());
  absl::StatusOr<std::string> gz = ReadFileToString(good);
  ASSERT_TRUE(gz.ok());
  const std::string path = TmpPath("fuzz");
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes;
    if (trial % 2 == 0) {
      bytes = BigEndian({0x803, static_cast<uint32_t>(rng() % 4), static_cast<uint32_t>(rng() % 9),
                         static_cast<uint32_t>(rng() % 9)});
      const size_t extra = rng() % 300;
      for (size_t i = 0; i < extra; ++i) bytes.push_back(static_cast<char>(rng()));
    } else {
      bytes = *gz;
      const int flips = 1 + rng() % 4;
      for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    WriteRaw(path, bytes);
    absl::StatusOr<IdxImages> images = ReadIdxImages(path);
    if (images.ok()) {
      EXPECT_EQ(static_cast<int64_t>(images->pixels.size()),
                images->count * images->rows * images->cols);
    } else {
      EXPECT_CONTAINS(std::string(images.status().message()), path);
    }
  }
}

TEST(IdxCount, Mismatch) {
  EXPECT_TRUE(CheckSameCount("a", 3, "b", 3).ok());
  absl::Status s = CheckSameCount("train-images-idx3-ubyte.gz", 60000,
                                  "train-labels-idx1-ubyte.gz", 59999);
  EXPECT_EQ(s.message(),
            "count mismatch: train-images-idx3-ubyte.gz has 60000 images but "
            "train-labels-idx1-ubyte.gz has 59999 labels");
}

}  // namespace
}  // namespace gradway::data
