// fiber_table: every fiber object of a run, in chunks that never move.
//
// Invariants:
//   - Every fiber object ever allocated during a run is in a chunk until the
//     runtime is destroyed, so a scan (dumps, the deadlock check, shutdown)
//     never reads freed memory.
//   - The chunks form a plain linked list, newest first, so that the gdb
//     extension (tools/gdb/gort.py) and the SIGQUIT handler can walk it; a
//     chunk is only ever prepended (one release store of chunks_).
//   - chunks_ (for writers) and free_ are guarded by lock_.
#pragma once

#include <atomic>
#include <cstddef>

#include "gort/detail/spinlock.hpp"
#include "runtime/fiber.hpp"

namespace gort::detail {

class fiber_table {
 public:
  fiber_table() = default;
  fiber_table(const fiber_table&) = delete;
  fiber_table& operator=(const fiber_table&) = delete;
  ~fiber_table();

  // Any thread: `n` fresh objects linked through sched_next.
  fiber* allocate_chunk(std::size_t n);
  // Any thread: gives back a batch of free objects (a list from head to tail).
  void put_free(fiber* head, fiber* tail) noexcept;
  // Any thread: up to `max` free objects as a list; *got says how many.
  fiber* take_free(std::size_t max, std::size_t& got) noexcept;
  // Any thread without a worker: one object (fresh or free).
  fiber* take_one();
  // Any thread: calls fn(fiber&) for every object (free ones included).
  template <class F>
  void for_each(F&& fn) {
    locked g(lock_);
    for (chunk* c = chunks_.load(std::memory_order_relaxed); c; c = c->next)
      for (std::size_t i = 0; i < c->n; ++i) fn(c->items[i]);
  }
  // Signal handlers: the same walk without the lock. Acquire: pairs with the
  // release store that prepends a chunk, so a chunk seen is complete.
  template <class F>
  void for_each_unlocked(F&& fn) const {
    for (chunk* c = chunks_.load(std::memory_order_acquire); c; c = c->next)
      for (std::size_t i = 0; i < c->n; ++i) fn(c->items[i]);
  }

 private:
  struct chunk {
    chunk* next;
    std::size_t n;
    fiber* items;
  };
  spinlock lock_;
  std::atomic<chunk*> chunks_{nullptr};  // newest first; written under lock_
  fiber* free_ GORT_GUARDED_BY(lock_) = nullptr;
};

}  // namespace gort::detail
