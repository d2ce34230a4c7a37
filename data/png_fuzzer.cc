// Fuzz target for the PNG reader that //examples:predict uses (data/png.h ReadGrayPng) and
// the conversion to an MNIST digit that follows it (data/image.h ToMnistDigit): any bytes
// give an image or an error naming the file, never a crash, a leak or an allocation
// beyond the file and the pixels actually decoded (plus a fixed bound). See
// //:fuzzing.bzl.
//
// libpng is Debian's uninstrumented build, so libFuzzer sees only gradway's code, and
// nearly every mutation inside a chunk breaks its CRC. Each input is therefore read twice:
// as it is, and with every chunk's CRC recomputed, so that mutated chunk data reaches
// libpng's decoder.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "data/image.h"
#include "data/png.h"
#include "fuzzing/fuzz_input.h"

namespace {

// `bytes` with the CRC of each whole chunk after the 8-byte signature recomputed.
std::string WithFixedCrcs(std::string bytes) {
  size_t pos = 8;
  while (bytes.size() >= pos + 12) {
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<uint8_t>(bytes[pos + i]);
    if (length > bytes.size() - pos - 12) break;
    const uLong crc =
        crc32(0, reinterpret_cast<const Bytef*>(bytes.data() + pos + 4), 4 + length);
    for (int i = 0; i < 4; ++i) {
      bytes[pos + 8 + length + i] = static_cast<char>(crc >> (24 - 8 * i));
    }
    pos += 12 + length;
  }
  return bytes;
}

void Read(const std::string& bytes) {
  using namespace gradway::data;
  const std::string path = gradway::fuzzing::WriteScratchFile(
      "png", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  absl::StatusOr<GrayImage> image = ReadGrayPng(path);
  if (!image.ok()) {
    if (std::string(image.status().message()).find(path) == std::string::npos) std::abort();
    return;
  }
  if (image->width <= 0 || image->height <= 0 ||
      image->pixels.size() != static_cast<size_t>(image->width) * image->height ||
      image->pixels.size() > static_cast<size_t>(kMaxPngPixels)) {
    std::abort();
  }
  absl::StatusOr<GrayImage> digit = ToMnistDigit(*image);
  if (digit.ok() && (digit->width != 28 || digit->height != 28 || digit->pixels.size() != 784)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  Read(bytes);
  const std::string fixed = WithFixedCrcs(bytes);
  if (fixed != bytes) Read(fixed);
  return 0;
}
