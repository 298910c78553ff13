// Failures the model checker found in gort, each reduced to a minimal test
// that stays as a regression test.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "gort/gort.hpp"
#include "test_util.hpp"

namespace {

long mappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  long n = 0;
  while (std::getline(maps, line)) ++n;
  return n;
}

// Found by model_check (any seed: it died after ~20,000 runs with "fatal
// error: cannot protect a fiber stack guard page: Cannot allocate memory").
// Fibers that run() unwinds at its end (a deadlock, or main returning while
// others are blocked) finished on worker 0 after its stack cache had been
// drained, so up to 16 stacks per run() stayed in a cache that was destroyed
// without giving them back: two mappings (stack and guard page) and their
// touched pages each, until a process that calls run() many times reached
// vm.max_map_count. run() now drains every worker's cache after unwinding.
// (Under a sanitizer stacks come from slabs freed with the allocator: no
// leak there.)
TEST(ModelFound, RunReturnsTheStacksOfFibersItUnwound) {
  auto once = [] {
    gort::run(
        [] {
          gort::chan<int> never;
          for (int i = 0; i < 8; ++i) gort::go([never] { never.recv(); });
          gort::yield();
        },
        {.workers = 1});
  };
  once();
  const long before = mappings();
  for (int i = 0; i < 200; ++i) once();
  // Leaking, this grows by 16 mappings a run (3,200 here).
  EXPECT_LT(mappings() - before, 64);
}

}  // namespace

namespace {
// Found by model_check (seed 3602489287 at 2 workers, "trace not explained":
// a wg.wait never returned). A done() that takes a wait_group's counter below
// zero throws and puts the counter back; a wait() that read the counter in
// that window registered as a waiter and parked, and putting the counter
// back to zero woke nobody. Now the undo wakes the waiters as a done() that
// reaches zero does.
bool negative_done_strands_a_waiter(unsigned workers, int rounds) {
  try {
    gort::run(
        [rounds] {
          gort::wait_group wg;  // stays at zero; every round opens the window once
          std::atomic<bool> stop{false};
          gort::wait_group waiters;
          for (int i = 0; i < 2; ++i) {
            waiters.add(1);
            gort::go([&] {
              while (!stop.load(std::memory_order_relaxed)) wg.wait();  // returns at once at zero
              waiters.done();
            });
          }
          gort::go([&] {
            for (int r = 0; r < rounds; ++r) {
              try {
                wg.done();  // below zero: throws, and must leave no waiter parked
              } catch (const std::logic_error&) {
              }
            }
            stop.store(true, std::memory_order_relaxed);
          });
          waiters.wait();
        },
        {.workers = workers, .on_deadlock = gort::deadlock_policy::raise});
  } catch (const gort::deadlock_error&) {
    return true;
  }
  return false;
}
}  // namespace

TEST(ModelFound, NegativeDoneNeverStrandsAWaiter) {
  gort_test::for_each_worker_count([](unsigned w) { EXPECT_FALSE(negative_done_strands_a_waiter(w, 200000)); },
                                   2);
}
