#include "runtime/timer.hpp"

#include <algorithm>
#include <mutex>

#include "runtime/core.hpp"
#include "runtime/timer_heap.hpp"
#include "scheduler/futex.hpp"

namespace gort::detail {

bool timer_heap::add(timer& t, std::int64_t when) noexcept {
  locked g(lock_);
  t.when = when;
  t.heap_index_ = std::uint32_t(items_.size());
  t.heap_.store(this, std::memory_order_relaxed);
  items_.push_back(&t);
  count_user(t, 1);
  // Release: a stop() that sees pending also sees heap_ and our lock.
  t.status_.store(timer::k_pending, std::memory_order_release);
  sift_up(items_.size() - 1);
  bool first = items_[0] == &t;
  if (first) publish();
  return first;
}

bool timer_heap::remove(timer& t) noexcept {
  locked g(lock_);
  if (t.status_.load(std::memory_order_relaxed) != timer::k_pending ||
      t.heap_.load(std::memory_order_relaxed) != this)
    return false;
  remove_at(t.heap_index_);
  t.status_.store(timer::k_idle, std::memory_order_release);
  publish();
  return true;
}

void timer_heap::run_due(std::int64_t now) noexcept {
  locked g(lock_);
  while (!items_.empty() && items_[0]->when <= now) {
    timer* t = items_[0];
    remove_at(0);
    t->status_.store(timer::k_firing, std::memory_order_relaxed);
    publish();
    t->rearm_ = false;
    lock_.unlock();  // the callback runs unlocked: it may ready fibers, send, re-arm
    {
      // TSan: a timer acts for nobody; what its callback does (the value an
      // after() channel delivers, the fiber it readies) orders nothing.
      race_ignored runtime_work;
      t->fn(t);
    }
    lock_.lock();
    // Our last touch of `t`: once it is idle, stop() may return and its owner
    // free it. A re-arm requested by the callback lands in this heap.
    if (t->rearm_) {
      t->rearm_ = false;
      t->when = t->rearm_when_;
      t->heap_index_ = std::uint32_t(items_.size());
      t->heap_.store(this, std::memory_order_relaxed);
      items_.push_back(t);
      count_user(*t, 1);
      // Release: pairs with the acquire load in timer::stop().
      t->status_.store(timer::k_pending, std::memory_order_release);
      sift_up(items_.size() - 1);
    } else {
      t->status_.store(timer::k_idle, std::memory_order_release);
    }
    publish();
  }
}

void timer_heap::clear() noexcept {
  locked g(lock_);
  for (timer* t : items_) t->status_.store(timer::k_idle, std::memory_order_release);
  items_.clear();
  user_pending_.store(0, std::memory_order_release);
  publish();
}

// Moves the timer at `i` towards the root while it is due before its parent.
void timer_heap::sift_up(std::size_t i) noexcept {
  timer* t = items_[i];
  for (std::size_t p; i > 0 && items_[p = (i - 1) / 2]->when > t->when; i = p) put(i, items_[p]);
  put(i, t);
}

// Moves the timer at `i` towards the leaves while a child is due before it.
void timer_heap::sift_down(std::size_t i) noexcept {
  const std::size_t n = items_.size();
  timer* t = items_[i];
  for (std::size_t c; (c = 2 * i + 1) < n; i = c) {
    if (c + 1 < n && items_[c + 1]->when < items_[c]->when) ++c;
    if (t->when <= items_[c]->when) break;
    put(i, items_[c]);
  }
  put(i, t);
}

void timer_heap::remove_at(std::size_t i) noexcept {
  count_user(*items_[i], -1);
  timer* last = items_.back();
  items_.pop_back();
  if (i == items_.size()) return;
  items_[i] = last;
  last->heap_index_ = std::uint32_t(i);
  sift_down(i);
  sift_up(last->heap_index_);
}

void timer::start(std::int64_t when_ns) noexcept {
  if (status_.load(std::memory_order_relaxed) == k_firing) {
    // From this timer's own callback: the firing worker re-adds it.
    rearm_when_ = when_ns;
    rearm_ = true;
    return;
  }
  with_runtime([&](runtime* rt, worker* w) {
    if (!rt) return;  // no runtime: nothing would ever fire it
    rt->add_timer(*this, when_ns, w);
  });
}

bool timer::stop() noexcept {
  for (;;) {
    // Acquire: pairs with the release stores in add() and run_due().
    std::uint8_t s = status_.load(std::memory_order_acquire);
    if (s == k_idle) return false;
    if (s == k_pending) {
      timer_heap* h = heap_.load(std::memory_order_relaxed);
      if (h && h->remove(*this)) return true;
      continue;  // fired or moved meanwhile
    }
    // Firing: its callback runs on another thread; it is short.
    cpu_relax();
  }
}

}  // namespace gort::detail

namespace gort::detail {

// ---- the runtime's timer heaps ----------------------------------------------

void runtime::add_timer(timer& t, std::int64_t when_ns, worker* w) noexcept {
  // A plain thread's timers go to worker 0's heap.
  if (heaps_[w ? w->index() : 0].add(t, when_ns)) sched_.timer_added(when_ns);
}

std::int64_t runtime::next_timer_deadline() {
  std::int64_t best = INT64_MAX;
  for (auto& h : heaps_) best = std::min(best, h.earliest());
  return best == INT64_MAX ? -1 : best;
}

void runtime::run_timers(unsigned, unsigned victim) {
  timer_heap& h = heaps_[victim];
  std::int64_t when = h.earliest();
  if (when == INT64_MAX) return;
  std::int64_t now = now_ns();
  if (when > now) return;
  h.run_due(now);
}

}  // namespace gort::detail
