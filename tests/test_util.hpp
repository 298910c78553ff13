// Helpers shared by the tests: worker-count sweeps, reproducible seeds,
// death-test style and scoped environment variables.
#pragma once

#include <gtest/gtest.h>
#include <time.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include "gort/gort.hpp"

namespace gort_test {

// CPU time of the whole process so far.
inline std::chrono::nanoseconds process_cpu() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// The worker counts every scheduler-sensitive test runs at (Go's -cpu=1,2,4;
// 4 oversubscribes a 2-core machine on purpose).
inline constexpr unsigned k_worker_counts[] = {1, 2, 4};

// The one way a test sweeps worker counts: calls body(workers) for 1, 2 and
// 4 workers, each under SCOPED_TRACE("workers=N"), stopping at the first
// count whose body recorded a fatal failure. A test that needs fibers running
// in parallel passes min_workers = 2 (skipping 1), and says why.
template <class F>
void for_each_worker_count(F&& body, unsigned min_workers = 1) {
  for (unsigned w : k_worker_counts) {
    if (w < min_workers) continue;
    SCOPED_TRACE("workers=" + std::to_string(w));
    body(w);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// As for_each_worker_count, running body(workers) as the main fiber of a
// gort::run with that many workers (and the rest of `cfg`).
template <class F>
void run_at_each_worker_count(F&& body, gort::config cfg = {}) {
  for_each_worker_count([&](unsigned w) {
    cfg.workers = w;
    gort::run([&] { body(w); }, cfg);
  });
}

// A seed from $GORT_TEST_SEED, else a random one. Tests print it
// (SCOPED_TRACE) so that a failure can be replayed.
inline std::uint64_t test_seed() {
  if (const char* s = std::getenv("GORT_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

inline std::string seed_note(std::uint64_t seed) {
  return "seed=" + std::to_string(seed) + " (rerun with GORT_TEST_SEED=" + std::to_string(seed) + ")";
}

// Death tests fork a process that starts threads: gtest's "threadsafe" style
// re-executes the binary instead of forking a multithreaded parent. Call it in
// each death test, not from a static initialiser, which runs before gtest's
// flags exist.
inline void threadsafe_death_tests() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }

// Sets (or, with nullptr, unsets) an environment variable for the guard's
// scope and restores the previous value, set or not, when it ends, so that a
// failing assertion cannot leak the setting into later tests.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~scoped_env() {
    if (old_)
      setenv(name_.c_str(), old_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A fiber: waits (polling the scheduler's statistics, never guessing with a
// fixed sleep) until at least `n` fibers are blocked with `reason` (the text
// of gort::stats().blocked_by_reason, e.g. "chan receive"). Throws after 15 s
// so that a hang fails the test instead of timing it out. Pass the number of
// fibers the test itself parked with that reason, not fewer: it returns once
// every one of them is queued on what it waits for.
inline void wait_blocked(const std::string& reason, std::size_t n) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (;;) {
    auto s = gort::stats();
    auto it = s.blocked_by_reason.find(reason);
    if (it != s.blocked_by_reason.end() && it->second >= n) return;
    if (std::chrono::steady_clock::now() > give_up)
      throw std::runtime_error("gave up waiting for " + std::to_string(n) + " fibers in [" + reason + "]");
    gort::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace gort_test
