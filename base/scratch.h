// Reusable scratch buffers for the kernels (packed GEMM panels, im2col tiles, Winograd's
// transformed tiles): a kernel takes one for the duration of a call instead of allocating
// (and faulting in) a large buffer every time. The buffers belong to a ScratchPool; the
// kernels use the one of the process's runtime, Runtime::Default().scratch()
// (base/runtime.h).
#ifndef GRADWAY_BASE_SCRATCH_H_
#define GRADWAY_BASE_SCRATCH_H_

#include <cstddef>
#include <memory>

#include "hwy/aligned_allocator.h"

namespace gradway {

// Which kernel family a buffer belongs to. Each family has its own slots on every thread,
// so a kernel that calls another (convolution -> GEMM) never finds its buffer taken.
enum class ScratchOwner { kMatMul, kConv, kWinograd };

// Growable float buffers, kSlots per owner on every thread that uses the pool, kept from
// one use to the next and freed with the pool. Thread-safe: each thread has its own.
class ScratchPool {
 public:
  static constexpr int kSlots = 5;  // slots per owner: 0 .. kSlots - 1

  ScratchPool();
  ~ScratchPool();
  ScratchPool(const ScratchPool&) = delete;
  ScratchPool& operator=(const ScratchPool&) = delete;

 private:
  friend class ScratchBuffer;
  struct Slot;
  struct PerThread;
  // The calling thread's slot (owner, slot), created on the thread's first use.
  Slot& ThreadSlot(ScratchOwner owner, int slot);

  std::unique_ptr<PerThread> per_thread_;
};

// A 64-byte-aligned float buffer borrowed from the calling thread's slot (owner, slot) of
// `pool` and returned when destroyed. Work stealing can re-enter a thread while that slot
// is in use (a nested parallel loop); the buffer is then allocated privately. Contents are
// not initialised and not kept between uses.
class ScratchBuffer {
 public:
  ScratchBuffer(ScratchPool& pool, ScratchOwner owner, int slot, size_t floats);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

  // Makes the buffer at least `floats` long (contents are not kept).
  void Resize(size_t floats);
  float* get() const { return ptr_; }

 private:
  ScratchPool::Slot* slot_ = nullptr;  // the thread's slot while this buffer holds it
  // A private buffer when the slot was taken.
  hwy::AlignedFreeUniquePtr<float[]> own_{nullptr, hwy::AlignedFreer()};
  size_t own_size_ = 0;
  float* ptr_ = nullptr;
};

}  // namespace gradway

#endif  // GRADWAY_BASE_SCRATCH_H_
