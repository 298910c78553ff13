// Unit tests of a worker's timer heap (runtime/timer_heap.hpp): deterministic,
// with explicit "now" values instead of the clock.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/timer_heap.hpp"

namespace {
std::vector<int> fired;
struct tagged : gort::detail::timer {
  int tag = 0;
};
void record(gort::detail::timer* t) { fired.push_back(static_cast<tagged*>(t)->tag); }
}  // namespace

TEST(TimerHeap, FiresInDeadlineOrderAndOnlyWhenDue) {
  fired.clear();
  gort::detail::timer_heap heap;
  tagged t[5];
  const int when[5] = {50, 10, 40, 20, 30};
  for (int i = 0; i < 5; ++i) {
    t[i].fn = &record;
    t[i].tag = when[i];
    heap.add(t[i], when[i]);
  }
  EXPECT_EQ(heap.earliest(), 10);
  heap.run_due(25);
  EXPECT_EQ(fired, (std::vector<int>{10, 20}));
  EXPECT_EQ(heap.earliest(), 30);
  EXPECT_TRUE(heap.remove(t[2]));   // the 40 one
  EXPECT_FALSE(heap.remove(t[2]));  // already gone
  heap.run_due(1000);
  EXPECT_EQ(fired, (std::vector<int>{10, 20, 30, 50}));
  EXPECT_EQ(heap.earliest(), INT64_MAX);
  for (auto& x : t) EXPECT_FALSE(x.pending());
}

TEST(TimerHeap, CallbackRearmingItselfIsReaddedAfterItReturns) {
  fired.clear();
  gort::detail::timer_heap heap;
  tagged t;
  t.tag = 1;
  t.fn = [](gort::detail::timer* self) {
    record(self);
    if (fired.size() < 3) self->start(self->when + 10);  // a ticker's re-arm
  };
  heap.add(t, 10);
  heap.run_due(100);  // fires at 10, 20, 30: each re-arm is due within this call
  EXPECT_EQ(fired.size(), 3u);
  EXPECT_FALSE(t.pending());
}
