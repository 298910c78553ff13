// clock: gort's one time base. Every deadline, timer, idle-time count and
// trace timestamp is steady-clock nanoseconds from now_ns(); the public API's
// std::chrono::steady_clock time points are the same clock (CLOCK_MONOTONIC).
#pragma once

#include <chrono>
#include <cstdint>

namespace gort::detail {

// Any thread: steady-clock now, in nanoseconds.
std::int64_t now_ns() noexcept;

// Any thread: a steady-clock nanosecond count as the public time point type.
inline std::chrono::steady_clock::time_point as_time_point(std::int64_t ns) noexcept {
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace gort::detail
