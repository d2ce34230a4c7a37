// The implementation behind a Tensor handle: its storage and autograd state. Internal to
// //autograd (the ops and the engine); programs use autograd/tensor.h.
#ifndef GRADWAY_AUTOGRAD_INTERNAL_TENSOR_IMPL_H_
#define GRADWAY_AUTOGRAD_INTERNAL_TENSOR_IMPL_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "autograd/shape.h"
#include "autograd/tensor.h"

namespace gradway {

class Node;

// Contiguous float storage, 64-byte aligned, shared by views (from the storage cache).
// `data` is owned (returned to the cache when freed) unless `external` says otherwise.
struct Storage {
  explicit Storage(int64_t size);
  // Wraps memory the caller owns (Tensor::FromBlob); `release` runs when the storage dies.
  Storage(float* data, int64_t size, std::function<void()> release);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  float* data;
  int64_t size;
  // Counts writes (every non-const data(), CopyFrom, Fill, set): an op that saved this
  // storage for its backward compares it there, as PyTorch's version counter.
  std::atomic<uint64_t> version{0};
  bool external = false;
  std::function<void()> release;
};

// Which function a tensor is the output of, for the losses that fuse with it.
enum class LogitsOf { kNone, kSoftmax, kSigmoid };

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // where the elements start in storage (a Narrow view), in floats
  Shape shape;
  bool requires_grad = false;
  Tensor grad;                     // leaves only
  std::shared_ptr<Node> grad_fn;   // null for leaves
  // For the output of Softmax over the last axis or of Sigmoid: the logits it was
  // computed from, so that a cross-entropy loss can fuse the two (see SoftmaxLogits and
  // SigmoidLogits in autograd/nn_functions.h). Set with SetLogits, read with
  // CurrentLogits: the pair holds only while neither storage has been written since
  // (their versions then are kept here).
  LogitsOf logits_of = LogitsOf::kNone;
  std::shared_ptr<TensorImpl> logits;
  uint64_t logits_version = 0;   // the logits' storage version when set
  uint64_t output_version = 0;   // this tensor's storage version when set
};

// Records `logits` as what `output` (just computed from it by `of`) was computed from.
inline void SetLogits(const Tensor& output, LogitsOf of, const Tensor& logits) {
  TensorImpl& out = *output.impl();
  out.logits_of = of;
  out.logits = logits.impl();
  out.logits_version = logits.impl()->storage->version.load(std::memory_order_relaxed);
  out.output_version = out.storage->version.load(std::memory_order_relaxed);
}

// The logits `output` was computed from by `of`, unless it was not, or either tensor's
// storage has been written since (the output would no longer be f(logits)); else
// undefined.
inline Tensor CurrentLogits(const Tensor& output, LogitsOf of) {
  if (!output.defined()) return Tensor();
  const TensorImpl& out = *output.impl();
  if (out.logits_of != of ||
      out.storage->version.load(std::memory_order_relaxed) != out.output_version ||
      out.logits->storage->version.load(std::memory_order_relaxed) != out.logits_version) {
    return Tensor();
  }
  return Tensor(out.logits);
}

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_INTERNAL_TENSOR_IMPL_H_
