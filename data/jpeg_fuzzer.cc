// Fuzz target for the JPEG reader (data/jpeg.h ReadJpeg): any bytes give an image or an
// error naming the file, never a crash, a leak, a hang or an image beyond kMaxJpegPixels.
// See //:fuzzing.bzl.
//
// Each input is read as gray, RGB and RGBA: the three agree on whether it is readable and
// on the size, RGBA is RGB with alpha 255, and the image is written back as a JPEG
// (WriteJpeg) that reads again at the same size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "data/image.h"
#include "data/jpeg.h"
#include "fuzzing/fuzz_input.h"

namespace {

using gradway::data::Image;

void Check(const absl::StatusOr<Image>& image, const std::string& path, int channels) {
  if (!image.ok()) {
    if (std::string(image.status().message()).find(path) == std::string::npos) std::abort();
    return;
  }
  if (image->width <= 0 || image->height <= 0 || image->channels != channels ||
      static_cast<int64_t>(image->width) * image->height > gradway::data::kMaxJpegPixels ||
      image->pixels.size() != static_cast<size_t>(image->width) * image->height * channels) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gradway::data;
  const std::string path = gradway::fuzzing::WriteScratchFile("jpg", data, size);
  const absl::StatusOr<Image> gray = ReadJpeg(path, 1);
  Check(gray, path, 1);
  const absl::StatusOr<Image> rgb = ReadJpeg(path, 3);
  Check(rgb, path, 3);
  const absl::StatusOr<Image> rgba = ReadJpeg(path, 4);
  Check(rgba, path, 4);
  if (rgb.ok() != rgba.ok()) std::abort();
  if (!rgb.ok()) return 0;
  // Gray and colour output take different paths through libjpeg, so one may fail where the
  // other does not (e.g. a component of damaged data only colour output decodes); when both
  // read, they agree on the size.
  if (gray.ok() && (gray->width != rgb->width || gray->height != rgb->height)) std::abort();
  if (rgba->width != rgb->width || rgba->height != rgb->height) std::abort();
  for (size_t i = 0, n = static_cast<size_t>(rgb->width) * rgb->height; i < n; ++i) {
    for (int c = 0; c < 3; ++c) {
      if (rgba->pixels[4 * i + c] != rgb->pixels[3 * i + c]) std::abort();
    }
    if (rgba->pixels[4 * i + 3] != 255) std::abort();
  }
  // Small images only: writing is not what is fuzzed.
  if (static_cast<int64_t>(rgb->width) * rgb->height <= 4096) {
    // A scratch path (removed at exit) that WriteJpeg replaces.
    const std::string out = gradway::fuzzing::WriteScratchFile("out.jpg", nullptr, 0);
    if (!WriteJpeg(out, rgb->pixels.data(), rgb->width, rgb->height, 3).ok()) std::abort();
    const absl::StatusOr<Image> again = ReadJpeg(out, 3);
    if (!again.ok() || again->width != rgb->width || again->height != rgb->height) {
      std::abort();
    }
  }
  return 0;
}
