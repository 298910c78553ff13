// random: gort's one pseudo-random generator (wyrand: one add and one
// 64x64->128 multiply per number; passes BigCrush and PractRand). Used for
// steal order, select's case order, and the seeded schedules of
// GORT_SCHED_SEED. Not for anything that needs to be unpredictable.
#pragma once

#include <atomic>
#include <cstdint>

namespace gort::detail {

// The output function: the number that follows state `s` (already advanced).
inline std::uint64_t wyrand_mix(std::uint64_t s) noexcept {
  __uint128_t m = __uint128_t(s) * (s ^ 0xe7037ed1a0b428dbULL);
  return std::uint64_t(m >> 64) ^ std::uint64_t(m);
}
inline constexpr std::uint64_t k_wyrand_step = 0xa0761d6478bd642fULL;

// A generator owned by one thread (or guarded by its owner's lock).
class fast_rand {
 public:
  explicit fast_rand(std::uint64_t seed = 0) noexcept : s_(seed) {}
  std::uint64_t next() noexcept { return wyrand_mix(s_ += k_wyrand_step); }
  // Uniform in [0, n) (Lemire's multiply-shift), n > 0.
  std::uint64_t below(std::uint64_t n) noexcept { return std::uint64_t((__uint128_t(next()) * n) >> 64); }

 private:
  std::uint64_t s_;
};

// A generator shared by threads: one sequence, each call takes the next
// number (reproducible when the calls are in a reproducible order).
class shared_rand {
 public:
  void seed(std::uint64_t s) noexcept { s_.store(s, std::memory_order_relaxed); }
  std::uint64_t next() noexcept {
    return wyrand_mix(s_.fetch_add(k_wyrand_step, std::memory_order_relaxed) + k_wyrand_step);
  }

 private:
  std::atomic<std::uint64_t> s_{0};
};

// Any thread: the calling thread's own generator, seeded from the clock and
// the thread. Not inlined: a fiber may resume on another thread, and the
// thread_local's address must not be reused across a switch.
std::uint64_t thread_rand() noexcept;

}  // namespace gort::detail
