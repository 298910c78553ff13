// Unit tests of the scheduler's local run queue (scheduler/run_queue.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "scheduler/inject_queue.hpp"
#include "scheduler/run_queue.hpp"
#include "test_util.hpp"

using gort::detail::node_batch;
using gort::detail::run_queue;
using gort::detail::sched_node;

namespace {
struct item : sched_node {
  int value = 0;
};
}  // namespace

TEST(RunQueue, OwnerIsFifo) {
  run_queue q;
  std::vector<item> items(100);
  node_batch overflow;
  for (int i = 0; i < 100; ++i) {
    items[i].value = i;
    ASSERT_TRUE(q.push(&items[i], overflow));
  }
  EXPECT_EQ(q.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    auto* n = static_cast<item*>(q.pop());
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->value, i);
  }
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_EQ(overflow.size, 0u);
}

TEST(RunQueue, OverflowMovesHalfPlusNewInOrder) {
  run_queue q;
  std::vector<item> items(run_queue::k_capacity + 1);
  node_batch overflow;
  for (std::uint32_t i = 0; i < run_queue::k_capacity; ++i) {
    items[i].value = int(i);
    ASSERT_TRUE(q.push(&items[i], overflow));
  }
  items.back().value = int(run_queue::k_capacity);
  EXPECT_FALSE(q.push(&items.back(), overflow));
  // The older half went out, followed by the new node; the newer half stayed.
  ASSERT_EQ(overflow.size, run_queue::k_capacity / 2 + 1);
  int expect = 0;
  for (sched_node* n = overflow.head; n; n = n->sched_next) {
    int v = static_cast<item*>(n)->value;
    if (n->sched_next)
      EXPECT_EQ(v, expect++);
    else
      EXPECT_EQ(v, int(run_queue::k_capacity));
  }
  EXPECT_EQ(q.size(), run_queue::k_capacity / 2);
  EXPECT_EQ(static_cast<item*>(q.pop())->value, int(run_queue::k_capacity / 2));
}

TEST(RunQueue, StealTakesHalf) {
  run_queue victim, thief;
  std::vector<item> items(10);
  node_batch overflow;
  for (int i = 0; i < 10; ++i) {
    items[i].value = i;
    victim.push(&items[i], overflow);
  }
  sched_node* got = victim.steal_into(thief);
  ASSERT_NE(got, nullptr);
  // 5 taken: oldest four queued in the thief, the fifth returned to run now.
  EXPECT_EQ(static_cast<item*>(got)->value, 4);
  EXPECT_EQ(thief.size(), 4u);
  EXPECT_EQ(victim.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(static_cast<item*>(thief.pop())->value, i);
  for (int i = 5; i < 10; ++i) EXPECT_EQ(static_cast<item*>(victim.pop())->value, i);
}

TEST(RunQueue, RunnextIsLifoSlotAndNeverLost) {
  run_queue q;
  item a, b, c;
  EXPECT_EQ(q.put_next(&a), nullptr);
  EXPECT_EQ(q.put_next(&b), &a);  // displaced: the caller must queue it
  EXPECT_TRUE(q.has_next());
  EXPECT_EQ(q.take_next(), &b);
  EXPECT_EQ(q.take_next(), nullptr);
  EXPECT_EQ(q.put_next(&c), nullptr);
  EXPECT_EQ(q.size(), 1u);
}

namespace {
// One owner and three thieves share a queue: the owner hands 200,000 items to
// owner_step(q, item, rng, consume) (which queues it and may take some, ring
// overflow going to `overflow`), thieves call thief_step(q, mine, consume)
// until the owner is done and the queue is empty. Every item must be taken
// exactly once. Seeded: the owner's choices come from the seed.
template <class OwnerStep, class ThiefStep>
void expect_every_item_taken_once(OwnerStep owner_step, ThiefStep thief_step) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  constexpr int n = 200000;
  constexpr int thieves = 3;
  std::vector<item> items(n);
  std::vector<std::atomic<int>> seen(n);
  for (int i = 0; i < n; ++i) items[i].value = i;
  run_queue owner_q;
  gort::detail::inject_queue overflow_q;
  std::atomic<bool> done{false};
  std::atomic<int> consumed{0};
  auto consume = [&](sched_node* s) {
    seen[static_cast<item*>(s)->value].fetch_add(1);
    consumed.fetch_add(1);
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < thieves; ++t) {
    ts.emplace_back([&] {
      run_queue mine;
      while (!done.load() || !owner_q.empty()) thief_step(owner_q, mine, consume);
    });
  }
  std::mt19937_64 rng(seed);
  node_batch overflow;
  for (int i = 0; i < n; ++i) {
    owner_step(owner_q, &items[i], rng, consume, overflow);
    overflow_q.push_batch(overflow);  // no-op unless the ring overflowed
  }
  if (sched_node* s = owner_q.take_next()) consume(s);
  while (sched_node* s = owner_q.pop()) consume(s);
  done.store(true);
  for (auto& t : ts) t.join();
  run_queue drain;
  while (sched_node* s = overflow_q.pop_into(drain, 0)) consume(s);
  EXPECT_EQ(consumed.load(), n);
  for (int i = 0; i < n; ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
}

// A thief's turn: steal half the ring, run one, drain the rest.
template <class Consume>
void steal_and_drain(run_queue& q, run_queue& mine, Consume& consume) {
  if (sched_node* s = q.steal_into(mine)) {
    consume(s);
    while (sched_node* m = mine.pop()) consume(m);
  }
}
}  // namespace

// One owner pushing and popping, several thieves stealing: every item is
// seen exactly once.
TEST(RunQueue, ConcurrentStealSeesEveryItemOnce) {
  expect_every_item_taken_once(
      [](run_queue& q, item* it, std::mt19937_64& rng, auto& consume, node_batch& overflow) {
        q.push(it, overflow);
        if (rng() % 3 == 0)
          if (sched_node* s = q.pop()) consume(s);
      },
      [](run_queue& q, run_queue& mine, auto& consume) { steal_and_drain(q, mine, consume); });
}

// runnext under thieves: the owner fills it (a plain store when it is empty,
// an exchange when it displaces a node) and takes from it and the ring while
// thieves take it and steal from the ring. Every node is taken exactly once.
TEST(RunQueue, ConcurrentRunnextTakesEveryItemOnce) {
  expect_every_item_taken_once(
      [](run_queue& q, item* it, std::mt19937_64& rng, auto& consume, node_batch& overflow) {
        if (sched_node* old = q.put_next(it)) q.push(old, overflow);
        switch (rng() % 4) {
          case 0:
            if (sched_node* s = q.take_next()) consume(s);
            break;
          case 1:
            if (sched_node* s = q.pop()) consume(s);
            break;
          default: break;
        }
      },
      [](run_queue& q, run_queue& mine, auto& consume) {
        if (sched_node* s = q.take_next()) consume(s);
        steal_and_drain(q, mine, consume);
      });
}

// A solo queue (no thieves: a 1-worker scheduler) takes nodes with plain
// stores; its order is the same as a shared queue's.
TEST(RunQueue, SoloQueueKeepsTheSameOrder) {
  std::vector<item> items(300);
  for (int i = 0; i < 300; ++i) items[i].value = i;
  auto drive = [&](bool solo) {
    run_queue q;
    q.set_solo(solo);
    node_batch overflow;
    std::vector<int> order;
    for (int i = 0; i < 300; ++i) {
      if (sched_node* old = q.put_next(&items[i])) q.push(old, overflow);
      if (i % 7 == 0)
        if (sched_node* s = q.pop()) order.push_back(static_cast<item*>(s)->value);
      if (i % 11 == 0)
        if (sched_node* s = q.take_next()) order.push_back(static_cast<item*>(s)->value);
    }
    while (sched_node* s = q.take_next()) order.push_back(static_cast<item*>(s)->value);
    while (sched_node* s = q.pop()) order.push_back(static_cast<item*>(s)->value);
    for (sched_node* s = overflow.head; s; s = s->sched_next) order.push_back(static_cast<item*>(s)->value);
    return order;
  };
  std::vector<int> solo = drive(true);
  EXPECT_EQ(solo, drive(false));
  std::vector<int> sorted = solo;
  std::sort(sorted.begin(), sorted.end());
  ASSERT_EQ(sorted.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(sorted[i], i);
}
