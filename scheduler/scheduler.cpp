#include "scheduler/scheduler.hpp"

#include <algorithm>

#include "scheduler/clock.hpp"

namespace gort::detail {

namespace {
// Every this many schedules the inject queue goes first (Go: 61, a prime, so
// it does not resonate with workload periods).
constexpr std::uint32_t k_global_check_period = 61;
constexpr int k_steal_passes = 4;
// How long a victim must have been running one fiber before a thief may take
// its runnext (Go waits ~3 µs: taking it sooner turns every handoff into a
// cross-core wake-up).
constexpr std::int64_t k_runnext_grace_ns = 3000;
// How often the idle poller looks at busy workers' runnext slots.
constexpr std::int64_t k_watch_ns = 1'000'000;
// While no worker is the poller, busy workers look at the network at most
// this often between them (Go's sysmon: when nobody polled for 10 ms). An
// open socket must not cost a program that computes or switches: one
// non-blocking poll per this period, not one per 61 schedules.
constexpr std::int64_t k_busy_poll_ns = 1'000'000;

}  // namespace

scheduler::scheduler(unsigned workers, sched_hooks& hooks) : hooks_(hooks) {
  slots_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) {
    slots_.push_back(std::make_unique<slot>());
    slots_.back()->rng = fast_rand(i + 1);
    slots_.back()->queue.set_solo(workers == 1);
  }
  idle_stack_.reserve(workers);
  on_idle_stack_.assign(workers, 0);
}

// The ring was full: half of it and `n` go to the inject queue.
void scheduler::push_overflow(slot& me, sched_node* n) noexcept {
  node_batch overflow;
  if (!me.queue.push(n, overflow)) inject_.push_batch(overflow);
}

void scheduler::push_global(sched_node* n) noexcept {
  inject_.push(n);  // seq_cst store of the size inside
  if (n_idle_.load(std::memory_order_seq_cst) > 0 && n_spinning_.load(std::memory_order_seq_cst) == 0)
    wake_one();
}

// A busy worker, no worker being the poller: true when it is time for a
// non-blocking look at the network, and then no other worker's for
// k_busy_poll_ns. Relaxed: the poll itself synchronises with the readied
// fibers; this only spaces the polls out.
bool scheduler::busy_poll_due() noexcept {
  const std::int64_t now = now_ns();
  std::int64_t due = busy_poll_at_.load(std::memory_order_relaxed);
  return now >= due && busy_poll_at_.compare_exchange_strong(due, now + k_busy_poll_ns, std::memory_order_relaxed);
}

sched_node* scheduler::find_runnable(unsigned w) noexcept {
  slot& me = *slots_[w];
  for (;;) {
    if (stopping()) {
      if (me.spinning) {
        me.spinning = false;
        n_spinning_.fetch_sub(1, std::memory_order_seq_cst);
      }
      return nullptr;
    }
    if (me.timers_pending()) hooks_.run_timers(w, w);
    me.tick_pub.store(++me.tick, std::memory_order_relaxed);
    if (--me.global_countdown == 0) {
      me.global_countdown = k_global_check_period;
      if (sched_node* n = inject_.pop_into(me.queue, 0)) return found(me, n);
      // Busy workers look at the network too, so that I/O is not starved
      // while no worker is idle in the poller (Go's sysmon does this).
      if (poller_.load(std::memory_order_relaxed) < 0 && hooks_.netpoll_active() && busy_poll_due()) {
        hooks_.netpoll(w, 0);
        if (sched_node* n = find_local(me)) return found(me, n);
      }
    }
    if (sched_node* n = find_local(me)) return found(me, n);
    if (sched_node* n = inject_.pop_into(me.queue, inject_.size() / size() + 1)) return found(me, n);
    unsigned busy = size() - n_idle_.load(std::memory_order_relaxed);
    if (me.spinning || 2 * n_spinning_.load(std::memory_order_relaxed) < busy) {
      if (!me.spinning) {
        me.spinning = true;
        n_spinning_.fetch_add(1, std::memory_order_seq_cst);
      }
      if (sched_node* n = steal_work(w)) return found(me, n);
    }
    sleep(w);
  }
}

// Owner only: runnext first (bounded streak), then the ring.
sched_node* scheduler::find_local(slot& me) noexcept {
  if (seeded_) {  // GORT_SCHED_SEED, 1 worker: any runnable node, from the seed
    std::size_t n = me.queue.size();
    return n ? me.queue.take_kth(std::size_t(seeded_rand_.below(n))) : nullptr;
  }
  if (sched_node* n = take_next_fair(me)) return n;
  me.next_streak = 0;
  if (sched_node* n = me.queue.pop()) return n;
  return me.queue.take_next();
}


// Owner only, with work in hand. Leaving the spinning state: the last spinner
// to find work wakes another, so a burst of new work fans out (Go's
// resetspinning). Otherwise: makes sure an idle worker holds the poller role.
sched_node* scheduler::found(slot& me, sched_node* n) noexcept {
  if (me.spinning) {
    me.spinning = false;
    if (n_spinning_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        n_idle_.load(std::memory_order_seq_cst) > 0)
      wake_one();
  } else if (poller_.load(std::memory_order_relaxed) < 0 && n_idle_.load(std::memory_order_relaxed) > 0) {
    // Going to work while others sleep and none holds the poller role (we
    // may have just left it): wake one to take it, so that timers run and
    // someone watches this worker's runnext (see sleep()).
    wake_one();
  }
  return n;
}

// Worker `w` only, while spinning: a few passes over the other workers in a
// random order; the last pass also runs their expired timers and may take a
// runnext that has waited past the grace period.
sched_node* scheduler::steal_work(unsigned w) noexcept {
  slot& me = *slots_[w];
  const unsigned n = size();
  if (n == 1) return nullptr;
  for (int pass = 0; pass < k_steal_passes; ++pass) {
    const bool last = pass == k_steal_passes - 1;
    const unsigned start = unsigned(me.rng.below(n));
    for (unsigned i = 0; i < n; ++i) {
      const unsigned v = (start + i) % n;
      if (v == w) continue;
      if (stopping()) return nullptr;
      slot& victim = *slots_[v];
      me.steal_attempts.add();
      if (last) {
        hooks_.run_timers(w, v);
        if (sched_node* t = find_local(me)) return t;  // a timer readied something here
      }
      if (sched_node* t = victim.queue.steal_into(me.queue)) {
        me.steals.add();
        return t;
      }
      if (last && victim.queue.has_next()) {
        std::uint32_t tick = victim.tick_pub.load(std::memory_order_relaxed);
        std::int64_t until = now_ns() + k_runnext_grace_ns;
        while (now_ns() < until && victim.queue.has_next()) cpu_relax();
        if (victim.tick_pub.load(std::memory_order_relaxed) == tick) {
          if (sched_node* t = victim.queue.take_next()) {
            me.steals.add();
            return t;
          }
        }
      }
    }
  }
  return nullptr;
}

// Any thread: is there work this worker could take (other than runnext slots,
// which are not stealable right away)?
bool scheduler::work_visible(unsigned w) const noexcept {
  if (!inject_.empty()) return true;
  for (unsigned v = 0; v < size(); ++v) {
    if (v == w) continue;
    if (slots_[v]->queue.ring_size() > 0) return true;
  }
  return false;
}

// Any thread: hands the wake-up to one idle worker, which starts spinning.
// At most one wake-up is in flight: the CAS on n_spinning_ admits one waker.
void scheduler::wake_one() noexcept {
  unsigned expected = 0;
  if (n_spinning_.load(std::memory_order_seq_cst) != 0 ||
      !n_spinning_.compare_exchange_strong(expected, 1, std::memory_order_seq_cst))
    return;
  unsigned v;
  {
    locked g(idle_lock_);
    if (idle_stack_.empty()) {
      n_spinning_.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    // Prefer a worker that is not the poller: the poller keeps timer duty.
    auto it = idle_stack_.end() - 1;
    int poller = poller_.load(std::memory_order_relaxed);
    if (int(*it) == poller && idle_stack_.size() > 1) --it;
    v = *it;
    idle_pop(v);
  }
  notify(v);
}

// Any thread: wakes worker v, wherever it sleeps. Dekker pairing with the
// poller in sleep(): we notify (seq_cst exchange), then read in_netpoll; it
// sets in_netpoll (seq_cst), then checks for a notification.
void scheduler::notify(unsigned v) noexcept {
  slot& s = *slots_[v];
  s.park.notify();
  if (s.in_netpoll.load(std::memory_order_seq_cst)) hooks_.netpoll_interrupt();
}

// Worker `w` only: takes itself off the idle stack. False if a waker popped it
// first (that waker counted it as spinning and notifies its parker).
bool scheduler::idle_remove(unsigned w) noexcept {
  locked g(idle_lock_);
  if (!on_idle_stack_[w]) return false;
  idle_pop(w);
  return true;
}

// Idle lock held; `w` is on the idle stack: takes it off.
void scheduler::idle_pop(unsigned w) noexcept {
  idle_stack_.erase(std::find(idle_stack_.begin(), idle_stack_.end(), w));
  on_idle_stack_[w] = 0;
  ++idle_epoch_;
  n_idle_.fetch_sub(1, std::memory_order_seq_cst);
}

// Worker `w` only. The idle protocol (Go's stopm, with the re-checks of
// findRunnable):
//   1. Stop spinning.
//   2. Register on the idle stack (seq_cst increment of n_idle_).
//   3. Re-check every queue: work pushed before a producer could see us idle
//      is found here. Found: leave the idle stack and spin again.
//   4. If everyone is idle, let the runtime judge (deadlock check); then let
//      it do its idle housekeeping.
//   5. Sleep: as the poller until the earliest timer (and, while another
//      worker runs fibers, for at most k_watch_ns), else until notified.
//   6. Woken: if a waker popped us we are spinning; otherwise leave the idle
//      stack ourselves. The poller then runs every worker's expired timers.
void scheduler::sleep(unsigned w) noexcept {
  slot& me = *slots_[w];
  if (me.spinning) {
    me.spinning = false;
    n_spinning_.fetch_sub(1, std::memory_order_seq_cst);
  }
  {
    locked g(idle_lock_);
    idle_stack_.push_back(w);
    on_idle_stack_[w] = 1;
    n_idle_.fetch_add(1, std::memory_order_seq_cst);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (stopping() || work_visible(w)) {
    if (idle_remove(w)) {
      n_spinning_.fetch_add(1, std::memory_order_seq_cst);
    } else {
      me.park.wait();  // a waker popped us and counted us as spinning: take its notify
    }
    me.spinning = true;
    return;
  }
  recheck_all_idle();
  hooks_.going_idle(w);
  const std::int64_t t0 = now_ns();
  me.idle_since_ns.store(t0, std::memory_order_relaxed);
  int no_poller = -1;
  // seq_cst: pairs with netpoller::open (see wake_poller).
  const bool poller = poller_.compare_exchange_strong(no_poller, int(w), std::memory_order_seq_cst);
  if (poller) {
    std::int64_t deadline = hooks_.next_timer_deadline();
    // While another worker is busy, look again every k_watch_ns (Go's sysmon
    // in miniature): a fiber woken into a busy worker's runnext by a fiber
    // that then kept running (a pipeline stage that sends, then computes)
    // is taken once the grace period has passed. A fully idle runtime keeps
    // sleeping without a deadline.
    if (n_idle_.load(std::memory_order_seq_cst) + n_spinning_.load(std::memory_order_seq_cst) < size()) {
      const std::int64_t watch = t0 + k_watch_ns;
      if (deadline < 0 || watch < deadline) deadline = watch;
    }
    poll_until_.store(deadline < 0 ? 0 : deadline, std::memory_order_seq_cst);
    if (hooks_.netpoll_active()) {
      // Wait in the network poller; wakers interrupt it (see notify()).
      me.in_netpoll.store(true, std::memory_order_seq_cst);
      if (!me.park.try_consume()) hooks_.netpoll(w, deadline);
      me.in_netpoll.store(false, std::memory_order_seq_cst);
      me.park.try_consume();  // a notify that raced with the poll's return
    } else {
      me.park.wait(deadline);
    }
    poll_until_.store(0, std::memory_order_relaxed);
    poller_.store(-1, std::memory_order_release);
  } else {
    me.park.wait();
  }
  const std::int64_t t1 = now_ns();
  me.idle_since_ns.store(0, std::memory_order_relaxed);
  me.idle_total_ns.fetch_add(t1 - t0, std::memory_order_relaxed);
  me.wakeups.add();
  if (!idle_remove(w)) me.spinning = true;  // popped by wake_one, which counted us
  hooks_.left_idle(w);
  if (poller) {
    for (unsigned v = 0; v < size(); ++v) hooks_.run_timers(w, v);
    // We gave up the poller role; if timers remain and others sleep without a
    // deadline, hand the role to one of them. (If we go back to work, found()
    // hands it on too, so that someone watches us.)
    if (hooks_.next_timer_deadline() >= 0 && n_idle_.load(std::memory_order_seq_cst) > 0) wake_one();
  }
}

void scheduler::timer_added(std::int64_t when_ns) noexcept {
  if (n_idle_.load(std::memory_order_seq_cst) == 0) return;  // the owner's loop will see it
  int p = poller_.load(std::memory_order_acquire);
  if (p < 0) {
    wake_one();  // idle workers but no poller: make one take the role
    return;
  }
  std::int64_t until = poll_until_.load(std::memory_order_seq_cst);
  if (until == 0 || when_ns < until) notify(unsigned(p));
}

void scheduler::stop() noexcept {
  stopping_.store(true, std::memory_order_release);
  for (unsigned v = 0; v < size(); ++v) notify(v);
}

std::int64_t scheduler::idle_ns(unsigned w) const noexcept {
  const slot& s = *slots_[w];
  std::int64_t total = s.idle_total_ns.load(std::memory_order_relaxed);
  std::int64_t since = s.idle_since_ns.load(std::memory_order_relaxed);
  if (since != 0) total += now_ns() - since;
  return total;
}

void scheduler::recheck_all_idle() noexcept {
  bool everyone_idle;
  std::uint64_t epoch;
  {
    locked g(idle_lock_);
    everyone_idle = n_idle_.load(std::memory_order_relaxed) == size() && all_queues_empty();
    epoch = idle_epoch_;
  }
  // Outside the lock: the runtime's check allocates and takes other locks;
  // it confirms the snapshot (confirm_all_idle) before it acts on it.
  if (everyone_idle) hooks_.all_idle(0, epoch);
}

bool scheduler::confirm_all_idle(std::uint64_t idle_epoch) noexcept {
  locked g(idle_lock_);
  return idle_epoch_ == idle_epoch && n_idle_.load(std::memory_order_relaxed) == size() && all_queues_empty();
}

bool scheduler::all_queues_empty() const noexcept {
  if (!inject_.empty()) return false;
  for (const auto& s : slots_)
    if (!s->queue.empty()) return false;
  return true;
}

}  // namespace gort::detail
