// worker: one OS thread that runs fibers (Go's M with its P).
//
// A fiber that parks, yields or exits switches out with a request, which is
// carried out only after its context is saved: by the worker's scheduler
// context ("g0", the thread's own stack), or, for a park or yield handed
// straight to the next local fiber (handoff()), by that fiber as it arrives
// (arrived()). That is what makes park's unlock step safe (see
// runtime/park.hpp); an exit always goes through g0, which frees the stack.
//
// Invariants:
//   - current_ is the fiber this worker is running, or null on g0. Written
//     only by this worker's thread.
//   - A fiber resumed by a jump learns its worker from the jump's data, never
//     from a cached thread_local: it may resume on another thread.
//   - Counters are written by the owner only and read by anyone (relaxed).
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include <boost/context/detail/fcontext.hpp>

#include "runtime/fiber.hpp"
#include "runtime/stack.hpp"

namespace gort::detail {

class runtime;

// Cache-line aligned: its counters and current_ are written on every switch
// and must not share a line with another worker's fields. The objects are
// adjacent on the heap; when one more counter made worker 0's last field
// (trace_, read on every switch) share a line with worker 1's counters,
// sieve at 2 workers ran 1.6x slower.
class alignas(64) worker {
 public:
  worker(runtime& rt, unsigned index);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // This worker's thread: runs fibers until the scheduler stops.
  void loop();
  // This worker's thread, on g0: switches into `f` and carries out what it
  // asked for when it switches back (Traced: recording GORT_TRACE events).
  template <bool Traced = false>
  void execute(fiber* f);

  // The running fiber only, on worker `self` (its current worker): parks the
  // fiber, switching to the next local fiber or to g0 (which carries the park
  // out after the switch). Returns the worker that resumed it.
  static worker* switch_out_park(worker* self);
  // As above, putting the fiber at the tail of the run queue; returns `self`
  // at once, without switching, when nothing else could run on it.
  static worker* switch_out_yield(worker* self);

  fiber* current() const noexcept { return current_; }

  // The running fiber only, right after it spawned: true once it has spawned
  // k_spawn_burst fibers since it last switched, at which point it should
  // yield (see fiber_start).
  bool spawn_burst_done() noexcept {
    const std::uint64_t s = switches.load(std::memory_order_relaxed);
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
  runtime& rt() const noexcept { return rt_; }
  unsigned index() const noexcept { return index_; }

  // The owner: a fresh id (ids come in batches from the runtime).
  std::uint64_t next_fiber_id() noexcept;
  // The owner: fiber objects cached by this worker.
  fiber* alloc_fiber();
  void free_fiber(fiber* f) noexcept;

  // Counters (owner writes, anyone reads). migrations: fibers switched in
  // here that last ran on another worker.
  std::atomic<std::uint64_t> switches{0}, spawned{0}, exited{0}, parks{0}, migrations{0};

 private:
  enum class request : std::uint8_t { none, park, yield, exit };
  // Parks and yields in a row handed straight to a local fiber before one
  // goes through g0 (which runs due timers).
  static constexpr std::uint32_t k_max_handoffs = 16;
  // Spawns in a row without a switch before the spawner yields.
  static constexpr std::uint32_t k_spawn_burst = 256;
  friend void fiber_entry_(void*, void*);
  void prepare_first_run(fiber* f);
  void enter(fiber* n);
  void save_eh(fiber* f) noexcept;
  void switched_out(fiber* f, void* ctx, request r) noexcept;
  static worker* handoff(worker* w, fiber* f, fiber* n, request r);
  static worker* arrived(fiber* self, boost::context::detail::transfer_t t) noexcept;
  void parked(fiber* f) noexcept;
  void yielded(fiber* f) noexcept;
  static void check_canary(fiber* f) noexcept;
  [[noreturn]] static void exit_current();
  void finish(fiber* f) noexcept;
  static worker* switch_out(worker* self, request r);

  runtime& rt_;
  const unsigned index_;
  fiber* current_ = nullptr;
  void* g0_ctx_ = nullptr;  // the scheduler context, set each time g0 switches to a fiber
  // Why the last fiber switched out: read by g0, or with handoff_from_ by
  // the fiber it handed the worker to.
  request request_ = request::none;
  fiber* handoff_from_ = nullptr;   // set by handoff(), consumed by the arriving side
  std::uint32_t handoffs_ = 0;      // owner: handoffs since the last trip through g0
  std::uint64_t spawn_mark_ = 0;    // owner: `switches` when the current spawn burst began
  std::uint32_t spawn_streak_ = 0;  // owner: spawns in the current burst
  stack_cache stacks_;
  fiber* free_fibers_ = nullptr;  // linked through sched_next
  std::size_t n_free_fibers_ = 0;
  std::uint64_t id_next_ = 0, id_end_ = 0;
  void* eh_globals_ = nullptr;  // this thread's C++ exception globals
  // Sanitizers: g0's fake stack and stack bounds (ASan), g0's context (TSan).
  void* asan_fake_stack_ = nullptr;
  const void* g0_stack_bottom_ = nullptr;
  std::size_t g0_stack_size_ = 0;
  void* tsan_g0_ = nullptr;
  std::atomic<class worker_trace*> trace_{nullptr};
};

// Any thread: the worker running on this thread, or null. Never cached by the
// compiler across a switch (an opaque call each time).
worker* worker_of_thread() noexcept;
// The runtime only: binds (or unbinds, with null) a worker to this thread.
void set_thread_worker(worker* w) noexcept;

}  // namespace gort::detail
