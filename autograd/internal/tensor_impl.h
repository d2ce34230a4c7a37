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

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // where the elements start in storage (a Narrow view), in floats
  Shape shape;
  bool requires_grad = false;
  Tensor grad;                     // leaves only
  std::shared_ptr<Node> grad_fn;   // null for leaves
  // For the output of Softmax over the last axis: the logits it was computed from, so a
  // cross-entropy loss can fuse the two (see SoftmaxLogits in autograd/nn_functions.h).
  std::shared_ptr<TensorImpl> softmax_logits;
};

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_INTERNAL_TENSOR_IMPL_H_
