// worker: a processor (Go's P), the right to run fibers taken from queues.
// A worker has a slot in the scheduler (its local run queue and runnext, by
// index), a timer heap (the runtime's heaps_[index]), caches of stacks, fiber
// objects and ids, its counters and its trace buffer. It has no thread of its
// own: a machine (runtime/machine.hpp, Go's M) owns it and runs fibers with
// it, and the monitor may hand it to another machine when the fiber running
// on it holds its thread too long (docs/architecture.md, "Handoffs").
//
// Invariants:
//   - owner_ names the machine that owns the worker, or k_retaking while the
//     monitor decides whether to take it (never null during a run: a worker
//     is owned by a running, idle or spare-bound machine at all times).
//   - Only the owner touches the owner-only state below (caches, counter
//     writes, the owner side of its run queue, the trace buffer), and only on
//     g0 or inside a runtime section (machine::enter_runtime); the one
//     exception is the monitor during a handoff, when it holds owner_ as
//     k_retaking and the old owner is outside any section.
//   - Counters are written by the owner only and read by anyone (relaxed).
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/fiber.hpp"
#include "runtime/stack.hpp"
#include "scheduler/counter.hpp"

namespace gort::detail {

class runtime;
class machine;
class fiber_table;

// Cache-line aligned: its counters are written on every switch and must not
// share a line with another worker's fields. The objects are adjacent on the
// heap; when one more counter made worker 0's last field (trace_, read on
// every switch) share a line with worker 1's counters, sieve at 2 workers ran
// 1.6x slower.
class alignas(64) worker {
 public:
  // The runtime's parts this worker uses: the shared stack pool and the
  // fiber table behind its caches.
  worker(runtime& rt, stack_allocator& stacks, fiber_table& table, unsigned index);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  runtime& rt() const noexcept { return rt_; }
  unsigned index() const noexcept { return index_; }

  // Any thread: the machine that owns it now (k_retaking during a handoff).
  // Acquire: pairs with the release store that hands the worker over, so the
  // new owner sees the old owner's (and the monitor's) writes.
  machine* owner() const noexcept { return owner_.load(std::memory_order_acquire); }
  // A marker for owner_ while the monitor decides (never dereferenced).
  static machine* const k_retaking;

  // The owner: a fresh id (ids come in batches from the runtime).
  std::uint64_t next_fiber_id() noexcept;
  // The owner: fiber objects and stacks cached by this worker.
  fiber* alloc_fiber();
  void free_fiber(fiber* f) noexcept;
  stack_mem get_stack() { return stacks_.get(stack_pool_); }
  void put_stack(stack_mem s) noexcept { stacks_.put(stack_pool_, s); }
  // At the end of a run (no machine left): gives the cached stacks back.
  void drain_stacks() noexcept { stacks_.drain(stack_pool_); }

  // The owner, right after its fiber spawned: true once the fiber has spawned
  // k_spawn_burst fibers since it last switched, at which point it should
  // yield (see fiber_start).
  bool spawn_burst_done() noexcept {
    const std::uint64_t s = switches.load();
    if (s != spawn_mark_) {
      spawn_mark_ = s;
      spawn_streak_ = 0;
    }
    return ++spawn_streak_ >= k_spawn_burst;
  }
  // Any thread: record this worker's events into `t` (its ring), or stop
  // with null (GORT_TRACE, live captures; see runtime/trace.hpp).
  void set_trace(class worker_trace* t) noexcept { trace_.store(t, std::memory_order_release); }
  // Acquire: pairs with set_trace(), so the ring it publishes is seen whole.
  class worker_trace* trace() const noexcept {
    return trace_.load(std::memory_order_acquire);
  }

  // Counters (owner writes, anyone reads). migrations: fibers switched in
  // here that last ran on another worker. handoffs: times the monitor moved
  // this worker away from a machine whose fiber held it too long.
  owned_counter switches, spawned, exited, parks, migrations, handoffs;

 private:
  friend class machine;
  friend class runtime;
  // Spawns in a row without a switch before the spawner yields.
  static constexpr std::uint32_t k_spawn_burst = 256;

  runtime& rt_;
  stack_allocator& stack_pool_;
  fiber_table& table_;
  const unsigned index_;
  std::atomic<machine*> owner_{nullptr};
  std::uint32_t handoffs_in_row_ = 0;  // owner: parks/yields handed straight to a local fiber since g0
  std::uint64_t spawn_mark_ = 0;       // owner: `switches` when the current spawn burst began
  std::uint32_t spawn_streak_ = 0;     // owner: spawns in the current burst
  stack_cache stacks_;
  fiber* free_fibers_ = nullptr;  // linked through sched_next
  std::size_t n_free_fibers_ = 0;
  std::uint64_t id_next_ = 0, id_end_ = 0;
  std::atomic<class worker_trace*> trace_{nullptr};
};

}  // namespace gort::detail
