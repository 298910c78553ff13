// gort::mutex slow paths: Go's sync/mutex.go on the shared sema.
//
// Invariants (state_, see also gort/sync.hpp):
//   - Normal mode: waiters queue FIFO in sema_, but a woken waiter competes
//     with newly arriving lockers (who usually win: they are running). A
//     waiter that lost requeues at the front (lifo).
//   - A waiter that waited more than k_starvation_ns sets the starving bit
//     (only the one woken waiter can: new arrivals are never starving). Then
//     unlock hands the lock to the queue's front waiter without setting the
//     locked bit; the receiver sets it. Nobody barges or spins meanwhile.
//   - Starvation mode ends when the receiving waiter is the last one or
//     waited less than k_starvation_ns.
//   - At most one waiter is "woken" (owns the woken bit): a spinner that set
//     it, or the waiter that unlock woke. It clears the bit with the CAS by
//     which it takes the lock or requeues; while it is set unlock wakes nobody.
#include <cstdint>

#include "gort/sync.hpp"
#include "runtime/fatal.hpp"
#include "runtime/park.hpp"
#include "scheduler/futex.hpp"

namespace gort {

namespace {
constexpr std::int64_t k_starvation_ns = 1'000'000;  // Go's starvationThresholdNs
constexpr int k_spin_iters = 4;                      // Go's active_spin
constexpr int k_spin_pauses = 30;                    // Go's active_spin_cnt

void spin_pause() noexcept {
  for (int i = 0; i < k_spin_pauses; ++i) detail::cpu_relax();
}
}  // namespace

// For deadlock reports: the fiber holding mutex `m` (0 if unlocked or held
// by a plain thread).
std::uint64_t mutex::holder_of(const void* m) noexcept { return static_cast<const mutex*>(m)->owner(); }

// Any thread; lock_as() after its CAS failed.
void mutex::lock_slow(detail::wait_reason why, const location& where) {
  std::int64_t wait_start = 0;
  bool starving = false;  // we waited longer than k_starvation_ns
  bool awoke = false;     // we own the woken bit
  int iter = 0;
  // Spinning pays only if the holder runs on another worker at the same time.
  // Without a scheduler hook for "other workers are busy", spin whenever
  // there is more than one worker (Go also requires an idle-free machine).
  const bool may_spin = num_workers() > 1;
  std::int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Locked in normal mode: spin a little, the holder may be about to unlock.
    if ((old & (k_locked | k_starving)) == k_locked && may_spin && iter < k_spin_iters) {
      // Take the woken bit so that unlock does not wake a parked waiter that
      // would only compete with us.
      if (!awoke && !(old & k_woken) && (old >> k_waiter_shift) != 0 &&
          state_.compare_exchange_strong(old, old | k_woken, std::memory_order_relaxed))
        awoke = true;
      spin_pause();
      ++iter;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    std::int32_t next = old;
    if (!(old & k_starving)) next |= k_locked;  // never barge in starvation mode
    if (old & (k_locked | k_starving)) next += 1 << k_waiter_shift;
    // Switch to starvation mode, but only if someone holds it: unlock expects
    // waiters in starvation mode.
    if (starving && (old & k_locked)) next |= k_starving;
    if (awoke) {
      if (!(next & k_woken)) detail::fatal("sync: inconsistent mutex state");
      next &= ~k_woken;
    }
    // Acquire: pairs with the release in unlock() when this takes the lock.
    if (!state_.compare_exchange_weak(old, next, std::memory_order_acquire, std::memory_order_relaxed))
      continue;                                    // `old` reloaded
    if (!(old & (k_locked | k_starving))) return;  // we took it
    // Queued as a waiter: park. A waiter that already waited requeues first.
    const bool lifo = wait_start != 0;
    if (!wait_start) wait_start = detail::now_ns();
    bool granted = false;
    // Deadlock reports name the holder; GORT_DEADLOCK=partial follows it.
    detail::set_wait_target(this, &holder_of);
    try {
      sema_.acquire(1, why, where, lifo, &granted);
    } catch (...) {
      detail::set_wait_target(nullptr, nullptr);
      abandon_wait(granted);  // unwinding at exit: leave the state consistent
      throw;
    }
    detail::set_wait_target(nullptr, nullptr);
    starving = starving || detail::now_ns() - wait_start > k_starvation_ns;
    old = state_.load(std::memory_order_relaxed);
    if (old & k_starving) {
      // Handed over to us (the sema grant made the unlocker's writes visible).
      if ((old & (k_locked | k_woken)) || (old >> k_waiter_shift) == 0)
        detail::fatal("sync: inconsistent mutex state");
      std::int32_t delta = k_locked - (1 << k_waiter_shift);
      // Leave starvation mode if we are the last waiter or did not starve.
      if (!starving || (old >> k_waiter_shift) == 1) delta -= k_starving;
      state_.fetch_add(delta, std::memory_order_relaxed);
      return;
    }
    awoke = true;  // unlock gave us the woken bit
    iter = 0;
  }
}

// Any thread; unlock() when the state was not plainly "locked". `now` is the
// state after clearing the locked bit.
void mutex::unlock_slow(std::int32_t now, bool may_yield) noexcept {
  if (((now + k_locked) & k_locked) == 0) detail::fatal("sync: unlock of unlocked mutex");
  if (now & k_starving) {
    // Hand the lock to the front waiter and (may_yield) let it run now; it
    // sets the locked bit itself, and nobody barges meanwhile (starving bit).
    sema_.release(1, /*handoff=*/may_yield);
    return;
  }
  wake_one(now);
}

// Any thread (also a worker's scheduler stack, via condition_variable).
// Normal mode: wakes one waiter unless nobody waits, someone is already
// awake, or the lock was taken again (its holder will wake one).
void mutex::wake_one(std::int32_t old) noexcept {
  for (;;) {
    if ((old >> k_waiter_shift) == 0 || (old & (k_locked | k_woken | k_starving))) return;
    std::int32_t next = (old - (1 << k_waiter_shift)) | k_woken;
    if (state_.compare_exchange_weak(old, next, std::memory_order_relaxed)) {
      // The sema's seq_cst release publishes our critical section to the
      // waiter's acquire.
      sema_.release(1, false);
      return;
    }
  }
}

// A waiter being unwound at runtime shutdown (it will never take the lock).
// `granted`: unlock had already woken it (normal mode: it owns the woken
// bit) or handed it the lock (starvation mode).
void mutex::abandon_wait(bool granted) noexcept {
  std::int32_t old = state_.load(std::memory_order_relaxed);
  if (!granted) {
    // Still counted as a waiter: uncount ourselves.
    for (;;) {
      std::int32_t next = old - (1 << k_waiter_shift);
      if ((next >> k_waiter_shift) == 0) next &= ~k_starving;
      if (state_.compare_exchange_weak(old, next, std::memory_order_relaxed)) return;
    }
  }
  if (old & k_starving) {
    // We own the lock by handoff: take it properly, then pass it on.
    std::int32_t delta = k_locked - (1 << k_waiter_shift);
    if ((old >> k_waiter_shift) == 1) delta -= k_starving;
    state_.fetch_add(delta, std::memory_order_acquire);
    unlock();
    return;
  }
  // Give up the woken bit, then wake another waiter if one is needed.
  old = state_.fetch_and(~k_woken, std::memory_order_relaxed) & ~k_woken;
  wake_one(old);
}

}  // namespace gort
