// park / ready: the one mechanism by which anything in gort blocks and wakes
// (Go's gopark / goready). Channels, select, sync, timers and sockets are all
// built on it; none of them touches run queues or contexts directly.
//
// Protocol:
//   1. A blocking primitive takes its own lock, decides it must wait, links a
//      waiter record naming self() into its queue, and calls park(lock, ...).
//   2. park() switches the fiber out and only then, on the other side of the
//      switch (g0, or the fiber handed the worker), releases the lock. From that moment a waker may find the
//      record, and the fiber's context is already saved: no waker can resume
//      a fiber that has not finished switching out.
//   3. A waker takes the lock, unlinks the record and calls ready(f) exactly
//      once for that park. Every park is paired with a single ready.
//   4. On a plain OS thread (not a fiber) the same calls block that thread on
//      a futex instead, so threads and fibers interoperate.
//
// Shutdown: when run() returns with fibers still parked, each is resumed once
// more and park() throws fiber_unwind so that its stack unwinds (destructors
// run). A primitive must therefore unlink its waiter record when park()
// throws: guard the park with unlink_on_unwind (gort/detail/intrusive_fifo.hpp),
// which unlinks a record still linked, under the lock. User code that catches
// fiber_unwind and parks (or yields) again gets it again at once; after
// k_max_unwinds such catches the process ends with a fatal error (park.cpp).
#pragma once

#include <atomic>
#include <cstdint>

#include "gort/detail/fiber_start.hpp"  // fiber_unwind
#include "gort/detail/race.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/wait_reason.hpp"
#include "gort/location.hpp"

namespace gort::detail {

struct fiber;

// Any thread. The calling fiber, or this OS thread's stand-in record when
// called outside a fiber. Never null.
fiber* self() noexcept;

// Any thread. Blocks the caller until ready(self()) is called. `lock` must be
// held; it is released after the caller has switched out. Records `why` and
// `where` for deadlock reports, dumps and stats.
void park(spinlock& lock, wait_reason why, const location& where) GORT_RELEASE(lock);
// As above with a custom unlock step: `unlock(arg)` runs after the switch.
void park(void (*unlock)(void*), void* arg, wait_reason why, const location& where);

// Any thread. Makes `f`, parked (or about to park) by a protocol that pairs
// this call with its park, runnable again. From a worker the fiber goes to
// that worker's runnext slot: it runs next and inherits the time slice (if it
// last ran on another worker, only when the slot is free; see runtime::ready).
void ready(fiber* f) noexcept;

// TSan only (no code otherwise; gort/detail/race.hpp): a channel's partners
// are ordered both ways, as in Go. Before it parks on a channel the caller
// publishes what it did so far (race_publish_self); the partner that takes
// its record takes that edge (race_take_from, lock held), and the partner's
// ready() hands its own acts back.
void race_publish_self_slow() noexcept;
void race_take_from_slow(fiber* f) noexcept;
inline void race_publish_self() noexcept {
  if constexpr (race_enabled) race_publish_self_slow();
}
inline void race_take_from([[maybe_unused]] fiber* f) noexcept {
  if constexpr (race_enabled) race_take_from_slow(f);
}

// Any thread, before waiting for a lock: records what the caller is about to
// wait for, so that deadlock reports can name the holder ("held by goroutine
// N") and GORT_DEADLOCK=partial can follow chains of waiting fibers.
// `holder(obj)` returns the fiber id holding obj (0: none or unknown). Clear
// with set_wait_target(nullptr, nullptr) once the wait is over.
void set_wait_target(const void* obj, std::uint64_t (*holder)(const void*)) noexcept;

// GORT_SCHED_SEED: true while a seeded runtime injects yields.
extern std::atomic<bool> g_sched_chaos;
void chaos_yield();
// A synchronisation point (channel operations, sync primitives): under
// GORT_SCHED_SEED a fiber may yield here, at seeded random, so that a failing
// interleaving can be replayed. Otherwise one relaxed load. Call it with no
// lock held.
inline void sched_point() {
  if (g_sched_chaos.load(std::memory_order_relaxed)) [[unlikely]]
    chaos_yield();
}

// Any thread: true when the caller is a fiber's own code, which may switch
// out. False on a plain OS thread and on the runtime's side of a switch: g0,
// and a park's unlock step, which runs in the context of the fiber the
// machine was handed to (see machine::arrived()) and must never switch.
bool in_fiber() noexcept;

// The calling fiber only (a no-op elsewhere): marks it as one of the
// runtime's service fibers (gort::debug's server, signal delivery), as Go
// treats its system goroutines: num_fibers() does not count it, its parks
// and I/O waits never keep the deadlock check from reporting the user's
// fibers, and dumps mark it (`[IO wait, system]`). Call it before the
// fiber's first park.
void mark_system_fiber() noexcept;

// Any thread, in pairs (+1, then -1). While the sum is positive, something
// outside the program's fibers may still wake one of them (a registered
// gort::signal notification: a signal sends on a channel or cancels a
// context), so the deadlock check stays quiet, as Go's does once
// signal.Notify is in use. The service fiber that delivers the signals
// hides nothing by itself.
void external_wakers_add(long delta) noexcept;

}  // namespace gort::detail
