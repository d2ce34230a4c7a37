// Reading and writing IDX files, the format of MNIST and Fashion-MNIST
// (http://yann.lecun.com/exdb/mnist/ describes it): a big-endian header, then raw bytes.
//   images: magic 0x00000803, then uint32 count, rows, cols, then count*rows*cols pixels
//   labels: magic 0x00000801, then uint32 count, then count label bytes
// Files may be raw or gzip-compressed; compression is detected from the gzip magic bytes
// (1f 8b), not from the name, and read through zlib's gzread.
//
// The readers can read a range of items (images or labels) only, e.g. the rows one rank
// of a data-parallel job trains on, so that no process needs the whole data set in memory.
// Only the range's bytes are allocated. A raw file is checked whole (its header against
// its size on disk) and then read from the range's first item on, with a seek; a .gz file
// is decompressed as a stream, discarding the items before the range and stopping after it
// (see ReadIdxImages for what that leaves unchecked).
//
// Every check failure is an absl::Status whose message starts with the file's path and
// says what is wrong, e.g.
//   "t10k-images-idx3-ubyte.gz: truncated: header says 10000 images of 28x28
//    (7840000 bytes) but only 1234 bytes follow"
// Bad input never crashes the reader.
#ifndef GRADWAY_DATA_IDX_H_
#define GRADWAY_DATA_IDX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gradway::data {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;

// A range of items of an IDX file: items [begin, end), counted from 0 (an item is one
// image of an images file, one label of a labels file). The default is the whole file.
struct IdxRange {
  int64_t begin = 0;
  int64_t end = -1;  // -1: to the last item (end = the file's item count).
};

// The contents of an IDX images file, or of a range of it.
struct IdxImages {
  int64_t first = 0;  // The index in the file of the first image held (the range's begin).
  int64_t count = 0;  // Images held: those of the range.
  int64_t total = 0;  // Images in the file (its header's count).
  int64_t rows = 0;   // Image height in pixels.
  int64_t cols = 0;   // Image width in pixels.
  std::vector<uint8_t> pixels;  // count*rows*cols bytes, image-major, row-major: images
                                // first .. first+count-1 of the file.
};

// Labels of an IDX labels file, or of a range of it.
struct IdxLabels {
  int64_t first = 0;            // The index in the file of labels[0].
  int64_t total = 0;            // Labels in the file (its header's count).
  std::vector<uint8_t> labels;  // Labels first .. first+count()-1 of the file.

  int64_t count() const { return static_cast<int64_t>(labels.size()); }
};

// Reads images `range` (default: all) of the IDX images file (raw or .gz) at `path`.
// Memory: only the range's count*rows*cols pixel bytes (for .gz, grown with the data
// actually decompressed, so a header claiming more than is there costs at most a 64 KiB
// chunk), plus a 64 KiB chunk to discard .gz data before the range. An empty range reads
// no pixels: ReadIdxImages(path, {0, 0}).total is a cheap way to learn the image count.
// Errors (message names the file): NotFound if missing; InvalidArgument for a wrong
// magic number (saying when it is a labels file), zero rows/cols or an absurd size, a
// range outside [0, total] (naming the range and the file's count), a file shorter than
// its header says ("truncated: ...") or longer ("trailing bytes: ..."); DataLoss for
// corrupt gzip data.
// How much is checked: a raw file is always checked whole against its size on disk (no
// need to read it), whatever the range. A .gz file (or a raw file that is not a regular
// file, whose size is unknown) is only read up to the range's end: it is truncated if the
// data ends before that; a range ending at the last image also checks for trailing bytes
// and the gzip CRC, as a whole read does; a range ending earlier leaves the rest of the
// stream (its length, trailing bytes, corruption, CRC) unchecked.
absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path, IdxRange range = {});

// Reads labels `range` of the IDX labels file (raw or .gz) at `path`. When `num_classes`
// > 0 every label of the range must be < num_classes (pass 0 to accept any byte); the
// labels outside the range are not looked at.
// Errors: as ReadIdxImages, plus InvalidArgument naming the first out-of-range label and
// its index in the file.
absl::StatusOr<IdxLabels> ReadIdxLabelRange(const std::string& path, IdxRange range,
                                            int num_classes = 10);

// Reads all the labels of the IDX labels file (raw or .gz) at `path`:
// ReadIdxLabelRange(path, {}, num_classes).labels.
// Errors: as ReadIdxLabelRange.
absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path,
                                                   int num_classes = 10);

// Checks that an images file and a labels file hold the same number of items.
// Errors: InvalidArgument "count mismatch: <images_path> has N images but
// <labels_path> has M labels".
absl::Status CheckSameCount(const std::string& images_path, int64_t image_count,
                            const std::string& labels_path, int64_t label_count);

// Writes `count` images of rows x cols bytes from `pixels` (count*rows*cols bytes) as an
// IDX images file. The file is gzip-compressed when `path` ends in ".gz", raw otherwise,
// and appears atomically (temporary file + rename).
// Errors: InvalidArgument if pixels.size() != count*rows*cols or a dimension is
// negative or does not fit in 32 bits; the path and the system error for I/O failures.
absl::Status WriteIdxImages(const std::string& path, const std::vector<uint8_t>& pixels,
                            int64_t count, int64_t rows, int64_t cols);

// Writes `labels` as an IDX labels file; gzip when `path` ends in ".gz"; atomic.
// Errors: the path and the system error for I/O failures.
absl::Status WriteIdxLabels(const std::string& path, const std::vector<uint8_t>& labels);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_IDX_H_
