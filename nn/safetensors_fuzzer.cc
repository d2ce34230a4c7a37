// Fuzz target for the safetensors checkpoint reader (nn/checkpoint.h): ReadSafetensors and
// LoadSafetensorsInto on any bytes (header length, JSON header, offsets, dtypes, shapes),
// and CheckFormatVersion on the metadata read, give the tensors or an error naming the
// file, never a crash, an exception, a leak or an allocation beyond the file's size (plus a
// fixed bound). See //:fuzzing.bzl.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "autograd/autograd.h"
#include "fuzzing/fuzz_input.h"
#include "nn/checkpoint.h"

namespace {

void CheckNamesFile(const absl::Status& status, const std::string& path) {
  if (!status.ok() && std::string(status.message()).find(path) == std::string::npos) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gradway;
  const std::string path = fuzzing::WriteScratchFile("safetensors", data, size);

  absl::StatusOr<nn::SafetensorsContents> contents = nn::ReadSafetensors(path);
  CheckNamesFile(contents.status(), path);

  // The model the tests use: one tensor "w" of shape [2].
  nn::NamedTensors w = {{"w", Tensor::Zeros({2})}};
  CheckNamesFile(nn::LoadSafetensorsInto(path, w), path);
  if (!contents.ok()) return 0;
  CheckNamesFile(nn::CheckFormatVersion(path, contents->metadata), path);

  // A model shaped like the file loads it bit for bit; skipping "optimizer/" as
  // Model::LoadWeights does also works when the model leaves those tensors out.
  nn::NamedTensors all, weights;
  for (const auto& [name, t] : contents->tensors) {
    if (t.numel() * sizeof(float) > size) std::abort();  // more data than the file holds
    all.emplace_back(name, Tensor::Zeros(t.shape()));
    if (!absl::StartsWith(name, "optimizer/")) weights.emplace_back(name, Tensor::Zeros(t.shape()));
  }
  nn::Metadata metadata;
  if (!nn::LoadSafetensorsInto(path, all, "", &metadata).ok()) std::abort();
  if (metadata != contents->metadata) std::abort();
  for (size_t i = 0; i < all.size(); ++i) {
    const Tensor& read = contents->tensors[i].second;
    if (read.numel() > 0 && std::memcmp(std::as_const(all[i].second).data(),
                                        std::as_const(read).data(),
                                        read.numel() * sizeof(float)) != 0) {
      std::abort();
    }
  }
  if (!nn::LoadSafetensorsInto(path, weights, "optimizer/").ok()) std::abort();
  return 0;
}
