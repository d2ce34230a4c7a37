// Tensor: a float32 dense tensor of any rank, with reverse-mode autograd.
//
// A Tensor is a cheap handle: copies share the same data (like torch.Tensor). Storage is
// row-major and always contiguous; Reshape and Flatten return views that share it.
//
//   Tensor w = Tensor::Normal({784, 10}, 0.f, 0.05f, gen).SetRequiresGrad();
//   Tensor loss = Mean(Relu(MatMul(x, w)));
//   loss.Backward();          // w.grad() now holds d loss / d w
//
// Ops that take a Tensor record a node in the graph when any input requires a gradient
// and grad mode is on (see NoGradGuard in autograd/graph.h). Misuse throws gradway::Error.
//
// The methods are defined bottom-up, so that no library depends back on a higher one:
// tensor.cc (storage, data, autograd state), graph.cc (Backward and printing, which need
// the graph) and functions.cc (Reshape, Flatten and Transpose, which are recorded ops).
// Programs depend on //autograd, which links all three.
#ifndef GRADWAY_AUTOGRAD_TENSOR_H_
#define GRADWAY_AUTOGRAD_TENSOR_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "autograd/generator.h"
#include "autograd/shape.h"

namespace gradway {

class Node;
struct TensorImpl;

class Tensor {
 public:
  // An undefined tensor (defined() is false), like a default torch::Tensor.
  Tensor() = default;

  // ---- Creation. Shapes may have any rank; {} is a scalar.
  static Tensor Empty(const Shape& shape);  // uninitialised contents
  static Tensor Zeros(const Shape& shape);
  static Tensor Ones(const Shape& shape);
  static Tensor Full(const Shape& shape, float value);
  static Tensor Scalar(float value);
  // Copies `values` into a tensor of `shape`. Throws Error when the sizes differ.
  static Tensor FromVector(const std::vector<float>& values, const Shape& shape);
  // A tensor over memory the caller owns, without a copy (torch::from_blob): `data` holds
  // NumElements(shape) floats and must stay valid until `release` is called, which
  // happens when the last tensor (or view) over it dies; pass nullptr when the memory
  // outlives every such tensor. Writes through the tensor write the caller's memory;
  // writes the caller makes directly are not seen by the engine's in-place check.
  static Tensor FromBlob(float* data, const Shape& shape,
                         std::function<void()> release = nullptr);
  // Uniform in [lo, hi) / normal(mean, stddev), drawn from `gen` in row-major order.
  static Tensor Uniform(const Shape& shape, float lo, float hi, Generator& gen);
  static Tensor Normal(const Shape& shape, float mean, float stddev, Generator& gen);

  // ---- Shape queries.
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int rank() const { return static_cast<int>(shape().size()); }
  // The size of dimension `d`; negative d counts from the end.
  int64_t size(int d) const;
  int64_t numel() const;

  // ---- Data. data() points at numel() contiguous row-major floats. The non-const one
  // counts as a write for the engine's in-place check (the storage's version): an op that
  // saved this tensor for backward then refuses to run it. To only read a tensor in the
  // graph, use the const one (std::as_const(t).data()), at(), item() or ToVector().
  float* data();
  const float* data() const;
  // The value of a one-element tensor. Throws Error otherwise.
  float item() const;
  // Element access (bounds-checked; for tests and small programs). Allocates nothing.
  float at(absl::Span<const int64_t> index) const;
  void set(absl::Span<const int64_t> index, float value);
  std::vector<float> ToVector() const;
  // A new tensor with a copy of the data; not part of the graph.
  Tensor Clone() const;
  // Copies `other`'s values into this tensor's storage (same numel required).
  void CopyFrom(const Tensor& other);
  // Sets every element to `value` in place.
  void Fill(float value);

  // ---- Views and layout (differentiable).
  // A view with a new shape of the same numel; one dimension may be -1 (inferred).
  Tensor Reshape(const Shape& shape) const;
  // Flattens dimensions start_dim..end: Flatten(1) turns (N,H,W,C) into (N,H*W*C).
  Tensor Flatten(int start_dim = 0) const;
  // The transpose of a 2-D tensor (a copy).
  Tensor Transpose() const;
  // Rows [start, start + length) along dimension 0: a view sharing this tensor's storage
  // (no copy), as PyTorch's narrow(0, start, length); its gradient goes to those rows.
  // Only dimension 0 can be narrowed (rows are contiguous). Throws Error naming the
  // dimension or the range when it does not fit.
  Tensor Narrow(int dim, int64_t start, int64_t length) const;

  // ---- Autograd.
  // Marks a leaf tensor as needing a gradient. Throws Error on a non-leaf.
  Tensor& SetRequiresGrad(bool requires_grad = true);
  bool requires_grad() const;
  // True for tensors not produced by a recorded op.
  bool is_leaf() const;
  // The accumulated gradient of a leaf (undefined until a backward reaches it).
  Tensor grad() const;
  // Forgets the accumulated gradient (like PyTorch's zero_grad(set_to_none=True)).
  void ZeroGrad();
  // Back-propagates from a one-element tensor (d self / d self = 1). Throws Error for a
  // tensor with more than one element, one that does not require grad, or a graph already
  // freed by an earlier backward (unless that one passed retain_graph).
  void Backward(bool retain_graph = false) const;
  // Back-propagates `grad_output` (same shape as this tensor).
  void Backward(const Tensor& grad_output, bool retain_graph = false) const;
  // A tensor sharing this one's data but cut from the graph (requires_grad false).
  Tensor Detach() const;
  // The node that produced this tensor (null for leaves).
  const std::shared_ptr<Node>& grad_fn() const;
  // The name of the op that produced this tensor ("matmul", "swish"); "" for leaves.
  std::string grad_fn_name() const;

  // ---- Printing, like PyTorch: small tensors in full, large ones abbreviated.
  std::string ToString() const;

  // True when both handles are the same tensor (copies of one Tensor), as PyTorch's
  // is_same; false for views and detached copies, which are other tensors.
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // True when both share storage (views, detached copies and copies of one Tensor).
  bool SameStorage(const Tensor& other) const;

  // Internal to //autograd (the implementation, autograd/internal/tensor_impl.h).
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

 private:
  const TensorImpl& checked() const;
  TensorImpl& checked();
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Bytes of tensor storage alive in the process (for leak tests). Buffers kept for reuse
// by the storage cache are not alive and not counted.
int64_t LiveStorageBytes();

// Tensor storage is allocated through a cache: a freed buffer of 4 KiB or more is kept,
// by size, for the next tensor of that size (training allocates the same shapes every
// step). The cache holds at most about 256 MiB beyond a miss; it is disabled under
// AddressSanitizer.
// Bytes of freed storage the cache holds for reuse.
int64_t CachedStorageBytes();
// Returns every cached buffer to the system allocator.
void ReleaseCachedStorage();

}  // namespace gradway

#endif  // GRADWAY_AUTOGRAD_TENSOR_H_
