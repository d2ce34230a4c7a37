#include "autograd/threads.h"

#include <type_traits>

#include "gtest/gtest.h"
#include "ops/parallel.h"

namespace gradway {
namespace {

// With both headers included, a declaration that drifted from ops/parallel.h would be an
// overload (taking the address below would be ambiguous) or a conflicting redeclaration:
// either way this file would not compile.
static_assert(std::is_same_v<decltype(&SetNumThreads), void (*)(int)>);
static_assert(std::is_same_v<decltype(&NumThreads), int (*)()>);

TEST(ThreadsTest, SetsTheKernelsThreadCount) {
  const int saved = NumThreads();
  SetNumThreads(1);
  EXPECT_EQ(NumThreads(), 1);
  SetNumThreads(0);
  EXPECT_EQ(NumThreads(), HardwareThreads());
  SetNumThreads(saved);
}

}  // namespace
}  // namespace gradway
