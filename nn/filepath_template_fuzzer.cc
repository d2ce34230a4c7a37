// Fuzz target for ModelCheckpoint's filepath templates (nn/callbacks.h FilepathTemplate):
// any pattern is parsed or rejected with gradway::Error, and a parsed one formats any
// epoch and logs values or throws gradway::Error; no other exception, no crash, no UB.
// The input is the pattern, then optionally a newline and binary values: the epoch (4
// bytes) and the logs' loss, accuracy, val_loss and val_accuracy (8-byte doubles, any
// bits: NaN, infinities, denormals). Plain-text corpus files are patterns alone.
// See //:fuzzing.bzl.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "autograd/error.h"
#include "nn/callback.h"
#include "nn/filepath_template.h"

namespace {

// Reads a T from the front of [*p, end) when enough bytes remain.
template <typename T>
T Take(const uint8_t** p, const uint8_t* end, T fallback) {
  if (end - *p < static_cast<std::ptrdiff_t>(sizeof(T))) return fallback;
  T value;
  std::memcpy(&value, *p, sizeof(T));
  *p += sizeof(T);
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gradway;
  const uint8_t* end = data + size;
  const uint8_t* newline = static_cast<const uint8_t*>(std::memchr(data, '\n', size));
  const std::string pattern(reinterpret_cast<const char*>(data),
                            newline != nullptr ? newline - data : size);
  const uint8_t* p = newline != nullptr ? newline + 1 : end;
  const int epoch = Take<int32_t>(&p, end, 2);
  nn::Logs logs;
  logs.Set("loss", Take<double>(&p, end, 0.123456));
  logs.Set("accuracy", Take<double>(&p, end, 0.5));
  logs.Set("val_loss", Take<double>(&p, end, 0.0789612));
  logs.Set("val_accuracy", Take<double>(&p, end, 0.975));

  try {
    nn::FilepathTemplate path_template(pattern);
    if (path_template.pattern() != pattern) std::abort();
    const std::string path = path_template.Format(epoch, logs);
    // Without braces a pattern is its own path.
    if (pattern.find_first_of("{}") == std::string::npos && path != pattern) std::abort();
  } catch (const Error&) {
    // A malformed pattern, a field missing from the logs, 'd' on a float: all reported.
  }
  return 0;
}
