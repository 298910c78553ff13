// Unit tests of the scheduler's placement of pushed nodes
// (scheduler::push_local), on a one-worker scheduler driven directly.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "scheduler/scheduler.hpp"

using gort::detail::place;
using gort::detail::sched_node;
using gort::detail::scheduler;

namespace {
struct item : sched_node {
  int value = 0;
};

// Nothing to do: no timers, no network, and the tests never let the worker
// go idle (they take exactly the nodes they pushed).
class no_hooks final : public gort::detail::sched_hooks {
 public:
  void run_timers(unsigned, unsigned) override {}
  std::int64_t next_timer_deadline() override { return -1; }
  void all_idle(unsigned, std::uint64_t) override {}
  void going_idle(unsigned) override {}
  void left_idle(unsigned) override {}
  bool netpoll_active() override { return false; }
  void netpoll(unsigned, std::int64_t) override {}
  void netpoll_interrupt() override {}
};

// Pushes items[i] with places[i] on worker 0, then returns the values in
// the order find_runnable hands the nodes out.
std::vector<int> order_of(const std::vector<place>& places) {
  no_hooks hooks;
  scheduler s(1, hooks);
  std::vector<item> items(places.size());
  for (std::size_t i = 0; i < places.size(); ++i) {
    items[i].value = int(i);
    s.push_local(0, &items[i], places[i]);
  }
  std::vector<int> out;
  for (std::size_t i = 0; i < places.size(); ++i)
    out.push_back(static_cast<item*>(s.find_runnable(0))->value);
  return out;
}
}  // namespace

TEST(SchedulerPlace, TailIsFifo) {
  EXPECT_EQ(order_of({place::tail, place::tail, place::tail}), (std::vector<int>{0, 1, 2}));
}

TEST(SchedulerPlace, NextRunsFirstAndDisplacesToTheTail) {
  // 1 takes runnext from 0, which goes behind 2 (already in the ring).
  EXPECT_EQ(order_of({place::next, place::tail, place::next}), (std::vector<int>{2, 1, 0}));
}

TEST(SchedulerPlace, NextIfFreeTakesAnEmptyRunnext) {
  EXPECT_EQ(order_of({place::tail, place::next_if_free}), (std::vector<int>{1, 0}));
}

// The cache-affinity rule of runtime::ready: a fiber that last ran on
// another worker never displaces the one woken here.
TEST(SchedulerPlace, NextIfFreeNeverDisplaces) {
  EXPECT_EQ(order_of({place::next, place::next_if_free, place::next_if_free}), (std::vector<int>{0, 1, 2}));
}

// Handoffs (a parking fiber switching straight to runnext) obey the same
// fairness as find_runnable: two fibers that keep waking each other and
// handing over cannot keep a node in the ring waiting past the runnext
// streak bound (512 schedules; before, handoffs did not count and the ring
// waited forever in this loop).
TEST(SchedulerHandoff, RunnextStreakLetsTheRingIn) {
  no_hooks hooks;
  scheduler s(1, hooks);
  item waiting;  // in the ring the whole time
  waiting.value = -1;
  s.push_local(0, &waiting, place::tail);
  std::vector<item> woken(4000);
  int schedules = 0;
  bool ring_ran = false;
  for (item& w : woken) {
    s.push_local(0, &w, place::next);  // the running fiber wakes another, then parks
    sched_node* n = s.take_for_handoff(0, /*whole_queue=*/false);
    if (!n) n = s.find_runnable(0);  // declined: the trip through g0
    ++schedules;
    if (n == &waiting) {
      ring_ran = true;
      break;
    }
  }
  EXPECT_TRUE(ring_ran);
  EXPECT_LE(schedules, 600);
}
