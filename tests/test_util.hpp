// Helpers shared by the tests: worker-count sweeps, reproducible seeds,
// death-test style and scoped environment variables.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>

namespace gort_test {

// The worker counts every scheduler-sensitive test runs at (Go's -cpu=1,2,4;
// 4 oversubscribes a 2-core machine on purpose).
inline constexpr unsigned k_worker_counts[] = {1, 2, 4};

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

}  // namespace gort_test
