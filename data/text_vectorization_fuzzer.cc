// Fuzz target for the vocabulary reader (data/text_vectorization.h TextVectorization::Load)
// and the tokenizer: any bytes, read as a vocabulary file, give a tokenizer or an error
// naming the file, never a crash, a leak or a hang; a tokenizer loaded from them encodes
// the same bytes as text, every id in [0, vocabulary_size), and saves a file that loads
// back to the same vocabulary. See //:fuzzing.bzl.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "data/text_vectorization.h"
#include "fuzzing/fuzz_input.h"

using gradway::data::TextVectorization;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = gradway::fuzzing::WriteScratchFile("vocabulary.json", data, size);
  const absl::StatusOr<TextVectorization> tv = TextVectorization::Load(path);
  if (!tv.ok()) {
    if (std::string(tv.status().message()).find(path) == std::string::npos) std::abort();
    return 0;
  }
  for (int32_t id : tv->Encode(bytes)) {
    if (id < 0 || id >= tv->vocabulary_size()) std::abort();
  }
  const std::string again = path + ".saved";
  if (!tv->Save(again).ok()) std::abort();
  const absl::StatusOr<TextVectorization> back = TextVectorization::Load(again);
  if (!back.ok() || back->Vocabulary() != tv->Vocabulary()) std::abort();
  std::remove(again.c_str());
  return 0;
}
