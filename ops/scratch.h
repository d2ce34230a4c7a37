// Per-thread reusable scratch buffers for the kernels (packed GEMM panels, im2col tiles,
// Winograd's transformed tiles): a kernel takes one for the duration of a call instead of
// allocating (and faulting in) a large buffer every time.
#ifndef GRADWAY_OPS_SCRATCH_H_
#define GRADWAY_OPS_SCRATCH_H_

#include <cstddef>

#include "hwy/aligned_allocator.h"

namespace gradway {
namespace ops {

// Which kernel family a buffer belongs to. Each family has its own slots on every thread,
// so a kernel that calls another (convolution -> GEMM) never finds its buffer taken.
enum class ScratchOwner { kMatMul, kConv, kWinograd };

// A growable, 64-byte-aligned float buffer borrowed from the calling thread's cache slot
// (owner, slot) and returned when destroyed. Work stealing can re-enter a thread while
// that slot is in use (a nested parallel loop); the buffer is then allocated privately.
// Contents are not initialised and not kept between uses.
class ScratchBuffer {
 public:
  static constexpr int kSlots = 5;  // slots per owner: 0 .. kSlots - 1
  ScratchBuffer(ScratchOwner owner, int slot, size_t floats);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

  // Makes the buffer at least `floats` long (contents are not kept).
  void Resize(size_t floats);
  float* get() const { return ptr_; }

 private:
  struct Cache;
  Cache* cache_ = nullptr;  // the thread's slot while this buffer holds it
  // A private buffer when the slot was taken.
  hwy::AlignedFreeUniquePtr<float[]> own_{nullptr, hwy::AlignedFreer()};
  size_t own_size_ = 0;
  float* ptr_ = nullptr;
};

}  // namespace ops
}  // namespace gradway

#endif  // GRADWAY_OPS_SCRATCH_H_
