#include "base/scratch.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace gradway {
namespace {

bool Aligned(const float* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

// A released buffer's memory is handed to the next user of the slot; a second user while
// the slot is taken (a nested call) gets memory of its own; owners and slots are separate.
TEST(ScratchBufferTest, ReusesTheThreadsSlotAndNeverSharesIt) {
  ScratchPool pool;
  float* first = nullptr;
  {
    ScratchBuffer a(pool, ScratchOwner::kConv, 0, 1000);
    first = a.get();
    ASSERT_TRUE(Aligned(first));
    for (int i = 0; i < 1000; ++i) first[i] = static_cast<float>(i);
    ScratchBuffer nested(pool, ScratchOwner::kConv, 0, 1000);
    EXPECT_NE(nested.get(), first);
    EXPECT_TRUE(Aligned(nested.get()));
    nested.get()[999] = -1.f;
    EXPECT_EQ(first[999], 999.f);  // the nested buffer does not overlap the first
    ScratchBuffer other_slot(pool, ScratchOwner::kConv, 1, 10);
    ScratchBuffer other_owner(pool, ScratchOwner::kMatMul, 0, 10);
    EXPECT_NE(other_slot.get(), first);
    EXPECT_NE(other_owner.get(), first);
  }
  ScratchBuffer again(pool, ScratchOwner::kConv, 0, 500);  // smaller: the cached one serves
  EXPECT_EQ(again.get(), first);
}

// Resize grows the buffer in place of the old one, and an empty request still gives a
// usable pointer.
TEST(ScratchBufferTest, ResizeGrows) {
  ScratchPool pool;
  ScratchBuffer b(pool, ScratchOwner::kWinograd, 4, 0);
  ASSERT_NE(b.get(), nullptr);
  b.Resize(1 << 20);
  ASSERT_TRUE(Aligned(b.get()));
  b.get()[(1 << 20) - 1] = 3.f;  // the whole length is writable (ASan checks it)
  EXPECT_EQ(b.get()[(1 << 20) - 1], 3.f);
  ScratchBuffer nested(pool, ScratchOwner::kWinograd, 4, 0);
  nested.Resize(1 << 16);
  nested.get()[(1 << 16) - 1] = 1.f;
  EXPECT_NE(nested.get(), b.get());
}

// The buffers belong to the pool: another pool's slot is another buffer, even on the same
// thread and while the first pool's slot is free.
TEST(ScratchBufferTest, PoolsDoNotShareBuffers) {
  ScratchPool a, b;
  float* from_a = nullptr;
  { from_a = ScratchBuffer(a, ScratchOwner::kMatMul, 0, 256).get(); }
  ScratchBuffer from_b(b, ScratchOwner::kMatMul, 0, 256);
  EXPECT_NE(from_b.get(), from_a);
  ScratchBuffer again(a, ScratchOwner::kMatMul, 0, 256);
  EXPECT_EQ(again.get(), from_a);
}

// Threads have their own slots: buffers held at the same time on different threads are
// distinct and keep what their thread wrote, and each thread finds its buffer again.
TEST(ScratchBufferTest, ThreadsHaveTheirOwnSlots) {
  ScratchPool pool;
  constexpr int kThreads = 4, kFloats = 4096;
  std::vector<float*> held(kThreads), again(kThreads);
  std::vector<int> intact(kThreads);
  std::atomic<int> holding{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      {
        ScratchBuffer buf(pool, ScratchOwner::kConv, 2, kFloats);
        std::fill(buf.get(), buf.get() + kFloats, static_cast<float>(t));
        held[t] = buf.get();
        holding.fetch_add(1);
        while (holding.load() < kThreads) std::this_thread::yield();  // all hold one now
        intact[t] = std::count(buf.get(), buf.get() + kFloats, static_cast<float>(t));
      }
      ScratchBuffer buf(pool, ScratchOwner::kConv, 2, kFloats);
      again[t] = buf.get();
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(std::set<float*>(held.begin(), held.end()).size(), size_t{kThreads});
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(intact[t], kFloats) << t;
    EXPECT_EQ(again[t], held[t]) << t;
  }
}

}  // namespace
}  // namespace gradway
