// Reading and writing IDX files, the format of MNIST and Fashion-MNIST
// (http://yann.lecun.com/exdb/mnist/ describes it): a big-endian header, then raw bytes.
//   images: magic 0x00000803, then uint32 count, rows, cols, then count*rows*cols pixels
//   labels: magic 0x00000801, then uint32 count, then count label bytes
// Files may be raw or gzip-compressed; compression is detected from the gzip magic bytes
// (1f 8b), not from the name, and read through zlib's gzread.
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

// The contents of an IDX images file.
struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> pixels;  // count*rows*cols bytes, image-major, row-major.
};

// Reads an IDX images file (raw or .gz) at `path`.
// Errors (message names the file): NotFound if missing; InvalidArgument for a wrong
// magic number (saying when it is a labels file), zero rows/cols or an absurd size,
// a file shorter than its header says ("truncated: ...") or longer ("trailing bytes:
// ..."); DataLoss for corrupt gzip data.
absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path);

// Reads an IDX labels file (raw or .gz) at `path`. When `num_classes` > 0 every label
// must be < num_classes (pass 0 to accept any byte).
// Errors: as ReadIdxImages, plus InvalidArgument naming the first out-of-range label
// and its index.
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
