#include "base/scratch.h"

#include <algorithm>

#include <oneapi/tbb/cache_aligned_allocator.h>
#include <oneapi/tbb/enumerable_thread_specific.h>

namespace gradway {

struct ScratchPool::Slot {
  hwy::AlignedFreeUniquePtr<float[]> buf{nullptr, hwy::AlignedFreer()};
  size_t size = 0;
  bool busy = false;
};

namespace {

constexpr int kOwners = 3;
static_assert(static_cast<int>(ScratchOwner::kWinograd) + 1 == kOwners, "one slot row per owner");

hwy::AlignedFreeUniquePtr<float[]> Allocate(size_t floats) {
  return hwy::AllocateAligned<float>(std::max<size_t>(floats, 1));
}

}  // namespace

// Each thread's slots, found through a thread-local key of this pool's own.
struct ScratchPool::PerThread {
  struct Slots {
    Slot slot[kOwners][kSlots];
  };
  oneapi::tbb::enumerable_thread_specific<Slots, oneapi::tbb::cache_aligned_allocator<Slots>,
                                          oneapi::tbb::ets_key_per_instance>
      slots;
};

ScratchPool::ScratchPool() : per_thread_(std::make_unique<PerThread>()) {}

ScratchPool::~ScratchPool() = default;

ScratchPool::Slot& ScratchPool::ThreadSlot(ScratchOwner owner, int slot) {
  return per_thread_->slots.local().slot[static_cast<int>(owner)][slot];
}

ScratchBuffer::ScratchBuffer(ScratchPool& pool, ScratchOwner owner, int slot, size_t floats) {
  ScratchPool::Slot& s = pool.ThreadSlot(owner, slot);
  if (!s.busy) {
    s.busy = true;
    slot_ = &s;
  }
  Resize(floats);
}

ScratchBuffer::~ScratchBuffer() {
  if (slot_ != nullptr) slot_->busy = false;
}

void ScratchBuffer::Resize(size_t floats) {
  floats = std::max<size_t>(floats, 1);
  if (slot_ != nullptr) {
    if (slot_->size < floats) {
      slot_->buf = Allocate(floats);
      slot_->size = floats;
    }
    ptr_ = slot_->buf.get();
    return;
  }
  if (own_size_ < floats) {
    own_ = Allocate(floats);
    own_size_ = floats;
  }
  ptr_ = own_.get();
}

}  // namespace gradway
