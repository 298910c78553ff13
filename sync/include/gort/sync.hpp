// gort sync: Go's sync package for fibers. Reference: docs/api.md, "sync".
// Every blocking call parks a fiber (never its worker) and blocks
// a plain OS thread, so fibers and threads may share one primitive.
//
// Shutdown: when run() unwinds fibers still blocked on a primitive, the
// blocked call throws the runtime's internal unwind exception; the primitive
// stays usable (mutex and semaphore exactly; see shared_mutex for its gap).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>  // std::cv_status
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

#include "gort/detail/race.hpp"
#include "gort/detail/scope_exit.hpp"
#include "gort/detail/sema.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/waiter.hpp"
#include "gort/location.hpp"
#include "gort/runtime.hpp"

namespace gort {

namespace detail {
struct timer;
}

// sync.WaitGroup: wait() parks until the counter is zero.
//
// Invariants (Go's sync/waitgroup.go): state_ packs the counter (high 32
// bits, signed) and the number of waiters (low 32 bits) in one word, so the
// add() that brings the counter to zero knows in the same atomic step
// whether anyone waits. With no waiter it touches nothing more: a waiter
// that saw zero may already have destroyed the wait_group. With waiters it
// resets the word and releases one sema unit per waiter; the waiters cannot
// return (and free the object) before they got their unit.
class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  // Any thread. Adds n (may be negative). Throws std::logic_error
  // ("sync: negative WaitGroup counter") if the counter would drop below
  // zero, and std::invalid_argument if it would pass 2^31 - 1; the counter
  // is left unchanged then.
  void add(std::ptrdiff_t n = 1);
  // add(-1).
  void done() { add(-1); }
  // Any thread. Parks until the counter is zero ("sync.WaitGroup.Wait").
  void wait(location where = location::current());

 private:
  void wake_waiters(std::uint32_t w) noexcept;

  std::atomic<std::uint64_t> state_{0};
  detail::sema sema_;
};

// sync.Mutex: a Lockable mutual-exclusion lock (std::lock_guard,
// std::unique_lock and std::scoped_lock work). Not recursive; any thread or
// fiber may unlock it, as in Go.
//
// Invariants (Go's sync/mutex.go): state_ = locked bit | woken bit (a waiter
// is awake and competing, so unlock need not wake another) | starving bit
// (the lock is handed to the oldest waiter; nobody barges) | waiters << 3.
// sema_ holds one unit per wake-up granted by unlock. owner_ is the holder's
// fiber id while locked (0 for a plain thread), a relaxed hint.
class mutex {
 public:
  constexpr mutex() noexcept = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  // Any thread. Acquires the lock: a CAS, a few spins while other workers
  // run, then parks ("sync.Mutex.Lock"). A waiter that waited over 1 ms puts
  // the mutex in starvation mode and gets it handed over directly.
  void lock(location where = location::current()) { lock_as(detail::wait_reason::mutex_lock, where); }
  // Any thread. Takes the lock if it is free and not being handed over.
  bool try_lock() noexcept {
    std::int32_t old = state_.load(std::memory_order_relaxed);
    if (old & (k_locked | k_starving)) return false;
    // Acquire: pairs with the release in unlock().
    if (!state_.compare_exchange_strong(old, old | k_locked, std::memory_order_acquire,
                                        std::memory_order_relaxed))
      return false;
    detail::race_acquire(this);  // TSan: as lock()
    owner_.store(fiber_id(), std::memory_order_relaxed);
    return true;
  }
  // Any thread. Releases the lock and wakes (or hands it to) a waiter.
  // Unlocking an unlocked mutex is a fatal error ("fatal error: sync: unlock
  // of unlocked mutex", exit status 2).
  void unlock() noexcept { unlock_as(true); }
  // Any thread. The holder's fiber id (0: unlocked or held by a plain
  // thread); a racy snapshot for the deadlock detector and dumps.
  std::uint64_t owner() const noexcept { return owner_.load(std::memory_order_relaxed); }
  // For the runtime's deadlock reports (see detail::set_wait_target).
  static std::uint64_t holder_of(const void* m) noexcept;

 private:
  friend class shared_mutex;
  static constexpr std::int32_t k_locked = 1, k_woken = 2, k_starving = 4, k_waiter_shift = 3;

  // Any thread. lock() parking with reason `why`.
  void lock_as(detail::wait_reason why, const location& where) {
    std::int32_t expected = 0;
    // Acquire: pairs with the release in unlock().
    if (!state_.compare_exchange_strong(expected, k_locked, std::memory_order_acquire,
                                        std::memory_order_relaxed))
      lock_slow(why, where);
    // TSan: every unlock happens before the next lock (Go's race.Acquire;
    // stated because gort's own code, which may run this copy, is not
    // instrumented).
    detail::race_acquire(this);
    owner_.store(fiber_id(), std::memory_order_relaxed);
  }
  void lock_slow(detail::wait_reason why, const location& where);
  // unlock(); with `may_yield` false a fiber handing the lock to a starving
  // waiter does not yield to it (shared_mutex: it still has work on itself).
  void unlock_as(bool may_yield) noexcept {
    detail::race_release(this);  // TSan: pairs with lock_as()
    owner_.store(0, std::memory_order_relaxed);
    // Release: pairs with the acquiring CAS in lock()/try_lock()/lock_slow().
    std::int32_t now = state_.fetch_sub(k_locked, std::memory_order_release) - k_locked;
    if (now != 0) unlock_slow(now, may_yield);
  }
  void unlock_slow(std::int32_t now, bool may_yield) noexcept;
  void wake_one(std::int32_t old) noexcept;
  void abandon_wait(bool granted) noexcept;

  std::atomic<std::int32_t> state_{0};
  std::atomic<std::uint64_t> owner_{0};
  detail::sema sema_{0};
};

// sync.RWMutex: SharedLockable (std::shared_lock works). Writer-preferring:
// once a writer waits for lock(), new readers wait behind it.
//
// Invariants (Go's sync/rwmutex.go): w_ serialises writers. reader_count_ is
// the number of readers, minus k_max_readers while a writer holds or waits
// for the lock. reader_wait_ is the number of readers the waiting writer
// still waits for (those active when it announced itself).
// Gap: a fiber unwound at shutdown while blocked here may leave a stale unit;
// do not reuse a shared_mutex across run() calls that unwound its waiters.
class shared_mutex {
 public:
  shared_mutex() noexcept = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;

  // Any thread. Exclusive lock; parks ("sync.RWMutex.Lock") behind the other
  // writers and until the active readers left.
  void lock(location where = location::current());
  // Any thread. Exclusive lock if free of writers and readers right now.
  bool try_lock() noexcept;
  // Any thread. Releases the exclusive lock and admits the readers that
  // waited. Fatal error "sync: Unlock of unlocked RWMutex" if not locked.
  void unlock() noexcept;
  // Any thread. Shared lock; parks ("sync.RWMutex.RLock") while a writer
  // holds the lock or waits for it.
  void lock_shared(location where = location::current());
  // Any thread. Shared lock if no writer holds or waits for it.
  bool try_lock_shared() noexcept;
  // Any thread. Releases a shared lock; the last reader lets a waiting writer
  // in. Fatal error "sync: RUnlock of unlocked RWMutex" if not read-locked.
  void unlock_shared() noexcept;

 private:
  static constexpr std::int32_t k_max_readers = 1 << 30;

  mutex w_;
  detail::sema writer_sem_{0};
  detail::sema reader_sem_{0};
  std::atomic<std::int32_t> reader_count_{0};
  std::atomic<std::int32_t> reader_wait_{0};
  // unlock() calls in flight: it admits readers (and the next writer) before
  // its last touch of *this, and any of them may destroy the object at once.
  detail::releases_in_flight unlocking_;
};

// sync.Cond with std::condition_variable's interface, for
// std::unique_lock<gort::mutex>. Waiters are woken in FIFO order.
//
// Invariants: q_ (guarded by lock_) holds the waiters not yet notified or
// timed out; nwait_ is its length, changed under lock_. Whoever unlinks a
// record under lock_ (a notify or the waiter's timer) readies it, once.
class condition_variable {
 public:
  condition_variable() noexcept = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  // Any thread. Wakes the longest-waiting waiter, if any.
  void notify_one() noexcept;
  // Any thread. Wakes every current waiter.
  void notify_all() noexcept;

  // Any thread holding `lk`. Atomically unlocks and parks ("sync.Cond.Wait")
  // until notified, then relocks. Throws std::system_error
  // (operation_not_permitted) if `lk` does not own its mutex.
  void wait(std::unique_lock<mutex>& lk, location where = location::current()) { wait_ns(lk, -1, where); }
  // As wait(), until pred() holds (checked first, with the lock held).
  template <class Pred>
  void wait(std::unique_lock<mutex>& lk, Pred pred, location where = location::current()) {
    while (!pred()) wait_ns(lk, -1, where);
  }
  // As wait(), giving up after `d` (needs run() active to time out).
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<mutex>& lk, const std::chrono::duration<Rep, Period>& d,
                          location where = location::current()) {
    return wait_ns(lk, detail::deadline_after(d), where) ? std::cv_status::no_timeout
                                                         : std::cv_status::timeout;
  }
  // As wait(lk, pred) giving up after `d`; returns pred() at the end.
  template <class Rep, class Period, class Pred>
  bool wait_for(std::unique_lock<mutex>& lk, const std::chrono::duration<Rep, Period>& d, Pred pred,
                location where = location::current()) {
    return wait_until_ns(lk, detail::deadline_after(d), pred, where);
  }
  // As wait(), giving up at `t`.
  template <class Clock, class Dur>
  std::cv_status wait_until(std::unique_lock<mutex>& lk, const std::chrono::time_point<Clock, Dur>& t,
                            location where = location::current()) {
    return wait_for(lk, t - Clock::now(), where);
  }
  // As wait(lk, pred), giving up at `t`; returns pred() at the end.
  template <class Clock, class Dur, class Pred>
  bool wait_until(std::unique_lock<mutex>& lk, const std::chrono::time_point<Clock, Dur>& t, Pred pred,
                  location where = location::current()) {
    return wait_for(lk, t - Clock::now(), std::move(pred), where);
  }

 private:
  struct wait_record;

  template <class Pred>
  bool wait_until_ns(std::unique_lock<mutex>& lk, std::int64_t deadline, Pred& pred, const location& where) {
    while (!pred()) {
      if (!wait_ns(lk, deadline, where)) return pred();
    }
    return true;
  }
  // `lk` held. Waits until notified or `deadline_ns` (steady ns; -1: none);
  // false on timeout. Relocks before returning.
  bool wait_ns(std::unique_lock<mutex>& lk, std::int64_t deadline_ns, const location& where);
  static void unlock_step(void* record) noexcept;
  static void timer_fired(detail::timer* t) noexcept;
  // Readies the oldest waiter, or with `all` every waiter.
  void wake(bool all) noexcept;

  std::atomic<std::uint32_t> nwait_{0};
  detail::spinlock lock_;
  detail::wait_list q_ GORT_GUARDED_BY(lock_);
};

class once_flag;
namespace detail {
// call_once's slow path. Any thread: true if the caller must run the
// function; false once it has completed. Parks while another caller runs it.
bool once_enter(once_flag& f, const location& where);
// The runner: marks the flag done (ok) or idle again, and wakes the waiters.
void once_exit(once_flag& f, bool ok) noexcept;
}  // namespace detail

// sync.Once for call_once below.
//
// Invariants: state_ goes idle -> running -> done, or running -> idle when
// the function threw; it changes under lock_. waiters_ (guarded by lock_)
// holds the callers parked while it is running.
class once_flag {
 public:
  constexpr once_flag() noexcept = default;
  once_flag(const once_flag&) = delete;
  once_flag& operator=(const once_flag&) = delete;

 private:
  friend bool detail::once_enter(once_flag&, const location&);
  friend void detail::once_exit(once_flag&, bool) noexcept;
  template <class F, class... Args>
  friend void call_once(once_flag&, F&&, Args&&...);
  static constexpr std::uint8_t k_idle = 0, k_running = 1, k_done = 2;

  std::atomic<std::uint8_t> state_{k_idle};
  detail::spinlock lock_;
  detail::wait_list waiters_ GORT_GUARDED_BY(lock_);
};

// Any thread. Runs std::invoke(f, args...) exactly once per flag: concurrent
// callers park ("sync.Mutex.Lock") until it returned. If it throws, the
// exception propagates to that caller and a later (or waiting) caller runs it
// again, as std::call_once.
template <class F, class... Args>
void call_once(once_flag& flag, F&& f, Args&&... args) {
  // Acquire: pairs with the release store of k_done in once_exit().
  if (flag.state_.load(std::memory_order_acquire) == once_flag::k_done) {
    detail::race_acquire(&flag);  // TSan: pairs with once_exit()
    return;
  }
  if (!detail::once_enter(flag, location::current())) return;
  detail::scope_exit failed([&flag] { detail::once_exit(flag, false); });  // f threw: someone may retry
  std::invoke(std::forward<F>(f), std::forward<Args>(args)...);
  failed.release();
  detail::once_exit(flag, true);
}

// A counting semaphore (x/sync/semaphore's Weighted without a bound; the
// runtime's semacquire). Acquirers are served FIFO: a large acquire at the
// front is not bypassed by smaller ones behind it.
class semaphore {
 public:
  // Any thread. Throws std::invalid_argument if `initial` is negative.
  explicit semaphore(std::ptrdiff_t initial);
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  // Any thread. Takes n units, parking ("semacquire") until they are free
  // and every earlier acquirer was served. Throws std::invalid_argument if
  // n is negative.
  void acquire(std::ptrdiff_t n = 1, location where = location::current());
  // Any thread. Takes n units if free and nobody waits; never blocks.
  // Throws std::invalid_argument if n is negative.
  bool try_acquire(std::ptrdiff_t n = 1);
  // Any thread. Returns n units, waking waiters that now fit. Throws
  // std::invalid_argument if n is negative.
  void release(std::ptrdiff_t n = 1);
  // Any thread. Units free now (a snapshot).
  std::ptrdiff_t available() const noexcept { return std::ptrdiff_t(sema_.available()); }

 private:
  detail::sema sema_;
};

}  // namespace gort
