// scheduler: where runnable nodes wait and how idle worker threads find them
// (Go's runqput/findRunnable/wakep/stopm, folded into one place).
//
// It knows nothing of fibers or stacks: it moves sched_node pointers between
// per-worker run queues and the inject queue, and puts worker threads to sleep
// and wakes them. The runtime supplies timers and the deadlock check through
// sched_hooks.
//
// Invariants:
//   - n_spinning_ counts workers looking for work without having found it;
//     it is at most the number of workers, and a woken worker starts spinning
//     (the waker counts it) so that at most one wake-up is in flight at a time.
//   - n_idle_ equals the size of idle_stack_; both change only under idle_lock_,
//     and idle_epoch_ grows by one each time a worker leaves the stack.
//   - A worker on idle_stack_ is asleep on its parker or about to be; whoever
//     pops it from the stack notifies its parker exactly once.
//   - At most one idle worker holds the poller role (poller_); it sleeps with
//     a deadline equal to the earliest pending timer, so timers fire while
//     every worker is idle. The others sleep without a deadline.
//   - No lost wake-up: a producer pushes work, then (seq_cst) reads n_idle_
//     and n_spinning_; a worker going idle registers (seq_cst) in n_idle_,
//     then re-reads every queue. One of the two sees the other.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>
#include <vector>

#include "gort/detail/spinlock.hpp"
#include "scheduler/counter.hpp"
#include "scheduler/futex.hpp"
#include "scheduler/inject_queue.hpp"
#include "scheduler/random.hpp"
#include "scheduler/run_queue.hpp"

namespace gort::detail {

// What the runtime provides to the scheduler.
class sched_hooks {
 public:
  // Worker `w` only: runs expired timers of worker `victim` (its own, or
  // another's when stealing). May push nodes through the scheduler. The
  // scheduler calls it for its own worker only when the word given to
  // set_timer_hint() says a timer is pending.
  virtual void run_timers(unsigned w, unsigned victim) = 0;
  // Any worker: earliest timer deadline over all workers, -1 if none.
  virtual std::int64_t next_timer_deadline() = 0;
  // Worker `w`, no lock held, right after it found every worker idle and
  // every queue empty (as of `idle_epoch`, see confirm_all_idle). The runtime
  // decides whether that is a deadlock. It must not block.
  virtual void all_idle(unsigned w, std::uint64_t idle_epoch) = 0;
  // Worker `w`, no lock held, about to sleep: housekeeping that should not
  // slow busy workers down (the runtime gives back excess stack memory).
  virtual void going_idle(unsigned w) = 0;
  // Worker `w`, no lock held, just woken from sleep (the runtime's monitor
  // may be asleep waiting for a worker to get busy).
  virtual void left_idle(unsigned w) = 0;
  // Any worker: are descriptors registered with the network poller?
  virtual bool netpoll_active() = 0;
  // Worker `w`: waits for I/O until `deadline_ns` (-1: no deadline, 0: just
  // look), readying the fibers whose descriptors became ready.
  virtual void netpoll(unsigned w, std::int64_t deadline_ns) = 0;
  // Any thread: makes a netpoll() blocked in the kernel return.
  virtual void netpoll_interrupt() = 0;

 protected:
  ~sched_hooks() = default;
};

// Where push_local puts a node on its worker's queue.
enum class place : std::uint8_t {
  tail,          // the ring's tail (a yield: everything else runs first)
  next,          // runnext; the node it displaces goes to the tail
  next_if_free,  // runnext if it is empty, else the tail (never displaces)
};

class scheduler {
 public:
  scheduler(unsigned workers, sched_hooks& hooks);
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  unsigned size() const noexcept { return unsigned(slots_.size()); }

  // Worker `w` only. Queues `n` on w's own queue, `where` says where. Wakes an
  // idle worker if work may now be stealable: a node pushed to the ring or
  // displaced from runnext; with `wake_alone`, also a node alone in runnext
  // (new work: the woken worker takes it if w keeps running its fiber past
  // the runnext grace period).
  inline void push_local(unsigned w, sched_node* n, place where, bool wake_alone = false) noexcept;
  // Any thread. Queues `n` on the inject queue and wakes an idle worker.
  void push_global(sched_node* n) noexcept;

  // Worker `w` only: would a yield on w let anything else run? (Its own
  // queue, the inject queue, or a due timer; other workers' queues belong to
  // other workers.)
  bool yield_useful(unsigned w) const noexcept {
    const slot& me = *slots_[w];
    return !me.queue.empty() || !inject_.empty() || me.timers_pending();
  }

  // Worker `w` only. Returns the next node to run, sleeping while there is
  // none. nullptr once stop() was called.
  sched_node* find_runnable(unsigned w) noexcept;

  // Any thread. Called when a timer is added with deadline `when_ns`: wakes the
  // sleeping poller if it would sleep past it.
  void timer_added(std::int64_t when_ns) noexcept;

  // Before the workers start: `earliest` is worker w's earliest timer
  // deadline (INT64_MAX when it has none), read relaxed on every schedule.
  void set_timer_hint(unsigned w, const std::atomic<std::int64_t>* earliest) noexcept {
    slots_[w]->timer_hint = earliest;
  }

  // Worker `w` only, from its running fiber about to switch out: the node to
  // switch to directly, without a trip through find_runnable. A park takes
  // w's runnext; a yield (`whole_queue`) takes runnext, else the ring's head.
  // It counts as a schedule like one of find_runnable's (tick, runnext
  // streak, inject-queue countdown), and declines (nullptr) where that one
  // would do something else: the inject queue's turn, or runnext having
  // had its streak while the ring waits. nullptr too when there is nothing,
  // when stopping, or under a seeded random schedule.
  inline sched_node* take_for_handoff(unsigned w, bool whole_queue) noexcept;

  // Before the workers start, 1-worker schedulers only: pick the next node
  // pseudo-randomly among all runnable ones, from `seed` (GORT_SCHED_SEED).
  void set_random_schedule(std::uint64_t seed) noexcept {
    seeded_ = true;
    seeded_rand_ = fast_rand(seed);
  }

  // Any thread: makes the idle poller (if any) wake and re-evaluate how it
  // sleeps (for instance, because descriptors now need epoll).
  void wake_poller() noexcept {
    int p = poller_.load(std::memory_order_seq_cst);
    if (p >= 0) notify(unsigned(p));
  }

  // Any thread. Makes every find_runnable return nullptr, now and later.
  void stop() noexcept;
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  // Any thread; snapshots for statistics and the deadlock check.
  std::size_t local_size(unsigned w) const noexcept { return slots_[w]->queue.size(); }
  std::size_t global_size() const noexcept { return inject_.size(); }
  unsigned idle_count() const noexcept { return n_idle_.load(std::memory_order_relaxed); }
  unsigned spinning_count() const noexcept { return n_spinning_.load(std::memory_order_relaxed); }
  std::uint64_t steals(unsigned w) const noexcept { return slots_[w]->steals.load(); }
  std::uint64_t steal_attempts(unsigned w) const noexcept { return slots_[w]->steal_attempts.load(); }
  std::uint64_t wakeups(unsigned w) const noexcept { return slots_[w]->wakeups.load(); }
  std::int64_t idle_ns(unsigned w) const noexcept;
  // Any thread (inside sched_hooks::all_idle): true if every worker has
  // stayed idle and every queue empty since all_idle was called with
  // `idle_epoch` (no worker has left the idle stack since).
  bool confirm_all_idle(std::uint64_t idle_epoch) noexcept;
  // Any thread, no lock held: if every worker is idle and every queue
  // empty, calls sched_hooks::all_idle as the last worker to sleep does
  // (for a change the runtime knows makes that snapshot worth judging again,
  // e.g. a fiber held outside every worker has just parked).
  void recheck_all_idle() noexcept;
  // Any thread: worker w's schedule count (changes with every schedule;
  // a worker whose count stands still runs one fiber).
  std::uint32_t tick_of(unsigned w) const noexcept { return slots_[w]->tick_pub.load(std::memory_order_relaxed); }

 private:
  // runnext picks in a row (handoffs included) before the ring gets a turn,
  // so two fibers that keep waking each other cannot starve it. Generous on
  // purpose: a pipeline walking its stages through runnext keeps their stacks
  // in cache (sieve at 1 worker: 15 % slower with 32), and Go lets such a
  // chain run for its whole 10 ms time slice.
  static constexpr std::uint32_t k_max_next_streak = 512;

  struct slot {
    run_queue queue;
    parker park;
    std::uint32_t tick = 0;                  // owner only: schedule count (for fairness)
    std::atomic<std::uint32_t> tick_pub{0};  // tick, published for thieves (relaxed)
    std::uint32_t next_streak = 0;           // owner only: runnext picks in a row
    std::uint32_t global_countdown = 61;     // owner only: schedules until the inject queue goes first
    const std::atomic<std::int64_t>* timer_hint = nullptr;
    bool timers_pending() const noexcept {
      return timer_hint && timer_hint->load(std::memory_order_relaxed) != INT64_MAX;
    }
    fast_rand rng;          // owner only: steal-order randomness
    bool spinning = false;  // owner only
    // True while the owner is (about to be) blocked in netpoll; a waker that
    // sees it must interrupt the poll as well as notify the parker.
    std::atomic<bool> in_netpoll{false};
    // Counters: written by the owner only, read by anyone (relaxed).
    owned_counter steals, steal_attempts, wakeups;
    std::atomic<std::int64_t> idle_total_ns{0}, idle_since_ns{0};  // idle_since 0: awake
  };

  sched_node* find_local(slot& me) noexcept;
  inline sched_node* take_next_fair(slot& me) noexcept;
  sched_node* steal_work(unsigned w) noexcept;
  sched_node* found(slot& me, sched_node* n) noexcept;
  bool work_visible(unsigned w) const noexcept;
  void wake_one() noexcept;
  // A busy worker: may it look at the network now? (see scheduler.cpp)
  bool busy_poll_due() noexcept;
  void push_overflow(slot& me, sched_node* n) noexcept;
  bool idle_remove(unsigned w) noexcept;
  bool all_queues_empty() const noexcept;
  void idle_pop(unsigned w) noexcept GORT_REQUIRES(idle_lock_);
  void sleep(unsigned w) noexcept;
  void notify(unsigned v) noexcept;

  bool seeded_ = false;  // GORT_SCHED_SEED, 1 worker: seeded_rand_ picks the next node
  fast_rand seeded_rand_;
  sched_hooks& hooks_;
  std::vector<std::unique_ptr<slot>> slots_;
  inject_queue inject_;
  std::atomic<bool> stopping_{false};
  alignas(64) std::atomic<unsigned> n_spinning_{0};
  alignas(64) std::atomic<unsigned> n_idle_{0};
  spinlock idle_lock_;
  std::vector<unsigned> idle_stack_ GORT_GUARDED_BY(idle_lock_);
  std::vector<char> on_idle_stack_ GORT_GUARDED_BY(idle_lock_);
  // Times a worker left the idle stack (guarded by idle_lock_): all_idle's
  // snapshot is still true while it is unchanged.
  std::uint64_t idle_epoch_ GORT_GUARDED_BY(idle_lock_) = 0;
  std::atomic<int> poller_{-1};              // worker holding the poller role, or -1
  std::atomic<std::int64_t> poll_until_{0};  // the poller's deadline (0: none or no poller)
  std::atomic<std::int64_t> busy_poll_at_{0};  // when a busy worker may next poll (busy_poll_due)
};

// Inline: on every ready (push_local) and every handoff (the other two).
[[gnu::always_inline]] inline void scheduler::push_local(unsigned w, sched_node* n, place where,
                                                         bool wake_alone) noexcept {
  slot& me = *slots_[w];
  // A fiber woken alone into runnext is not worth a wake-up: it runs as soon
  // as the current fiber parks, which in a channel handoff is at once
  // (Tokio's LIFO-slot rule; waking here would cost every handoff a futex
  // call while a worker idles). A displaced one is. A new fiber is too
  // (wake_alone): `go f(); compute();` must run f on an idle worker, as Go
  // does, not when compute() ends.
  bool stealable = true;
  if (where == place::next) {
    n = me.queue.put_next(n);
    stealable = n != nullptr || wake_alone;
  } else if (where == place::next_if_free && me.queue.try_put_next(n)) {
    n = nullptr;
    stealable = wake_alone;
  }
  if (n && !me.queue.try_push(n)) [[unlikely]]
    push_overflow(me, n);
  // No fence here, unlike push_global: this worker drains its own queue, so a
  // wake-up missed in a race with a worker going idle costs parallelism until
  // the next push, never progress.
  if (stealable && n_idle_.load(std::memory_order_relaxed) > 0 &&
      n_spinning_.load(std::memory_order_relaxed) == 0)
    wake_one();
}

// Owner only: runnext, unless it has had k_max_next_streak turns in a row
// while the ring waited.
sched_node* scheduler::take_next_fair(slot& me) noexcept {
  if (me.next_streak >= k_max_next_streak && me.queue.ring_size() > 0) return nullptr;
  sched_node* n = me.queue.take_next();
  if (n) ++me.next_streak;
  return n;
}

[[gnu::always_inline]] inline sched_node* scheduler::take_for_handoff(unsigned w, bool whole_queue) noexcept {
  if (seeded_ || stopping()) return nullptr;
  slot& me = *slots_[w];
  if (me.global_countdown == 1) return nullptr;  // find_runnable's turn for the inject queue
  sched_node* n = take_next_fair(me);
  if (!n && whole_queue) {
    me.next_streak = 0;
    n = me.queue.pop();
  }
  if (!n) return nullptr;
  --me.global_countdown;
  // Thieves read it to tell a worker stuck in one fiber from a busy one.
  me.tick_pub.store(++me.tick, std::memory_order_relaxed);
  return n;
}

}  // namespace gort::detail
