#include "ops/scratch.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace gradway {
namespace ops {
namespace {

bool Aligned(const float* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

// A released buffer's memory is handed to the next user of the slot; a second user while
// the slot is taken (a nested call) gets memory of its own; owners and slots are separate.
TEST(ScratchBufferTest, ReusesTheThreadsSlotAndNeverSharesIt) {
  float* first = nullptr;
  {
    ScratchBuffer a(ScratchOwner::kConv, 0, 1000);
    first = a.get();
    ASSERT_TRUE(Aligned(first));
    for (int i = 0; i < 1000; ++i) first[i] = static_cast<float>(i);
    ScratchBuffer nested(ScratchOwner::kConv, 0, 1000);
    EXPECT_NE(nested.get(), first);
    EXPECT_TRUE(Aligned(nested.get()));
    nested.get()[999] = -1.f;
    EXPECT_EQ(first[999], 999.f);  // the nested buffer does not overlap the first
    ScratchBuffer other_slot(ScratchOwner::kConv, 1, 10);
    ScratchBuffer other_owner(ScratchOwner::kMatMul, 0, 10);
    EXPECT_NE(other_slot.get(), first);
    EXPECT_NE(other_owner.get(), first);
  }
  ScratchBuffer again(ScratchOwner::kConv, 0, 500);  // smaller: the cached buffer serves
  EXPECT_EQ(again.get(), first);
}

// Resize grows the buffer in place of the old one, and an empty request still gives a
// usable pointer.
TEST(ScratchBufferTest, ResizeGrows) {
  ScratchBuffer b(ScratchOwner::kWinograd, 4, 0);
  ASSERT_NE(b.get(), nullptr);
  b.Resize(1 << 20);
  ASSERT_TRUE(Aligned(b.get()));
  b.get()[(1 << 20) - 1] = 3.f;  // the whole length is writable (ASan checks it)
  EXPECT_EQ(b.get()[(1 << 20) - 1], 3.f);
  ScratchBuffer nested(ScratchOwner::kWinograd, 4, 0);
  nested.Resize(1 << 16);
  nested.get()[(1 << 16) - 1] = 1.f;
  EXPECT_NE(nested.get(), b.get());
}

}  // namespace
}  // namespace ops
}  // namespace gradway
