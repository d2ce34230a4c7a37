#include "data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_util.h"

namespace gradway::data {
namespace {

// Headers may claim at most this many payload bytes (1 TiB): keeps size arithmetic far
// from overflow. Memory is only ever allocated for bytes of the requested range actually
// present in the file (ReadPayload).
constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 40;
// Reads and writes go by chunks of this size; it is also all a header alone can make the
// reader allocate.
constexpr size_t kChunk = size_t{1} << 16;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

// An open IDX file, raw or gzip, read through zlib (which reads raw files unchanged).
class IdxInput {
 public:
  static absl::StatusOr<IdxInput> Open(const std::string& path) {
    // Sniff the first two bytes for the gzip magic, for the messages; zlib itself
    // decides the same way whether to decompress.
    std::FILE* raw = std::fopen(path.c_str(), "rb");
    if (raw == nullptr) return ErrnoStatus(errno, path, "cannot open");
    unsigned char magic[2] = {0, 0};
    const size_t n = std::fread(magic, 1, 2, raw);
    struct stat st;
    const bool regular = ::fstat(::fileno(raw), &st) == 0 && S_ISREG(st.st_mode);
    const uint64_t file_size = regular && st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
    std::fclose(raw);
    const bool gzip = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) return ErrnoStatus(errno, path, "cannot open");
    gzbuffer(f, 1 << 17);
    return IdxInput(path, gzip, regular, file_size, GzHandle(f));
  }

  // Reads up to `n` bytes into `dst`; fewer only at the end of the data.
  // Errors: DataLoss for corrupt or truncated gzip data.
  absl::StatusOr<size_t> Read(uint8_t* dst, size_t n) {
    size_t total = 0;
    while (total < n) {
      const unsigned want =
          static_cast<unsigned>(std::min<size_t>(n - total, size_t{1} << 30));
      const int got = gzread(file_.get(), dst + total, want);
      if (got < 0) return ZlibError();
      if (got == 0) break;
      total += static_cast<size_t>(got);
    }
    // zlib reports a gzip stream that ends early as a short read with Z_BUF_ERROR set.
    if (total < n) {
      int errnum = Z_OK;
      gzerror(file_.get(), &errnum);
      if (errnum != Z_OK) return ZlibError();
    }
    return total;
  }

  // Skips up to `n` bytes: seeks in a raw regular file (see seekable()), reads and
  // discards them otherwise. Returns how many were skipped; fewer only at the end of the
  // data (a seek past the end is only seen by the next Read).
  // Errors: DataLoss for corrupt or truncated gzip data; the system error for a failed seek.
  absl::StatusOr<uint64_t> Skip(uint64_t n) {
    if (n == 0) return uint64_t{0};
    if (seekable()) {
      // zlib reads a raw file "transparently" and seeks it with lseek.
      if (n > static_cast<uint64_t>(std::numeric_limits<z_off_t>::max()) ||
          gzseek(file_.get(), static_cast<z_off_t>(n), SEEK_CUR) < 0) {
        return ErrnoStatus(errno, path_, "cannot seek");
      }
      return n;
    }
    std::vector<uint8_t> scratch(static_cast<size_t>(std::min<uint64_t>(n, kChunk)));
    uint64_t skipped = 0;
    while (skipped < n) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(n - skipped, scratch.size()));
      absl::StatusOr<size_t> got = Read(scratch.data(), want);
      if (!got.ok()) return got.status();
      skipped += *got;
      if (*got < want) break;
    }
    return skipped;
  }

  // Counts the bytes left in the file (reading them).
  absl::StatusOr<uint64_t> CountRemaining() {
    std::vector<uint8_t> scratch(kChunk);
    uint64_t total = 0;
    while (true) {
      absl::StatusOr<size_t> got = Read(scratch.data(), scratch.size());
      if (!got.ok()) return got.status();
      total += *got;
      if (*got < scratch.size()) return total;
    }
  }

  const std::string& path() const { return path_; }
  bool gzip() const { return gzip_; }
  // The file's size on disk (compressed, for gzip); 0 when unknown.
  uint64_t file_size() const { return file_size_; }
  // A raw regular file: its size on disk is its data's length, and Skip seeks.
  bool seekable() const { return regular_ && !gzip_; }

 private:
  IdxInput(std::string path, bool gzip, bool regular, uint64_t file_size, GzHandle file)
      : path_(std::move(path)),
        gzip_(gzip),
        regular_(regular),
        file_size_(file_size),
        file_(std::move(file)) {}

  absl::Status ZlibError() {
    int errnum = Z_OK;
    std::string msg = gzerror(file_.get(), &errnum);
    // zlib prefixes its message with the path; the status message already starts with it.
    if (absl::StartsWith(msg, path_ + ": ")) msg.erase(0, path_.size() + 2);
    if (errnum == Z_ERRNO) return ErrnoStatus(errno, path_, "read error");
    if (errnum == Z_BUF_ERROR) {
      return absl::DataLossError(absl::StrCat(
          path_, ": truncated gzip data: the compressed stream ends early (", msg, ")"));
    }
    return absl::DataLossError(absl::StrCat(path_, ": corrupt ",
                                            gzip_ ? "gzip data: " : "data: ", msg));
  }

  std::string path_;
  bool gzip_;
  bool regular_;
  uint64_t file_size_;
  GzHandle file_;
};

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string DescribeMagic(uint32_t magic) {
  if (magic == kIdxImagesMagic) return "an IDX images file (0x00000803)";
  if (magic == kIdxLabelsMagic) return "an IDX labels file (0x00000801)";
  if ((magic >> 16) == 0x1f8b) return "gzip data inside gzip data";
  if ((magic >> 16) == 0) return absl::StrFormat("an IDX file of another kind (0x%08x)", magic);
  return absl::StrFormat("not an IDX file (magic 0x%08x)", magic);
}

// Reads the header (magic and `ndims` dimensions) of an IDX file whose magic must be
// `expected_magic`.
absl::StatusOr<std::vector<uint32_t>> ReadHeader(IdxInput& in, uint32_t expected_magic,
                                                 int ndims, const char* kind) {
  const size_t header_bytes = 4 * (1 + ndims);
  uint8_t header[16];
  absl::StatusOr<size_t> got = in.Read(header, header_bytes);
  if (!got.ok()) return got.status();
  if (*got >= 4) {
    const uint32_t magic = BigEndian32(header);
    if (magic != expected_magic) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: wrong magic number 0x%08x: expected 0x%08x for IDX %s; this is %s",
          in.path(), magic, expected_magic, kind, DescribeMagic(magic)));
    }
  }
  if (*got < header_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: truncated: an IDX %s header needs %d bytes but the file%s has only %d",
        in.path(), kind, header_bytes, in.gzip() ? " (decompressed)" : "", *got));
  }
  std::vector<uint32_t> dims(ndims);
  for (int i = 0; i < ndims; ++i) dims[i] = BigEndian32(header + 4 * (i + 1));
  return dims;
}

// What an IDX file's header says its payload is: `total` items of `item_bytes` bytes each,
// after `header_bytes` bytes of header.
struct Payload {
  uint64_t header_bytes = 0;
  uint64_t total = 0;
  uint64_t item_bytes = 0;
  const char* kind = "";  // "images" or "labels", for messages.
  std::string what;       // The header's claim for messages, e.g. "10000 images of 28x28".
};

// Reads items `range` of the payload described by `p` (the header is already read).
// Checks: the payload's size is at most kMaxPayloadBytes; the range is within
// [0, p.total]; a seekable file's size is exactly header + payload; a stream holds the
// range, and nothing more when the range ends at the last item.
// Sets `*first` to the range's first item.
absl::StatusOr<std::vector<uint8_t>> ReadPayload(IdxInput& in, const Payload& p,
                                                 IdxRange range, int64_t* first) {
  // One item larger than the limit is refused even when the file claims none, so that
  // rows * cols of what is returned always fits an int64_t.
  if (p.item_bytes > kMaxPayloadBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: bad header: one of its %s is %d bytes, more than the %d this reader accepts",
        in.path(), p.kind, p.item_bytes, kMaxPayloadBytes));
  }
  // item_bytes <= 2^40 and total < 2^32: the product is computed in 128 bits.
  const unsigned __int128 wide = static_cast<unsigned __int128>(p.total) * p.item_bytes;
  if (wide > kMaxPayloadBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: bad header: %s is %s bytes, more than the %d this reader accepts", in.path(),
        p.what,
        wide >> 64 == 0 ? absl::StrCat(static_cast<uint64_t>(wide)) : "over 2^64",
        kMaxPayloadBytes));
  }
  const uint64_t bytes = static_cast<uint64_t>(wide);
  const int64_t total = static_cast<int64_t>(p.total);
  const int64_t begin = range.begin;
  const int64_t end = range.end == -1 ? total : range.end;
  if (begin < 0 || end < begin || end > total) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: bad range: %s [%d, %s) of a file of %d %s (a range must lie within [0, %d]; "
        "end -1 means to the last)",
        in.path(), p.kind, begin, range.end == -1 ? "end" : absl::StrCat(range.end), total,
        p.kind, total));
  }
  *first = begin;
  // Both below 2^40 (bytes is).
  const uint64_t skip_bytes = static_cast<uint64_t>(begin) * p.item_bytes;
  const uint64_t range_bytes = static_cast<uint64_t>(end - begin) * p.item_bytes;
  auto truncated = [&](uint64_t present) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: truncated: header says %s (%d bytes) but only %d bytes follow", in.path(),
        p.what, bytes, present));
  };
  auto trailing = [&](uint64_t extra) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: trailing bytes: header says %s (%d bytes) but %d bytes follow (%d extra)",
        in.path(), p.what, bytes, bytes + extra, extra));
  };

  std::vector<uint8_t> data;
  if (in.seekable()) {
    // The whole file is checked against its size on disk, then only the range is read,
    // into one buffer of exactly its size (the size check bounds it by the file's).
    const uint64_t present =
        in.file_size() > p.header_bytes ? in.file_size() - p.header_bytes : 0;
    if (present < bytes) return truncated(present);
    if (present > bytes) return trailing(present - bytes);
    absl::StatusOr<uint64_t> skipped = in.Skip(skip_bytes);
    if (!skipped.ok()) return skipped.status();
    data.resize(static_cast<size_t>(range_bytes));
    absl::StatusOr<size_t> got = in.Read(data.data(), data.size());
    if (!got.ok()) return got.status();
    // Only if the file shrank since its size was taken.
    if (*got < data.size()) return truncated(skip_bytes + *got);
    return data;
  }

  // A stream (gzip, or a raw file that is not a regular file): discard the items before
  // the range, then read the range. The buffer grows with the bytes actually read, never
  // with the header's claim alone (geometrically, from one chunk, capped at the range's
  // size): a header claiming 2^31 images in a 20-byte file costs one chunk, not 2 GiB.
  absl::StatusOr<uint64_t> skipped = in.Skip(skip_bytes);
  if (!skipped.ok()) return skipped.status();
  if (*skipped < skip_bytes) return truncated(*skipped);
  while (data.size() < range_bytes) {
    const size_t old = data.size();
    const size_t want = static_cast<size_t>(std::min<uint64_t>(range_bytes - old, kChunk));
    if (old + want > data.capacity()) {
      data.reserve(static_cast<size_t>(
          std::min<uint64_t>(range_bytes, std::max<uint64_t>({old + want, kChunk,
                                                               2 * data.capacity()}))));
    }
    data.resize(old + want);
    absl::StatusOr<size_t> got = in.Read(data.data() + old, want);
    if (!got.ok()) return got.status();
    data.resize(old + *got);
    if (*got < want) return truncated(skip_bytes + data.size());
  }
  // What follows the range is only read when the range ends at the last item: then the
  // whole stream has been decompressed anyway.
  if (end == total) {
    absl::StatusOr<uint64_t> extra = in.CountRemaining();
    if (!extra.ok()) return extra.status();
    if (*extra > 0) return trailing(*extra);
  }
  return data;
}

// Writes `header` then `payload` to `path` (gzip if it ends in ".gz"), atomically.
absl::Status WriteIdx(const std::string& path, const std::vector<uint32_t>& header,
                      const uint8_t* payload, size_t payload_bytes) {
  const bool gzip = absl::EndsWith(path, ".gz");
  const std::string tmp = TempPathFor(path);
  gzFile f = gzopen(tmp.c_str(), gzip ? "wb6" : "wbT");
  if (f == nullptr) return ErrnoStatus(errno, path, "cannot create");
  std::vector<uint8_t> head;
  for (uint32_t v : header) {
    head.push_back(static_cast<uint8_t>(v >> 24));
    head.push_back(static_cast<uint8_t>(v >> 16));
    head.push_back(static_cast<uint8_t>(v >> 8));
    head.push_back(static_cast<uint8_t>(v));
  }
  bool ok = gzwrite(f, head.data(), static_cast<unsigned>(head.size())) ==
            static_cast<int>(head.size());
  for (size_t done = 0; ok && done < payload_bytes;) {
    const unsigned n = static_cast<unsigned>(std::min<size_t>(payload_bytes - done, kChunk));
    ok = gzwrite(f, payload + done, n) == static_cast<int>(n);
    done += n;
  }
  int errnum = Z_OK;
  std::string zmsg = ok ? "" : gzerror(f, &errnum);
  if (absl::StartsWith(zmsg, tmp + ": ")) zmsg.erase(0, tmp.size() + 2);
  const int err = errno;
  if (gzclose(f) != Z_OK && ok) {
    ok = false;
    zmsg = "error closing the file";
  }
  if (!ok) {
    std::remove(tmp.c_str());
    if (errnum == Z_ERRNO) return ErrnoStatus(err, path, "write error");
    return absl::InternalError(absl::StrCat(path, ": write error: ", zmsg));
  }
  return CommitTempFile(tmp, path);
}

}  // namespace

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path, IdxRange range) {
  absl::StatusOr<IdxInput> in = IdxInput::Open(path);
  if (!in.ok()) return in.status();
  absl::StatusOr<std::vector<uint32_t>> dims = ReadHeader(*in, kIdxImagesMagic, 3, "images");
  if (!dims.ok()) return dims.status();
  IdxImages images;
  images.total = (*dims)[0];
  images.rows = (*dims)[1];
  images.cols = (*dims)[2];
  if (images.rows == 0 || images.cols == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: bad header: images of %dx%d pixels", path, images.rows, images.cols));
  }
  Payload p;
  p.header_bytes = 16;
  p.total = (*dims)[0];
  p.item_bytes = static_cast<uint64_t>(images.rows) * static_cast<uint64_t>(images.cols);
  p.kind = "images";
  p.what = absl::StrFormat("%d images of %dx%d", images.total, images.rows, images.cols);
  absl::StatusOr<std::vector<uint8_t>> pixels = ReadPayload(*in, p, range, &images.first);
  if (!pixels.ok()) return pixels.status();
  images.pixels = std::move(*pixels);
  images.count = static_cast<int64_t>(images.pixels.size() / p.item_bytes);
  return images;
}

absl::StatusOr<IdxLabels> ReadIdxLabelRange(const std::string& path, IdxRange range,
                                            int num_classes) {
  absl::StatusOr<IdxInput> in = IdxInput::Open(path);
  if (!in.ok()) return in.status();
  absl::StatusOr<std::vector<uint32_t>> dims = ReadHeader(*in, kIdxLabelsMagic, 1, "labels");
  if (!dims.ok()) return dims.status();
  IdxLabels out;
  out.total = (*dims)[0];
  Payload p;
  p.header_bytes = 8;
  p.total = (*dims)[0];
  p.item_bytes = 1;
  p.kind = "labels";
  p.what = absl::StrCat(out.total, " labels");
  absl::StatusOr<std::vector<uint8_t>> labels = ReadPayload(*in, p, range, &out.first);
  if (!labels.ok()) return labels.status();
  out.labels = std::move(*labels);
  if (num_classes > 0) {
    for (size_t i = 0; i < out.labels.size(); ++i) {
      if (out.labels[i] >= num_classes) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: label %d at index %d is out of range: expected 0..%d", path, out.labels[i],
            out.first + static_cast<int64_t>(i), num_classes - 1));
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path,
                                                   int num_classes) {
  absl::StatusOr<IdxLabels> labels = ReadIdxLabelRange(path, {}, num_classes);
  if (!labels.ok()) return labels.status();
  return std::move(labels->labels);
}

absl::Status CheckSameCount(const std::string& images_path, int64_t image_count,
                            const std::string& labels_path, int64_t label_count) {
  if (image_count == label_count) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("count mismatch: %s has %d images but %s has %d labels", images_path,
                      image_count, labels_path, label_count));
}

absl::Status WriteIdxImages(const std::string& path, const std::vector<uint8_t>& pixels,
                            int64_t count, int64_t rows, int64_t cols) {
  constexpr int64_t kMax = std::numeric_limits<uint32_t>::max();
  if (count < 0 || rows < 0 || cols < 0 || count > kMax || rows > kMax || cols > kMax) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: cannot write %d images of %dx%d: each dimension must be in 0..%d", path, count,
        rows, cols, kMax));
  }
  const unsigned __int128 expected = static_cast<unsigned __int128>(count) *
                                     static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols);
  if (expected != pixels.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: cannot write %d images of %dx%d from %d pixel bytes (expected %d*%d*%d)", path,
        count, rows, cols, pixels.size(), count, rows, cols));
  }
  return WriteIdx(path,
                  {kIdxImagesMagic, static_cast<uint32_t>(count), static_cast<uint32_t>(rows),
                   static_cast<uint32_t>(cols)},
                  pixels.data(), pixels.size());
}

absl::Status WriteIdxLabels(const std::string& path, const std::vector<uint8_t>& labels) {
  if (labels.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: cannot write %d labels: too many for IDX", path, labels.size()));
  }
  return WriteIdx(path, {kIdxLabelsMagic, static_cast<uint32_t>(labels.size())},
                  labels.data(), labels.size());
}

}  // namespace gradway::data
