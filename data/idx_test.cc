#include "data/idx.h"

#include <zlib.h>

#include <cstdlib>
#include <random>
#include <string>
#include <utility>
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

// The payload limit is exactly 2^40 bytes: a header claiming one 4096x4096 image more
// (2^40 + 2^24 bytes) is refused as too large, raw or gzip, before anything is allocated;
// one claiming exactly 2^40 bytes passes that check and is then found truncated.
TEST(IdxReader, PayloadLimitIsTwoToTheFortyBytes) {
  for (const char* suffix : {"", ".gz"}) {
    const std::string over = TmpPath(absl::StrCat("over-2p40", suffix));
    const std::string at = TmpPath(absl::StrCat("at-2p40", suffix));
    const std::string over_bytes = BigEndian({0x803, 65537, 4096, 4096}) + "abc";
    const std::string at_bytes = BigEndian({0x803, 65536, 4096, 4096}) + "abc";
    if (std::string(suffix) == ".gz") {
      WriteGz(over, over_bytes);
      WriteGz(at, at_bytes);
    } else {
      WriteRaw(over, over_bytes);
      WriteRaw(at, at_bytes);
    }
    absl::Status s;
    const size_t largest = LargestAllocationDuring([&] { s = ReadIdxImages(over).status(); });
    ExpectError(s, over,
                "bad header: 65537 images of 4096x4096 is 1099528404992 bytes, more than the "
                "1099511627776 this reader accepts");
    EXPECT_LE(largest, size_t{1} << 16) << over;
    ExpectError(ReadIdxImages(at).status(), at,
                "truncated: header says 65536 images of 4096x4096 (1099511627776 bytes) but "
                "only 3 bytes follow");
  }
}

// One image larger than the limit is refused even in a file of no images (found by the
// fuzzer: rows * cols of 4294967267 x 4294967267 overflowed int64_t in its caller).
TEST(IdxReader, OneImageOverTheLimitIsRefusedEvenWithNoImages) {
  const std::string path = TmpPath("huge-image");
  WriteRaw(path, BigEndian({0x803, 0, 4294967267u, 4294967267u}));
  ExpectError(ReadIdxImages(path).status(), path,
              "bad header: one of its images is 18446743824601449289 bytes, more than the "
              "1099511627776 this reader accepts");
  const std::string at = TmpPath("image-at-limit");
  WriteRaw(at, BigEndian({0x803, 0, 1u << 20, 1u << 20}));
  absl::StatusOr<IdxImages> empty = ReadIdxImages(at);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->total, 0);
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

// Ranges: every range [b, e) of a raw and of a .gz file (empty ones, ones ending at the
// last item and end -1 included) holds the same items as the whole read.
class IdxRangeTest : public ::testing::TestWithParam<const char*> {};

TEST_P(IdxRangeTest, EveryRangeEqualsTheSameRowsOfTheWholeRead) {
  const std::string suffix = GetParam();
  const std::string images_path = TmpPath("range-images" + suffix);
  const std::string labels_path = TmpPath("range-labels" + suffix);
  constexpr int64_t kCount = 7, kPixels = 5 * 3;
  const std::vector<uint8_t> pixels = Pattern(kCount * kPixels, 3);
  const std::vector<uint8_t> labels = {3, 1, 4, 1, 5, 9, 2};
  ASSERT_TRUE(WriteIdxImages(images_path, pixels, kCount, 5, 3).ok());
  ASSERT_TRUE(WriteIdxLabels(labels_path, labels).ok());

  absl::StatusOr<IdxImages> whole = ReadIdxImages(images_path);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->first, 0);
  EXPECT_EQ(whole->count, kCount);
  EXPECT_EQ(whole->total, kCount);
  EXPECT_EQ(whole->pixels, pixels);

  for (int64_t b = 0; b <= kCount; ++b) {
    for (int64_t e = b - 1; e <= kCount; ++e) {
      if (e == b - 1 && e != -1) continue;  // Only -1 (to the last) below b.
      const int64_t end = e == -1 ? kCount : e;
      SCOPED_TRACE(absl::StrCat(suffix, " [", b, ", ", e, ")"));
      absl::StatusOr<IdxImages> images = ReadIdxImages(images_path, IdxRange{b, e});
      ASSERT_TRUE(images.ok()) << images.status();
      EXPECT_EQ(images->first, b);
      EXPECT_EQ(images->count, end - b);
      EXPECT_EQ(images->total, kCount);
      EXPECT_EQ(images->rows, 5);
      EXPECT_EQ(images->cols, 3);
      EXPECT_EQ(images->pixels, std::vector<uint8_t>(whole->pixels.begin() + b * kPixels,
                                                     whole->pixels.begin() + end * kPixels));
      absl::StatusOr<IdxLabels> read_labels = ReadIdxLabelRange(labels_path, IdxRange{b, e});
      ASSERT_TRUE(read_labels.ok()) << read_labels.status();
      EXPECT_EQ(read_labels->first, b);
      EXPECT_EQ(read_labels->count(), end - b);
      EXPECT_EQ(read_labels->total, kCount);
      EXPECT_EQ(read_labels->labels,
                std::vector<uint8_t>(labels.begin() + b, labels.begin() + end));
    }
  }
}

// A range larger than the read and skip chunks (64 KiB), not aligned to them.
TEST_P(IdxRangeTest, LargeRangeAcrossChunks) {
  const std::string suffix = GetParam();
  const std::string path = TmpPath("range-large" + suffix);
  constexpr int64_t kCount = 1000, kPixels = 28 * 28;
  const std::vector<uint8_t> pixels = Pattern(kCount * kPixels, 5);
  ASSERT_TRUE(WriteIdxImages(path, pixels, kCount, 28, 28).ok());
  for (const auto& [b, e] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 1}, {123, 789}, {999, 1000}, {500, -1}, {0, -1}, {1000, -1}}) {
    const int64_t end = e == -1 ? kCount : e;
    absl::StatusOr<IdxImages> images = ReadIdxImages(path, IdxRange{b, e});
    ASSERT_TRUE(images.ok()) << images.status();
    EXPECT_EQ(images->first, b);
    EXPECT_EQ(images->count, end - b);
    EXPECT_TRUE(images->pixels == std::vector<uint8_t>(pixels.begin() + b * kPixels,
                                                       pixels.begin() + end * kPixels))
        << suffix << " [" << b << ", " << e << ")";
  }
}

TEST_P(IdxRangeTest, OutOfRangeNamesTheFileTheRangeAndTheCount) {
  const std::string suffix = GetParam();
  const std::string images_path = TmpPath("oor-images" + suffix);
  const std::string labels_path = TmpPath("oor-labels" + suffix);
  ASSERT_TRUE(WriteIdxImages(images_path, Pattern(4 * 4), 4, 2, 2).ok());
  ASSERT_TRUE(WriteIdxLabels(labels_path, {1, 2, 3, 4}).ok());
  const std::vector<std::pair<IdxRange, std::string>> cases = {
      {{-1, 2}, "[-1, 2)"}, {{0, 5}, "[0, 5)"},   {{3, 2}, "[3, 2)"},
      {{5, -1}, "[5, end)"}, {{0, -2}, "[0, -2)"}, {{5, 5}, "[5, 5)"}};
  for (const auto& [range, shown] : cases) {
    absl::Status s = ReadIdxImages(images_path, range).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    ExpectError(s, images_path,
                absl::StrCat("bad range: images ", shown, " of a file of 4 images"));
    s = ReadIdxLabelRange(labels_path, range).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    ExpectError(s, labels_path,
                absl::StrCat("bad range: labels ", shown, " of a file of 4 labels"));
  }
  // An empty file: only the empty range at 0.
  const std::string empty = TmpPath("oor-empty" + suffix);
  ASSERT_TRUE(WriteIdxImages(empty, {}, 0, 2, 2).ok());
  EXPECT_TRUE(ReadIdxImages(empty, IdxRange{0, 0}).ok());
  EXPECT_TRUE(ReadIdxImages(empty, IdxRange{0, -1}).ok());
  ExpectError(ReadIdxImages(empty, IdxRange{0, 1}).status(), empty,
              "bad range: images [0, 1) of a file of 0 images");
}

INSTANTIATE_TEST_SUITE_P(RawAndGz, IdxRangeTest, ::testing::Values("", ".gz"));

// A raw file is checked whole against its size on disk, whatever the range.
TEST(IdxRange, RawTruncatedOrTrailingFileErrorsWithAnyRange) {
  const std::string truncated = TmpPath("range-truncated-images");
  WriteRaw(truncated, BigEndian({0x803, 10, 2, 2}) + Str(Pattern(4 * 3 + 2)));
  const std::string trailing = TmpPath("range-trailing-labels");
  WriteRaw(trailing, BigEndian({0x801, 3}) + std::string(4, '\1'));
  for (const IdxRange range : {IdxRange{0, 0}, IdxRange{0, 1}, IdxRange{2, 3}, IdxRange{}}) {
    ExpectError(ReadIdxImages(truncated, range).status(), truncated,
                "truncated: header says 10 images of 2x2 (40 bytes) but only 14 bytes follow");
    ExpectError(ReadIdxLabelRange(trailing, range).status(), trailing,
                "trailing bytes: header says 3 labels (3 bytes) but 4 bytes follow (1 extra)");
  }
}

// A .gz file is read only up to the range's end: truncated when the range reaches past the
// data, with the whole read's message; checked for trailing bytes when the range ends at
// the last item; not checked past a range ending earlier.
TEST(IdxRange, GzIsCheckedUpToTheRangesEnd) {
  const std::string truncated = TmpPath("range-truncated-images.gz");
  WriteGz(truncated, BigEndian({0x803, 10, 2, 2}) + Str(Pattern(4 * 3 + 2)));
  const std::string message =
      "truncated: header says 10 images of 2x2 (40 bytes) but only 14 bytes follow";
  for (const IdxRange range : {IdxRange{0, 4}, IdxRange{3, 4}, IdxRange{5, 6},
                               IdxRange{9, 10}, IdxRange{10, 10}, IdxRange{}}) {
    ExpectError(ReadIdxImages(truncated, range).status(), truncated, message);
  }
  absl::StatusOr<IdxImages> held = ReadIdxImages(truncated, IdxRange{1, 3});
  ASSERT_TRUE(held.ok()) << held.status();
  const std::vector<uint8_t> present = Pattern(14);
  EXPECT_EQ(held->pixels, std::vector<uint8_t>(present.begin() + 4, present.begin() + 12));
  EXPECT_EQ(held->total, 10);

  const std::string trailing = TmpPath("range-trailing-labels.gz");
  WriteGz(trailing, BigEndian({0x801, 3}) + std::string(4, '\1'));
  for (const IdxRange range : {IdxRange{0, 3}, IdxRange{3, -1}, IdxRange{}}) {
    ExpectError(ReadIdxLabelRange(trailing, range).status(), trailing,
                "trailing bytes: header says 3 labels (3 bytes) but 4 bytes follow (1 extra)");
  }
  EXPECT_TRUE(ReadIdxLabelRange(trailing, IdxRange{0, 2}).ok());

  // A .gz file cut short: zlib's error when the range reaches past the cut.
  const std::string good = TmpPath("range-good.gz");
  ASSERT_TRUE(WriteIdxImages(good, Pattern(64 * 32 * 32), 64, 32, 32).ok());
  absl::StatusOr<std::string> bytes = ReadFileToString(good);
  ASSERT_TRUE(bytes.ok());
  const std::string cut = TmpPath("range-cut.gz");
  WriteRaw(cut, bytes->substr(0, bytes->size() / 2));
  ExpectError(ReadIdxImages(cut, IdxRange{60, 61}).status(), cut, "truncated gzip data");
}

// Only labels in the range are checked against num_classes; the index is the file's.
TEST(IdxRange, LabelOutOfRangeIsNamedByItsIndexInTheFile) {
  const std::string path = TmpPath("range-labels-classes");
  ASSERT_TRUE(WriteIdxLabels(path, {0, 9, 10, 3}).ok());
  ExpectError(ReadIdxLabelRange(path, IdxRange{1, 4}).status(), path,
              "label 10 at index 2 is out of range: expected 0..9");
  absl::StatusOr<IdxLabels> tail = ReadIdxLabelRange(path, IdxRange{3, 4});
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(tail->labels, std::vector<uint8_t>{3});
}

// Memory: only the range is allocated, raw or gzip (a raw range in one buffer of exactly
// its size; gzip grows by chunks up to it). A hostile header stays harmless with a range.
TEST(IdxRange, AllocatesOnlyTheRange) {
  constexpr int64_t kCount = 3 << 10, kPixels = 32 * 32;  // 3 MiB of pixels
  const std::vector<uint8_t> pixels = Pattern(kCount * kPixels, 7);
  for (const char* suffix : {"", ".gz"}) {
    const std::string path = TmpPath(absl::StrCat("range-3m-images", suffix));
    ASSERT_TRUE(WriteIdxImages(path, pixels, kCount, 32, 32).ok());
    absl::StatusOr<IdxImages> read;
    size_t largest =
        LargestAllocationDuring([&] { read = ReadIdxImages(path, IdxRange{1024, 2048}); });
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->pixels.size(), size_t{1} << 20);
    EXPECT_EQ(read->pixels[0], pixels[1024 * kPixels]);
    EXPECT_LE(largest, size_t{1} << 20) << path;
    if (std::string(suffix).empty()) {
      EXPECT_GE(largest, size_t{1} << 20) << path;  // Raw: one buffer of the range's size.
    }
    // A small range costs little more than itself (gzip: one 64 KiB skip chunk).
    largest = LargestAllocationDuring([&] { read = ReadIdxImages(path, IdxRange{3000, 3001}); });
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->count, 1);
    EXPECT_LE(largest, size_t{1} << 16) << path;
    // The count alone (an empty range) reads no pixels.
    largest = LargestAllocationDuring([&] { read = ReadIdxImages(path, IdxRange{0, 0}); });
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->total, kCount);
    EXPECT_TRUE(read->pixels.empty());
    EXPECT_LE(largest, size_t{1} << 12) << path;

    // 2^31 images claimed by a 20-byte file: any range beyond the 4 bytes is truncated,
    // with no more than a chunk allocated.
    const std::string hostile = TmpPath(absl::StrCat("range-2g-images", suffix));
    const std::string image_bytes = BigEndian({0x803, 1u << 31, 1, 1}) + "abcd";
    if (std::string(suffix) == ".gz") {
      WriteGz(hostile, image_bytes);
    } else {
      WriteRaw(hostile, image_bytes);
    }
    for (const IdxRange range : {IdxRange{0, int64_t{1} << 31}, IdxRange{int64_t{1} << 30, -1},
                                 IdxRange{2, int64_t{1} << 30}}) {
      absl::Status s;
      largest = LargestAllocationDuring([&] { s = ReadIdxImages(hostile, range).status(); });
      ExpectError(s, hostile,
                  "truncated: header says 2147483648 images of 1x1 (2147483648 bytes) but only "
                  "4 bytes follow");
      EXPECT_LE(largest, size_t{1} << 16) << hostile;
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
