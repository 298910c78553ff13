// select over channels (Go's select.go): lock every involved channel in
// address order, poll the cases in a random order, and if none is ready
// enqueue one record per case and park; one CAS on the select's `done` flag
// decides which waker wins. Invariants: channel/chan_impl.hpp.
#include <algorithm>
#include <cstdint>
#include <memory>

#include "channel/chan_impl.hpp"
#include "gort/detail/scope_exit.hpp"
#include "scheduler/random.hpp"

namespace gort::detail {

namespace {

// A scratch array on the stack for the usual few cases, on the heap beyond.
template <class T, std::size_t N>
class scratch {
 public:
  explicit scratch(std::size_t n) : p_(n <= N ? local_ : (heap_ = std::make_unique<T[]>(n)).get()) {}
  T& operator[](std::size_t i) noexcept { return p_[i]; }
  T* data() noexcept { return p_; }

 private:
  T local_[N];
  std::unique_ptr<T[]> heap_;
  T* p_;
};

// Uniform in [0, n), from the calling thread's generator.
std::size_t rand_below(std::size_t n) noexcept { return std::size_t((__uint128_t(thread_rand()) * n) >> 64); }

// The distinct channels of one select, sorted by address: the global lock
// order that keeps two selects on the same channels from deadlocking.
struct lockset {
  chan_impl** chans;
  std::size_t n;
  // A set of locks taken in a loop: the analysis cannot follow (the callers
  // that hold the set document it).
  void lock() const noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {
    for (std::size_t i = 0; i < n; ++i) chans[i]->lock_.lock();
  }
  void unlock() const noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {
    for (std::size_t i = n; i-- > 0;) chans[i]->lock_.unlock();
  }
  // park()'s unlock step, run after the select's fiber switched out.
  static void unlock_fn(void* p) { static_cast<lockset*>(p)->unlock(); }
};

// Sorts chans[0..n) by address and drops duplicates; returns the new count.
// (std::sort itself runs an insertion sort on the handful a select has.)
std::size_t sort_unique(chan_impl** chans, std::size_t n) noexcept {
  std::sort(chans, chans + n, std::less<>());
  return std::size_t(std::unique(chans, chans + n) - chans);
}

// All locks held (the set `ls`, which the analysis cannot follow). Tries case
// `cs`; true if it proceeded. The locks are released (and a woken partner
// readied) before it returns true or throws.
bool try_case(const select_case_desc& cs, const lockset& ls) GORT_NO_THREAD_SAFETY_ANALYSIS {
  chan_impl* c = impl(cs.ch);
  fiber* wake = nullptr;
  const attempt a = cs.is_send ? send_locked(c, cs.elem, wake) : recv_locked(c, cs.elem, wake);
  if (a == attempt::would_block) return false;
  ls.unlock();
  if (a == attempt::closed && cs.is_send) throw_closed("send on closed channel");
  // A receive from a closed, drained channel proceeds with its optional empty.
  if (wake) ready(wake);
  return true;
}

// The queue a case's record goes in (its channel's lock held).
waitq& queue_of(const select_case_desc& cs) noexcept {
  chan_impl* c = impl(cs.ch);
  return cs.is_send ? c->sendq_ : c->recvq_;
}

// All locks held, no case ready: enqueues one record per non-nil case, in
// the random poll order (so cases on the same channel are served in a random
// order, as in Go), parks, and after the wakeup unlinks the records that no
// waker took. Returns the index of the case that proceeded.
int park_select(select_case_desc* cases, std::size_t n, const std::uint32_t* poll, std::size_t npoll,
                lockset& ls, const location& where) {
  waiter_group group;
  scratch<waiter, 8> ws(n);
  fiber* me = self();
  for (std::size_t k = 0; k < npoll; ++k) {
    const std::size_t i = poll[k];
    waiter& w = ws[i];
    w.who = me;
    w.elem = cases[i].elem;
    w.group = &group;
    w.index = std::uint32_t(i);
    w.is_send = cases[i].is_send;
    queue_of(cases[i]).push_back(w);
  }
  {
    // Runs after the wakeup, and also if park() throws (unwinding at exit).
    scope_exit unlink_rest([&] {
      ls.lock();
      for (std::size_t i = 0; i < n; ++i) {
        if (ws[i].linked) queue_of(cases[i]).remove(ws[i]);
      }
      ls.unlock();
    });
    race_publish_self();  // TSan: for the partner that takes a record (race_partner)
    park(&lockset::unlock_fn, &ls, wait_reason::select, where);
  }
  waiter* win = group.winner;  // written by the waker before ready()
  if (win->is_send && !win->success) throw_closed("send on closed channel");
  return int(win->index);
}

}  // namespace

int select_run(select_case_desc* cases, std::size_t n, bool block, const location& where) {
  sched_point();  // GORT_SCHED_SEED may yield here
  // Poll order: the non-nil cases, uniformly shuffled (inside-out Fisher-Yates).
  scratch<std::uint32_t, 16> poll(n);
  scratch<chan_impl*, 16> chans(n);
  std::size_t npoll = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!cases[i].ch) continue;
    std::size_t j = rand_below(npoll + 1);
    poll[npoll] = poll[j];
    poll[j] = std::uint32_t(i);
    chans[npoll] = impl(cases[i].ch);
    ++npoll;
  }
  if (npoll == 0) {
    if (!block) return -1;
    park_forever(wait_reason::select, where);  // only nil channels: never ready
  }
  lockset ls{chans.data(), sort_unique(chans.data(), npoll)};
  ls.lock();
  for (std::size_t k = 0; k < npoll; ++k) {
    if (try_case(cases[poll[k]], ls)) return int(poll[k]);
  }
  if (!block) {
    ls.unlock();
    return -1;
  }
  return park_select(cases, n, poll.data(), npoll, ls, where);
}

void select_block_forever(const location& where) { park_forever(wait_reason::select_no_cases, where); }

}  // namespace gort::detail
