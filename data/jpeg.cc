#include "data/jpeg.h"

// jpeglib.h needs size_t and FILE declared first.
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>

#include <algorithm>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/file_util.h"

namespace gradway::data {
namespace {

// ---- libjpeg's errors. Its default error_exit calls exit(); here it formats the message
// and longjmps back to the function that called setjmp (DecodeJpeg, EncodeJpeg), whose
// frame, like every frame libjpeg's code runs in between, holds only trivially
// destructible objects.

struct JpegError {
  jpeg_error_mgr mgr;  // first: libjpeg hands callbacks &mgr as cinfo->err
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 64];
};

[[noreturn]] void OnJpegError(j_common_ptr cinfo) {
  auto* error = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, error->message);
  std::longjmp(error->jump, 1);
}

// Warnings (level -1) are ignored, except those saying that the data ends before the
// image does: the file ends (JWRN_JPEG_EOF), or a scan's Huffman-coded data ends at a
// marker before its blocks do (JWRN_HIT_MARKER). libjpeg would go on with gray or flat
// blocks, so that a 300-byte file claiming 5000x5000 pixels would give 25 MB of them.
// Trace messages (level >= 0) are ignored too.
void OnJpegMessage(j_common_ptr cinfo, int level) {
  const int code = cinfo->err->msg_code;
  if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) OnJpegError(cinfo);
}

// Called by libjpeg as it reads each part of the data: stops a file of too many scans.
void OnJpegProgress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->input_scan_number > kMaxJpegScans) {
    auto* error = reinterpret_cast<JpegError*>(cinfo->err);
    std::snprintf(error->message, sizeof(error->message),
                  "more than %d scans (at most %d are read)", kMaxJpegScans, kMaxJpegScans);
    std::longjmp(error->jump, 1);
  }
}

void SetErrorHandlers(JpegError* error) {
  jpeg_std_error(&error->mgr);
  error->mgr.error_exit = OnJpegError;
  error->mgr.emit_message = OnJpegMessage;
  std::snprintf(error->message, sizeof(error->message), "out of memory");
}

// One decoded row of `decoded` samples per pixel (1 gray, 3 RGB, 4 CMYK) as `channels`.
// CMYK as TensorFlow converts it: with an Adobe marker the inks are stored inverted.
void ConvertRow(const uint8_t* in, int decoded, bool adobe, int width, int channels,
                uint8_t* out) {
  for (int x = 0; x < width; ++x, in += decoded, out += channels) {
    int r, g, b;
    if (decoded == 4) {
      const int c = in[0], m = in[1], y = in[2], k = in[3];
      r = adobe ? k * c / 255 : (255 - k) * (255 - c) / 255;
      g = adobe ? k * m / 255 : (255 - k) * (255 - m) / 255;
      b = adobe ? k * y / 255 : (255 - k) * (255 - y) / 255;
    } else if (decoded == 3) {
      r = in[0], g = in[1], b = in[2];
    } else {
      r = g = b = in[0];
    }
    if (channels == 1) {
      // libjpeg's RGB to luma (jdcolor.c): 0.299 R + 0.587 G + 0.114 B in 16-bit fixed point.
      out[0] = static_cast<uint8_t>((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);
    } else {
      out[0] = static_cast<uint8_t>(r);
      out[1] = static_cast<uint8_t>(g);
      out[2] = static_cast<uint8_t>(b);
      if (channels == 4) out[3] = 255;
    }
  }
}

// Grows `pixels` to hold `size` bytes, doubling its capacity up to `total`, so that the
// memory used follows the rows actually decoded.
void GrowTo(std::vector<uint8_t>* pixels, size_t size, size_t total) {
  if (size > pixels->capacity()) {
    pixels->reserve(std::min(total, std::max(size, 2 * pixels->capacity())));
  }
  pixels->resize(size);
}

// Decodes the JPEG in `bytes` into *out (caller-owned, as are `cinfo`, `error`, `progress`
// and the row buffer `row`: nothing in this frame needs destroying when libjpeg longjmps
// here). False when libjpeg fails or a limit is hit; error->message says why.
bool DecodeJpeg(const std::string& bytes, int channels, jpeg_decompress_struct* cinfo,
                JpegError* error, jpeg_progress_mgr* progress, Image* out,
                std::vector<uint8_t>* row) {
  cinfo->err = &error->mgr;
  if (setjmp(error->jump)) return false;
  jpeg_create_decompress(cinfo);
  progress->progress_monitor = OnJpegProgress;
  cinfo->progress = progress;
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(cinfo, TRUE);
  const int64_t pixels = static_cast<int64_t>(cinfo->image_width) * cinfo->image_height;
  if (pixels > kMaxJpegPixels || cinfo->num_components > 4) {
    std::snprintf(error->message, sizeof(error->message),
                  "a %ux%u JPEG of %d components is too large (at most %lld pixels and 4 "
                  "components are read)",
                  cinfo->image_width, cinfo->image_height, cinfo->num_components,
                  static_cast<long long>(kMaxJpegPixels));
    return false;
  }
  const bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = cmyk ? JCS_CMYK : channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo->dct_method = JDCT_ISLOW;
  jpeg_start_decompress(cinfo);
  const int decoded = cinfo->output_components;  // 1, 3 or 4 (CMYK)
  // Rows go straight into the image when libjpeg gives them as asked (not CMYK, whose 4
  // samples are not RGBA's).
  const bool direct = !cmyk && decoded == channels;
  out->width = static_cast<int>(cinfo->output_width);
  out->height = static_cast<int>(cinfo->output_height);
  out->channels = channels;
  const size_t stride = static_cast<size_t>(out->width) * channels;
  const size_t total = stride * out->height;
  if (!direct) row->resize(static_cast<size_t>(out->width) * decoded);
  while (cinfo->output_scanline < cinfo->output_height) {
    const size_t y = cinfo->output_scanline;
    GrowTo(&out->pixels, (y + 1) * stride, total);
    uint8_t* dst = out->pixels.data() + y * stride;
    JSAMPROW target = direct ? dst : row->data();
    if (jpeg_read_scanlines(cinfo, &target, 1) != 1) {
      std::snprintf(error->message, sizeof(error->message), "libjpeg returned no row %zu", y);
      return false;
    }
    if (!direct) {
      ConvertRow(row->data(), decoded, cinfo->saw_Adobe_marker, out->width, channels, dst);
    }
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

// libjpeg's destination: a malloc'ed buffer that doubles as it fills (realloc), owned by
// the caller, who frees `data` whether encoding succeeded or not.
struct JpegOutput {
  jpeg_destination_mgr mgr;  // first: libjpeg hands callbacks &mgr as cinfo->dest
  unsigned char* data;
  size_t capacity;
  size_t size;  // set when encoding ends
};

void StartOutput(j_compress_ptr cinfo) {
  auto* out = reinterpret_cast<JpegOutput*>(cinfo->dest);
  out->capacity = 1 << 16;
  out->data = static_cast<unsigned char*>(std::malloc(out->capacity));
  if (out->data == nullptr) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
  out->mgr.next_output_byte = out->data;
  out->mgr.free_in_buffer = out->capacity;
}

boolean GrowOutput(j_compress_ptr cinfo) {
  auto* out = reinterpret_cast<JpegOutput*>(cinfo->dest);
  // Called when the buffer is full; libjpeg's contract is that the whole buffer then holds
  // data, whatever next_output_byte and free_in_buffer say.
  void* grown = std::realloc(out->data, 2 * out->capacity);
  if (grown == nullptr) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 1);
  out->data = static_cast<unsigned char*>(grown);
  out->mgr.next_output_byte = out->data + out->capacity;
  out->mgr.free_in_buffer = out->capacity;
  out->capacity *= 2;
  return TRUE;
}

void EndOutput(j_compress_ptr cinfo) {
  auto* out = reinterpret_cast<JpegOutput*>(cinfo->dest);
  out->size = out->capacity - out->mgr.free_in_buffer;
}

// Encodes a JPEG into *output (caller-owned, like `cinfo` and `error`: nothing in this
// frame needs destroying when libjpeg longjmps here). False when libjpeg fails.
bool EncodeJpeg(const uint8_t* pixels, int width, int height, int channels, int quality,
                jpeg_compress_struct* cinfo, JpegError* error, JpegOutput* output) {
  cinfo->err = &error->mgr;
  if (setjmp(error->jump)) return false;
  jpeg_create_compress(cinfo);
  output->mgr.init_destination = StartOutput;
  output->mgr.empty_output_buffer = GrowOutput;
  output->mgr.term_destination = EndOutput;
  cinfo->dest = &output->mgr;
  cinfo->image_width = static_cast<JDIMENSION>(width);
  cinfo->image_height = static_cast<JDIMENSION>(height);
  cinfo->input_components = channels;
  cinfo->in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  const size_t stride = static_cast<size_t>(width) * channels;
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + cinfo->next_scanline * stride);
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

}  // namespace

absl::StatusOr<Image> ReadJpeg(const std::string& path, int channels) {
  if (channels != 1 && channels != 3 && channels != 4) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: cannot read a JPEG as %d channels (1: gray, 3: RGB, 4: RGBA)", path, channels));
  }
  if (!FileExists(path)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  absl::StatusOr<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof(cinfo));  // jpeg_destroy is safe on it from here on
  JpegError error;
  SetErrorHandlers(&error);
  jpeg_progress_mgr progress;
  std::memset(&progress, 0, sizeof(progress));
  Image out;
  std::vector<uint8_t> row;
  const bool ok = DecodeJpeg(*bytes, channels, &cinfo, &error, &progress, &out, &row);
  jpeg_destroy_decompress(&cinfo);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a readable JPEG: ", error.message));
  }
  return out;
}

absl::Status WriteJpeg(const std::string& path, const uint8_t* pixels, int width, int height,
                       int channels, int quality) {
  if (pixels == nullptr || width <= 0 || height <= 0 || width > JPEG_MAX_DIMENSION ||
      height > JPEG_MAX_DIMENSION || (channels != 1 && channels != 3) || quality < 1 ||
      quality > 100) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: cannot write a %dx%d JPEG of %d channels at quality %d from %s (channels 1 or "
        "3, quality 1 to 100)",
        path, width, height, channels, quality,
        pixels == nullptr ? "null pixels" : "these pixels"));
  }
  jpeg_compress_struct cinfo;
  std::memset(&cinfo, 0, sizeof(cinfo));
  JpegError error;
  SetErrorHandlers(&error);
  JpegOutput output;
  std::memset(&output, 0, sizeof(output));
  const bool ok = EncodeJpeg(pixels, width, height, channels, quality, &cinfo, &error, &output);
  jpeg_destroy_compress(&cinfo);
  absl::Status status =
      ok ? WriteFileAtomically(
               path, absl::string_view(reinterpret_cast<char*>(output.data), output.size))
         : absl::InternalError(absl::StrCat(path, ": writing JPEG failed: ", error.message));
  std::free(output.data);
  return status;
}

}  // namespace gradway::data
