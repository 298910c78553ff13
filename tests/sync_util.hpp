// Helpers for the sync tests (on top of test_util.hpp).
#pragma once

#include <chrono>
#include <cstdint>

#include "gort/gort.hpp"
#include "test_util.hpp"

namespace sync_test {

// Polls pred() (sleeping 100 us between polls; the fiber parks, a plain
// thread sleeps) until it holds or `limit` passed; returns pred()'s last
// value. For assertions with a generous deadline, never for ordering.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return pred();
    gort::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

// A gort::thread kept alive for the guard's scope. While one is alive the
// deadlock check stays quiet: it cannot see a plain std::thread that holds a
// gort mutex between two gort calls (see docs/api.md), so tests that mix
// std::threads with parked fibers hold one of these.
struct keep_threads_visible {
  gort::semaphore stop{0};
  gort::thread t{[this] { stop.acquire(); }};
  ~keep_threads_visible() { stop.release(); }
};

// A small deterministic generator for seeded stress tests (splitmix64).
struct rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  unsigned below(unsigned n) { return unsigned(next() % n); }
};

}  // namespace sync_test
