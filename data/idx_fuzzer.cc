// Fuzz target for the IDX reader (data/idx.h), raw and gzip: any bytes give an IDX file
// or an error naming the file, never a crash, a leak or an allocation beyond the bytes
// actually read (plus a fixed bound). See //:fuzzing.bzl.
//
// zlib is Debian's uninstrumented build and nearly every mutation of gzip data breaks its
// CRC, so each input is read twice: as it is (raw, or gzip when it starts with 1f 8b),
// and gzip-compressed, so that any IDX contents also reach the reader through zlib.
//
// Ranges (IdxRange): a range read of a file that reads whole holds the same items as the
// whole read; the fixed range [1, 2) and the empty range are read from every input too.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/idx.h"
#include "fuzzing/fuzz_input.h"

namespace {

// Every error names the file.
void CheckNamesFile(const absl::Status& status, const std::string& path) {
  if (!status.ok() && std::string(status.message()).find(path) == std::string::npos) {
    std::abort();
  }
}

void Read(const char* name, const uint8_t* data, size_t size) {
  using namespace gradway::data;
  const std::string path = gradway::fuzzing::WriteScratchFile(name, data, size);

  absl::StatusOr<IdxImages> images = ReadIdxImages(path);
  CheckNamesFile(images.status(), path);
  if (images.ok() && images->pixels.size() != static_cast<uint64_t>(images->count) *
                                                 static_cast<uint64_t>(images->rows) *
                                                 static_cast<uint64_t>(images->cols)) {
    std::abort();
  }

  // The middle third of a file read whole, and fixed ranges of any file.
  const int64_t total = images.ok() ? images->total : 2;
  for (const IdxRange range : {IdxRange{total / 3, 2 * total / 3}, IdxRange{1, 2},
                               IdxRange{0, 0}}) {
    absl::StatusOr<IdxImages> part = ReadIdxImages(path, range);
    CheckNamesFile(part.status(), path);
    if (part.ok() && (part->first != range.begin || part->count != range.end - range.begin ||
                      part->pixels.size() != static_cast<uint64_t>(part->count) *
                                                 static_cast<uint64_t>(part->rows) *
                                                 static_cast<uint64_t>(part->cols))) {
      std::abort();
    }
    if (images.ok() && range.end <= images->total) {
      // A whole read checks everything a range read does.
      if (!part.ok() || part->total != images->total) std::abort();
      const size_t image_bytes = static_cast<size_t>(images->rows * images->cols);
      if (!std::equal(part->pixels.begin(), part->pixels.end(),
                      images->pixels.begin() + range.begin * image_bytes)) {
        std::abort();
      }
    }
  }

  absl::StatusOr<std::vector<uint8_t>> labels = ReadIdxLabels(path);
  CheckNamesFile(labels.status(), path);
  if (labels.ok()) {
    for (uint8_t label : *labels) {
      if (label >= 10) std::abort();
    }
  }
  absl::StatusOr<std::vector<uint8_t>> any = ReadIdxLabels(path, /*num_classes=*/0);
  CheckNamesFile(any.status(), path);
  if (labels.ok() && !any.ok()) std::abort();
  if (labels.ok()) {
    const int64_t n = static_cast<int64_t>(labels->size());
    const IdxRange range{n / 3, -1};
    absl::StatusOr<IdxLabels> part = ReadIdxLabelRange(path, range);
    if (!part.ok() || part->first != range.begin || part->total != n ||
        !std::equal(part->labels.begin(), part->labels.end(), labels->begin() + n / 3,
                    labels->end())) {
      std::abort();
    }
  }
  absl::StatusOr<IdxLabels> part = ReadIdxLabelRange(path, IdxRange{1, 3});
  CheckNamesFile(part.status(), path);
  if (part.ok() && (part->count() != 2 || part->labels[0] >= 10 || part->labels[1] >= 10)) {
    std::abort();
  }
}

// `data` as a gzip stream (zlib's deflate with a gzip wrapper, fastest level).
std::string Gzip(const uint8_t* data, size_t size) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&z, size), '\0');
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Read("idx", data, size);
  const std::string gz = Gzip(data, size);
  Read("idx.gz", reinterpret_cast<const uint8_t*>(gz.data()), gz.size());
  return 0;
}
