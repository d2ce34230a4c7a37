#include "ops/scratch.h"

#include <algorithm>

namespace gradway {
namespace ops {

struct ScratchBuffer::Cache {
  hwy::AlignedFreeUniquePtr<float[]> buf{nullptr, hwy::AlignedFreer()};
  size_t size = 0;
  bool busy = false;
};

namespace {

constexpr int kOwners = 3;
static_assert(static_cast<int>(ScratchOwner::kWinograd) + 1 == kOwners, "one cache row per owner");

hwy::AlignedFreeUniquePtr<float[]> Allocate(size_t floats) {
  return hwy::AllocateAligned<float>(std::max<size_t>(floats, 1));
}

}  // namespace

ScratchBuffer::ScratchBuffer(ScratchOwner owner, int slot, size_t floats) {
  thread_local Cache caches[kOwners][kSlots];
  Cache& cache = caches[static_cast<int>(owner)][slot];
  if (!cache.busy) {
    cache.busy = true;
    cache_ = &cache;
  }
  Resize(floats);
}

ScratchBuffer::~ScratchBuffer() {
  if (cache_ != nullptr) cache_->busy = false;
}

void ScratchBuffer::Resize(size_t floats) {
  floats = std::max<size_t>(floats, 1);
  if (cache_ != nullptr) {
    if (cache_->size < floats) {
      cache_->buf = Allocate(floats);
      cache_->size = floats;
    }
    ptr_ = cache_->buf.get();
    return;
  }
  if (own_size_ < floats) {
    own_ = Allocate(floats);
    own_size_ = floats;
  }
  ptr_ = own_.get();
}

}  // namespace ops
}  // namespace gradway
