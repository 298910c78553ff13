// counter: the one way gort counts events for statistics on a hot path.
#pragma once

#include <atomic>
#include <cstdint>

namespace gort::detail {

// A counter written by one thread (its owner) and read by any: the owner's
// increment is a plain load and store (no locked instruction, no shared cache
// line), readers take relaxed snapshots. Go keeps its per-P counters so.
class owned_counter {
 public:
  // The owner only.
  void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  // Any thread; a snapshot.
  std::uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

}  // namespace gort::detail
