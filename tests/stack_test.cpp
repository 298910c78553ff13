// Unit tests of the stack allocator's memory policy (runtime/stack.hpp):
// released stacks past the warm bound give their pages back, from release()
// and from trim_excess() (called by workers going idle). Residency is read
// with mincore(), so the tests assert what the system holds, not counters.
// Also: fiber objects recycled with their stacks carry nothing of the fiber
// before (AddressSanitizer's fake stack).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "runtime/stack.hpp"
#include "test_util.hpp"

namespace {
using gort::detail::stack_allocator;
using gort::detail::stack_mem;

constexpr std::size_t k_size = 16 * 1024;
constexpr std::size_t k_keep = 1024;  // stack.cpp's k_warm_keep

// Is the page holding the top byte of `s` resident?
bool top_resident(const stack_mem& s) {
  const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
  char* top_page = s.top() - page;
  unsigned char v = 0;
  EXPECT_EQ(mincore(top_page, page, &v), 0);
  return (v & 1) != 0;
}

// `n` stacks, each with its top page written (resident).
std::vector<stack_mem> touched(stack_allocator& a, std::size_t n) {
  std::vector<stack_mem> v;
  for (std::size_t i = 0; i < n; ++i) {
    v.push_back(a.allocate());
    *(v.back().top() - 1) = 1;
  }
  return v;
}

// How many of `v` still have their top page resident.
std::size_t resident(const std::vector<stack_mem>& v) {
  std::size_t n = 0;
  for (const stack_mem& s : v) n += top_resident(s) ? 1 : 0;
  return n;
}
}  // namespace

TEST(StackAllocator, ReleasePastTheBoundGivesTheOldestPagesBack) {
  stack_allocator a(k_size);
  std::vector<stack_mem> v = touched(a, 2 * k_keep + 100);
  for (const stack_mem& s : v) a.release(s);
  // The first release that reached 2 * k_keep trimmed the oldest k_keep (no
  // trim had run yet, so it was due); the 100 after it stayed warm.
  EXPECT_EQ(a.warm_size(), k_keep + 100);
  std::vector<stack_mem> oldest(v.begin(), v.begin() + k_keep);
  std::vector<stack_mem> newest(v.begin() + k_keep, v.end());
  EXPECT_EQ(resident(oldest), 0u);
  EXPECT_EQ(resident(newest), newest.size());
}

TEST(StackAllocator, TrimExcessKeepsTheNewestWarm) {
  stack_allocator a(k_size);
  std::vector<stack_mem> first = touched(a, 2 * k_keep);
  for (const stack_mem& s : first) a.release(s);  // the due trim runs here
  // Take everything back and release more than the bound again: whether or
  // not release() found a trim due this soon, trim_excess() leaves exactly
  // the newest k_keep resident.
  std::vector<stack_mem> all = touched(a, 3 * k_keep);
  for (const stack_mem& s : all) a.release(s);
  a.trim_excess();
  EXPECT_EQ(a.warm_size(), k_keep);
  std::vector<stack_mem> newest(all.end() - k_keep, all.end());
  EXPECT_EQ(resident(newest), k_keep);
  EXPECT_EQ(resident(all), k_keep);
  // Nothing past the bound: a no-op.
  a.trim_excess();
  EXPECT_EQ(a.warm_size(), k_keep);
  EXPECT_EQ(resident(newest), k_keep);
}

TEST(StackAllocator, TrimmedStacksAreReusedZeroed) {
  stack_allocator a(k_size);
  std::vector<stack_mem> v = touched(a, 2 * k_keep);
  for (const stack_mem& s : v) a.release(s);
  // Allocation prefers warm stacks, then trimmed (clean) ones; a trimmed
  // stack reads as zero again, so a slab stack's canary holds.
  std::vector<stack_mem> again;
  for (std::size_t i = 0; i < 2 * k_keep; ++i) again.push_back(a.allocate());
  std::size_t zero_tops = 0;
  for (const stack_mem& s : again) {
    zero_tops += *(s.top() - 1) == 0 ? 1 : 0;
    EXPECT_TRUE(s.canary_intact());
  }
  EXPECT_EQ(zero_tops, k_keep);
  for (const stack_mem& s : again) a.release(s);
}

namespace {
// Frames ASan moves to its fake stack (a local array whose address escapes).
int deep(int n) {
  volatile char buf[256];
  buf[0] = char(n);
  return n ? deep(n - 1) + buf[0] : 0;
}
}  // namespace

// A fiber object reused from the free list must not hand ASan the fake stack
// of the fiber that last used it (freed at that one's exit): with
// detect_stack_use_after_return, ASan then crashed in FakeStack::Allocate on
// the new fiber's first frame. The child process runs with that option
// (ASAN_OPTIONS is read at start-up); outside ASan builds it is a plain run.
TEST(StackDeathTest, RecycledFiberStartsWithoutTheOldFakeStack) {
  gort_test::threadsafe_death_tests();
  const char* old = std::getenv("ASAN_OPTIONS");
  const std::string opts = std::string(old ? old : "") + (old ? ":" : "") + "detect_stack_use_after_return=1";
  gort_test::scoped_env asan("ASAN_OPTIONS", opts.c_str());
  EXPECT_EXIT(
      {
        long sum = 0;
        gort::run(
            [&] {
              for (int round = 0; round < 200; ++round) {
                std::vector<gort::task<int>> ts;
                for (int i = 0; i < 50; ++i)
                  ts.push_back(gort::spawn([i] {
                    int x = deep(8);
                    gort::yield();  // parked once, so its fake stack is saved and restored
                    return x + deep(8) + i;
                  }));
                for (auto& t : ts) sum += t.join();
              }
            },
            {.workers = 1});
        constexpr long k_deep8 = 8 + 7 + 6 + 5 + 4 + 3 + 2 + 1;  // deep(8)
        std::exit(sum == 200 * (50 * 2 * k_deep8 + 50 * 49 / 2) ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}
