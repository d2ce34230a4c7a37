#include "autograd/tensor.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "autograd/error.h"
#include "autograd/internal/tensor_impl.h"
#include "hwy/aligned_allocator.h"

namespace gradway {

// ---------------------------------------------------------------- Storage

namespace {

std::atomic<int64_t> g_live_storage_bytes{0};

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCacheStorage = false;  // let ASan see every use after free
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCacheStorage = false;
#else
constexpr bool kCacheStorage = true;
#endif
#else
constexpr bool kCacheStorage = true;
#endif

// Freed storage buffers kept for reuse, by allocation size. Training allocates the same
// shapes every step: reusing their buffers avoids malloc/mmap, the kernel's zeroing of
// fresh pages and the page faults on first touch (for the CNN's 30 MB activations, more
// than a tenth of a step). Buffers below kMinCachedBytes are left to malloc, which is fast
// for them. When a miss finds more than kMaxCachedBytes cached, the cache is emptied
// first, so shapes that are no longer used (another batch size) do not pile up.
class StorageCache {
 public:
  static constexpr size_t kMinCachedBytes = 4096;
  static constexpr size_t kMaxCachedBytes = size_t{256} << 20;

  // Allocation size for n floats: at least one float, rounded up to whole cache lines.
  static size_t BytesFor(int64_t n) {
    const size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float);
    return (bytes + 63) & ~size_t{63};
  }

  float* Allocate(size_t bytes) {
    if (kCacheStorage && bytes >= kMinCachedBytes) {
      std::vector<void*> release;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = free_.find(bytes);
        if (it != free_.end() && !it->second.empty()) {
          void* p = it->second.back();
          it->second.pop_back();
          cached_bytes_ -= bytes;
          return static_cast<float*>(p);
        }
        if (cached_bytes_ > kMaxCachedBytes) TakeAllLocked(&release);
      }
      for (void* p : release) hwy::FreeAlignedBytes(p, nullptr, nullptr);
    }
    return static_cast<float*>(hwy::AllocateAlignedBytes(bytes, nullptr, nullptr));
  }

  void Free(float* p, size_t bytes) {
    if (kCacheStorage && bytes >= kMinCachedBytes) {
      std::lock_guard<std::mutex> lock(mutex_);
      free_[bytes].push_back(p);
      cached_bytes_ += bytes;
      return;
    }
    hwy::FreeAlignedBytes(p, nullptr, nullptr);
  }

  void ReleaseAll() {
    std::vector<void*> release;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      TakeAllLocked(&release);
    }
    for (void* p : release) hwy::FreeAlignedBytes(p, nullptr, nullptr);
  }

  int64_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int64_t>(cached_bytes_);
  }

 private:
  void TakeAllLocked(std::vector<void*>* out) {
    for (auto& [bytes, list] : free_) out->insert(out->end(), list.begin(), list.end());
    free_.clear();
    cached_bytes_ = 0;
  }

  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_bytes_ = 0;
};

// Never destroyed: tensors in static objects may be freed after main returns.
StorageCache& Cache() {
  static StorageCache* cache = new StorageCache;
  return *cache;
}

}  // namespace

int64_t LiveStorageBytes() { return g_live_storage_bytes.load(std::memory_order_relaxed); }

int64_t CachedStorageBytes() { return Cache().cached_bytes(); }

void ReleaseCachedStorage() { Cache().ReleaseAll(); }

Storage::Storage(int64_t n) : data(nullptr), size(n) {
  GRADWAY_CHECK(n >= 0, "tensor: negative number of elements ", n);
  // 64-byte aligned (one AVX-512 vector / cache line); at least one element so that
  // data() is never null.
  data = Cache().Allocate(StorageCache::BytesFor(n));
  if (data == nullptr) Fail("tensor: out of memory allocating ", n, " floats");
  g_live_storage_bytes.fetch_add(n * sizeof(float), std::memory_order_relaxed);
}

Storage::Storage(float* data, int64_t size, std::function<void()> release)
    : data(data), size(size), external(true), release(std::move(release)) {}

Storage::~Storage() {
  if (external) {
    if (release) release();
    return;
  }
  g_live_storage_bytes.fetch_sub(size * sizeof(float), std::memory_order_relaxed);
  Cache().Free(data, StorageCache::BytesFor(size));
}

// ---------------------------------------------------------------- Creation

namespace {

void CheckShape(const Shape& shape, const char* op) {
  for (int64_t d : shape) {
    GRADWAY_CHECK(d >= 0, op, ": negative dimension in shape ", ShapeToString(shape));
  }
}

}  // namespace

Tensor Tensor::Empty(const Shape& shape) {
  CheckShape(shape, "empty");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(NumElements(shape));
  impl->shape = shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::Zeros(const Shape& shape) { return Full(shape, 0.f); }
Tensor Tensor::Ones(const Shape& shape) { return Full(shape, 1.f); }

Tensor Tensor::Full(const Shape& shape, float value) {
  Tensor t = Empty(shape);
  t.Fill(value);
  return t;
}

Tensor Tensor::Scalar(float value) { return Full({}, value); }

Tensor Tensor::FromVector(const std::vector<float>& values, const Shape& shape) {
  CheckShape(shape, "from_vector");
  GRADWAY_CHECK(static_cast<int64_t>(values.size()) == NumElements(shape),
                "from_vector: ", values.size(), " values cannot fill shape ",
                ShapeToString(shape), " (", NumElements(shape), " elements)");
  Tensor t = Empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::FromBlob(float* data, const Shape& shape, std::function<void()> release) {
  CheckShape(shape, "from_blob");
  GRADWAY_CHECK(data != nullptr || NumElements(shape) == 0, "from_blob: null data for shape ",
                ShapeToString(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, NumElements(shape), std::move(release));
  impl->shape = shape;
  return Tensor(std::move(impl));
}

Tensor Tensor::Uniform(const Shape& shape, float lo, float hi, Generator& gen) {
  GRADWAY_CHECK(lo < hi, "uniform: empty range [", lo, ", ", hi, ")");
  Tensor t = Empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.Uniform(lo, hi);
  return t;
}

Tensor Tensor::Normal(const Shape& shape, float mean, float stddev, Generator& gen) {
  GRADWAY_CHECK(stddev >= 0, "normal: negative standard deviation ", stddev);
  Tensor t = Empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = gen.Normal(mean, stddev);
  return t;
}

// ---------------------------------------------------------------- Queries and data

const TensorImpl& Tensor::checked() const {
  if (!impl_) Fail("tensor: use of an undefined tensor");
  return *impl_;
}

TensorImpl& Tensor::checked() {
  if (!impl_) Fail("tensor: use of an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return checked().shape; }

int64_t Tensor::size(int d) const {
  const int axis = NormalizeAxis(d, rank(), "size");
  return shape()[axis];
}

int64_t Tensor::numel() const { return NumElements(shape()); }

float* Tensor::data() {
  Storage& storage = *checked().storage;
  storage.version.fetch_add(1, std::memory_order_relaxed);  // a write may follow
  return storage.data + impl_->offset;
}
const float* Tensor::data() const { return checked().storage->data + impl_->offset; }

bool Tensor::SameStorage(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

float Tensor::item() const {
  GRADWAY_CHECK(numel() == 1, "item: a tensor of shape ", ShapeToString(shape()),
                " has ", numel(), " elements, not one");
  return data()[0];
}

namespace {

int64_t FlatIndex(const Shape& shape, absl::Span<const int64_t> index) {
  GRADWAY_CHECK(index.size() == shape.size(), "at: index of ", index.size(),
                " coordinates for a tensor of shape ", ShapeToString(shape));
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    GRADWAY_CHECK(index[d] >= 0 && index[d] < shape[d], "at: index ", index[d],
                  " is out of range for dimension ", d, " of shape ",
                  ShapeToString(shape));
    flat = flat * shape[d] + index[d];
  }
  return flat;
}

}  // namespace

float Tensor::at(absl::Span<const int64_t> index) const {
  return data()[FlatIndex(shape(), index)];
}

void Tensor::set(absl::Span<const int64_t> index, float value) {
  data()[FlatIndex(shape(), index)] = value;
}

std::vector<float> Tensor::ToVector() const {
  return std::vector<float>(data(), data() + numel());
}

Tensor Tensor::Clone() const {
  Tensor t = Empty(shape());
  if (numel() > 0) std::memcpy(t.data(), data(), numel() * sizeof(float));
  return t;
}

void Tensor::CopyFrom(const Tensor& other) {
  GRADWAY_CHECK(other.numel() == numel(), "copy: cannot copy ",
                ShapeToString(other.shape()), " into ", ShapeToString(shape()));
  if (numel() > 0) std::memmove(data(), other.data(), numel() * sizeof(float));
}

void Tensor::Fill(float value) {
  float* p = data();
  const int64_t n = numel();
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

// ---------------------------------------------------------------- Autograd

Tensor& Tensor::SetRequiresGrad(bool requires_grad) {
  GRADWAY_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change ",
                "requires_grad; use Detach() to get a leaf");
  checked().requires_grad = requires_grad;
  return *this;
}

bool Tensor::requires_grad() const { return checked().requires_grad; }

bool Tensor::is_leaf() const { return checked().grad_fn == nullptr; }

Tensor Tensor::grad() const { return checked().grad; }

void Tensor::ZeroGrad() { checked().grad = Tensor(); }

Tensor Tensor::Detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = checked().storage;
  impl->offset = impl_->offset;
  impl->shape = shape();
  return Tensor(std::move(impl));
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }

}  // namespace gradway
