// JPEG files (libjpeg-turbo, Debian's libjpeg62-turbo): a reader that turns any JPEG into
// 8-bit gray, RGB or RGBA samples (e.g. images to train on: data/image_directory.h), and a
// writer.
#ifndef GRADWAY_DATA_JPEG_H_
#define GRADWAY_DATA_JPEG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/image.h"

namespace gradway::data {

// The largest image ReadJpeg accepts, in pixels (as kMaxPngPixels: a 32-megapixel photo);
// a header that claims more is rejected before anything is decoded.
inline constexpr int64_t kMaxJpegPixels = int64_t{1} << 25;

// The most scans ReadJpeg decodes. A progressive JPEG has about 10 (libjpeg's default
// script); each scan is a pass over the whole image, so a hostile file of thousands of
// tiny scans would take minutes.
inline constexpr int kMaxJpegScans = 100;

// Reads the JPEG at `path` (baseline, progressive or arithmetic-coded; gray, YCbCr, RGB,
// CMYK or YCCK) as `channels` 8-bit samples per pixel: 1 gray (a colour JPEG's luma, as
// libjpeg gives it), 3 RGB (a gray JPEG replicated), 4 RGBA (alpha 255). Decoded with
// libjpeg's defaults (accurate integer DCT, smooth chroma upsampling). CMYK and YCCK are
// converted as TensorFlow's decode_jpeg does (Adobe's inverted inks when the file has an
// Adobe marker).
// Strict about missing data, lenient about damage: a file that ends before its image does,
// or whose Huffman-coded data stops at a marker before its blocks do, is an error (libjpeg
// would fill the rest with gray); damage libjpeg decodes past with a warning (a bad
// Huffman code, stray bytes before a marker) gives the image, as viewers show it.
// Memory: the header's size is checked before decoding (at most kMaxJpegPixels, at most 4
// components), so the image takes at most 128 MiB. Its rows are stored as they are
// decoded, so a Huffman-coded file whose data stops early costs only the rows decoded
// until then. Not so for what the format allows to be tiny: arithmetic-coded data may end
// early by design (the rest decodes as zeros), and a progressive scan may skip any number
// of blocks, so a few hundred bytes can describe a large flat image; and a JPEG in several
// scans (progressive, or sequential with non-interleaved components) needs libjpeg's
// coefficient buffer for the whole image from the start (2 bytes per sample, at most
// 256 MiB). At most kMaxJpegScans scans are read.
// Errors: NotFound for a missing file; InvalidArgument naming the file for `channels`
// other than 1, 3 or 4 and for anything that is not a readable JPEG, with libjpeg's message
// ("Not a JPEG file: starts with 0x89 0x50", "Premature end of JPEG file", "Corrupt JPEG
// data: premature end of data segment", "Unsupported marker type 0x..."), an image larger
// than kMaxJpegPixels, more than 4 components or more than kMaxJpegScans scans.
absl::StatusOr<Image> ReadJpeg(const std::string& path, int channels);

// Writes a `width` x `height` baseline JPEG of `quality` (1 to 100, libjpeg's scale) from
// `pixels` (height rows of width * channels bytes, top row first; channels 1 for gray, 3
// for RGB, stored as YCbCr with 4:2:0 chroma subsampling, libjpeg's default) to `path`,
// atomically (temporary file + rename).
// Errors: InvalidArgument for null pixels, a non-positive size, channels other than 1 or 3
// or a quality outside 1 to 100; the path and libjpeg's or the system's message when
// writing fails (e.g. missing directory).
absl::Status WriteJpeg(const std::string& path, const uint8_t* pixels, int width, int height,
                       int channels, int quality = 95);

}  // namespace gradway::data

#endif  // GRADWAY_DATA_JPEG_H_
