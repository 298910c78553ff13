// A fiber's life in the runtime: creation, start, wake-up, exit (the states
// of runtime/fiber.hpp), and the counts built on them.
#include <algorithm>
#include <new>

#include "runtime/core.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

namespace {
void free_heap_fn(fiber& f) noexcept {
  if (f.heap_fn_) {
    ::operator delete(f.heap_fn_, std::align_val_t(alignof(std::max_align_t)));
    f.heap_fn_ = nullptr;
  }
}
}  // namespace

fiber* runtime::create_fiber(worker* w, std::size_t size, std::size_t align, void** storage,
                             const location& where) {
  machine* m = machine_of_thread();
  fiber* f;
  std::uint64_t id;
  if (w) {
    f = w->alloc_fiber();
    id = w->next_fiber_id();
  } else {
    f = table_.take_one();
    id = reserve_ids(1);
  }
  // TSan: never inline, where the last fiber's callable was (its accesses,
  // unordered with ours, would be checked against the new one's): fresh
  // heap memory is new to TSan.
  if (!race_enabled && size <= fiber::k_inline_fn && align <= alignof(std::max_align_t)) {
    *storage = f->inline_fn_;
  } else {
    f->heap_fn_ = ::operator new(size, std::align_val_t(std::max(align, alignof(std::max_align_t))));
    *storage = f->heap_fn_;
  }
  fiber* creator = m ? m->current() : nullptr;
  f->id_ = id;
  f->creator_id_ = creator ? creator->id_ : 0;
  f->created_at_ = where;
  f->blocked_at_ = where;
  f->is_main_ = false;
  f->abandoned_ = false;
  f->unwinds_ = 0;
  f->system_ = false;
  f->reason_.store(wait_reason::none, std::memory_order_relaxed);
  return f;
}

void runtime::discard_fiber(worker* w, fiber* f) noexcept {
  free_heap_fn(*f);
  f->state_.store(fiber_state::free, std::memory_order_relaxed);
  if (w) {
    w->free_fiber(f);
  } else {
    table_.put_free(f, f);
  }
}

// A new fiber goes to the spawner's runnext and, unlike a woken one, wakes
// an idle worker even alone there (`go f(); compute();` runs f in parallel).
void runtime::start_fiber(worker* w, fiber* f, fiber_fn* fn) noexcept {
  f->fn_ = fn;
  f->state_.store(fiber_state::runnable, std::memory_order_relaxed);
  if (w) {
    w->spawned.add();
    sched_.push_local(w->index(), f, place::next, /*wake_alone=*/true);
  } else {
    foreign_spawned_.fetch_add(1, std::memory_order_relaxed);
    sched_.push_global(f);
  }
}

// Cache affinity of wake-ups: a fiber that last ran on this worker goes to
// runnext, as in Go. One that last ran on another worker takes
// runnext only if it is free: it does not displace a fiber woken here, whose
// stack is in this core's cache, while its own stack is in another's. Without
// this rule two workers running one pipeline fall into lockstep, each waking
// and running the stages the other just ran, so that almost every switch
// pulled a stack across cores (sieve at 2 workers: 40-80 % of switches were
// such migrations; now ~1 %, median time per prime 36 -> 31 us, and single
// runs no longer reach 60). docs/architecture.md has the measurements.
void runtime::ready(fiber* f, worker* w) noexcept {
  f->state_.store(fiber_state::runnable, std::memory_order_relaxed);
  if (!w) {
    sched_.push_global(f);
    return;
  }
  const unsigned here = w->index();  // only this runtime's workers exist while it runs
  sched_.push_local(here, f, f->last_worker_ == here ? place::next : place::next_if_free);
}

void runtime::fiber_exited(worker* w, fiber& f) noexcept {
  free_heap_fn(f);
  f.fn_ = nullptr;
  if (w)
    w->exited.add();
  else
    foreign_exited_.fetch_add(1, std::memory_order_relaxed);
  // is_main_ and system_ are only read here (reports of running fibers read
  // them too); create_fiber resets them when the object is reused.
  const bool main = f.is_main_;
  if (f.system_) system_live_.fetch_sub(1, std::memory_order_relaxed);
  f.state_.store(fiber_state::free, std::memory_order_relaxed);
  if (w)
    w->free_fiber(&f);
  else
    table_.put_free(&f, &f);
  if (main) stop();  // shutdown step 1
}

// Shutdown step 4: a fiber that never ran is dropped without running.
void runtime::discard_unstarted(worker& w0, fiber& f) noexcept {
  // TSan: the callable is the user's, made by its creator: destroyed as
  // the user's code (g0's ignores closed), after the creator's acts.
  race_ignore_end();
  f.race_edge_.take();
  f.fn_->destroy(f.fn_);
  race_ignore_begin();
  free_heap_fn(f);
  f.fn_ = nullptr;
  f.state_.store(fiber_state::free, std::memory_order_relaxed);
  w0.exited.add();
}

void runtime::mark_system(fiber& f) noexcept {
  if (f.system_) return;
  f.system_ = true;
  system_live_.fetch_add(1, std::memory_order_relaxed);
}

std::size_t runtime::live_fibers() const noexcept {
  std::uint64_t spawned = foreign_spawned_.load(std::memory_order_relaxed);
  std::uint64_t exited = foreign_exited_.load(std::memory_order_relaxed);
  for (const auto& w : workers_) {
    spawned += w->spawned.load();
    exited += w->exited.load();
  }
  exited += system_live_.load(std::memory_order_relaxed);  // service fibers do not count
  return spawned > exited ? std::size_t(spawned - exited) : 0;
}

// ---- gort/detail/fiber_start.hpp -------------------------------------------

namespace {
// Throws std::logic_error("<what>: no gort::run() is active") if `rt` is null.
void running(runtime* rt, const char* what) {
  if (!rt) throw std::logic_error(std::string(what) + ": no gort::run() is active");
}
}  // namespace

fiber* fiber_create(std::size_t size, std::size_t align, void** storage, const location& where) {
  return with_runtime([&](runtime* rt, worker* w) {
    if (!w) {
      running(rt, "gort::go");
      if (rt->stopping()) throw std::logic_error("gort::go: the runtime is shutting down");
    }
    return rt->create_fiber(w, size, align, storage, where);
  });
}

void fiber_discard(fiber* f) noexcept {
  with_runtime([f](runtime* rt, worker* w) {
    if (rt) rt->discard_fiber(w, f);
  });
}

// A fiber that spawns k_spawn_burst fibers in a row without switching yields
// once: gort has no preemption, so without it a spawn loop would queue every
// child (a million-fiber loop: a million fiber objects, 340 MB) before any
// ran. Go gets the same effect from preempting the spawner every 10 ms. The
// children just spawned run first; not while the runtime unwinds (a yield
// while it stops is an ordinary one).
void fiber_start(fiber* f, fiber_fn* fn) noexcept {
  // TSan: what the creator did so far (the callable included) happens
  // before the fiber starts (taken in fiber_entry_).
  if constexpr (race_enabled) {
    if (race_user_context()) f->race_edge_.publish();
  }
  const bool yield = with_runtime([f, fn](runtime* rt, worker* w) {
    if (!rt) return false;
    rt->start_fiber(w, f, fn);
    return w && machine_of_thread()->current() && w->spawn_burst_done() && !rt->unwinding();
  });
  if (yield) machine::switch_out_yield(machine_of_thread());
}

void require_running(const char* what) {
  with_runtime([what](runtime* rt, worker*) { running(rt, what); });
}

}  // namespace gort::detail

namespace gort {

std::uint64_t fiber_id() noexcept {
  detail::machine* m = detail::machine_of_thread();
  detail::fiber* f = m ? m->current() : nullptr;
  return f ? f->id_ : 0;
}

std::size_t num_fibers() noexcept {
  return detail::with_runtime(
      [](detail::runtime* rt, detail::worker*) -> std::size_t { return rt ? rt->live_fibers() : 0; });
}

unsigned num_workers() noexcept {
  return detail::with_runtime(
      [](detail::runtime* rt, detail::worker*) -> unsigned { return rt ? rt->worker_count() : 0; });
}

}  // namespace gort
