// after() and ticker on the runtime's timers (Go's time.After, time.Ticker).
// Both deliver into a one-slot channel with a non-blocking send from the
// timer's callback, which runs on a worker's scheduler stack.
//
// Invariants:
//   - An after() timer is owned by its channel's core: the core's destructor
//     stops it (waiting for a callback in flight) before freeing anything, so
//     the callback never sees a freed channel. It holds no reference itself.
//   - A ticker alternates between two timers: the callback of one starts the
//     other, never itself. A timer that re-armed itself from its own callback
//     would leave the firing state inside the callback, so timer::stop() could
//     return (and the state be freed) while the worker still finishes that
//     callback (timer_heap::run_due touches the timer after fn returns).
//     With two, each timer stays `firing` until its worker is done with it,
//     and stop() waits for that.
//   - ticker_state::lock_ guards stopped_ and every start(): once stop() set
//     stopped_, no callback starts a timer, so stopping both timers leaves
//     nothing pending or firing before ticker_state is freed.
#include "gort/time.hpp"

#include <cstdint>
#include <mutex>
#include <stdexcept>

#include "channel/chan_impl.hpp"
#include "gort/runtime.hpp"
#include "runtime/timer.hpp"
#include "scheduler/clock.hpp"
#include "scheduler/futex.hpp"

namespace gort::detail {

using tick_time = std::chrono::steady_clock::time_point;

struct ticker_state {
  struct tick_timer : timer {
    ticker_state* owner = nullptr;
    tick_timer* other = nullptr;  // the timer this one's callback starts
  };
  tick_timer t[2];
  chan_handle ch;
  std::int64_t period = 0;
  spinlock lock_;
  bool stopped_ GORT_GUARDED_BY(lock_) = false;
};

namespace {

struct after_timer : timer {
  chan_core* ch = nullptr;  // not a reference: the channel owns the timer
};

// A worker, on its scheduler stack: the deadline passed. The channel has one
// slot and this is its only sender, so the send cannot block or throw.
void after_fired(timer* t) {
  tick_time now = as_time_point(now_ns());
  chan_try_send(static_cast<after_timer*>(t)->ch, &now);
}

// A worker, on its scheduler stack: one tick, dropped if the last one was not
// received yet; then arms the other timer for the next period boundary still
// ahead (unless stopped).
void tick_fired(timer* t) {
  auto* me = static_cast<ticker_state::tick_timer*>(t);
  ticker_state* s = me->owner;
  tick_time now = as_time_point(now_ns());
  chan_try_send(s->ch.get(), &now);
  std::int64_t n = now_ns();
  std::int64_t next = t->when + s->period;
  if (next <= n) next += ((n - next) / s->period + 1) * s->period;
  locked g(s->lock_);
  if (s->stopped_) return;
  // The other timer's callback started us and has returned, but its worker
  // may not yet have left the firing state (a few instructions): wait for
  // it. Acquire: pairs with the release in timer_heap::run_due.
  while (me->other->status_.load(std::memory_order_acquire) == timer::k_firing) {
    cpu_relax();
  }
  me->other->start(next);
}

}  // namespace

void drop_after_timer(timer* t) noexcept {
  t->stop();
  delete static_cast<after_timer*>(t);
}

}  // namespace gort::detail

namespace gort {

using detail::tick_time;

recv_chan<tick_time> after(std::chrono::nanoseconds d) {
  detail::chan_handle h(detail::chan_make(&detail::elem_ops_of<tick_time>::value, 1));
  if (d.count() <= 0) {
    tick_time now = detail::as_time_point(detail::now_ns());
    detail::chan_try_send(h.get(), &now);
    return recv_chan<tick_time>(std::move(h));
  }
  auto* t = new detail::after_timer();
  t->fn = &detail::after_fired;
  t->ch = h.get();
  detail::impl(h.get())->timer_ = t;
  t->start(detail::deadline_after(d));
  return recv_chan<tick_time>(std::move(h));
}

ticker::ticker(std::chrono::nanoseconds period) : s_(std::make_unique<detail::ticker_state>()) {
  if (period.count() <= 0) throw std::invalid_argument("non-positive interval for gort::ticker");
  s_->ch = detail::chan_handle(detail::chan_make(&detail::elem_ops_of<tick_time>::value, 1));
  s_->period = period.count();
  for (int i = 0; i < 2; ++i) {
    s_->t[i].fn = &detail::tick_fired;
    s_->t[i].owner = s_.get();
    s_->t[i].other = &s_->t[1 - i];
  }
  s_->t[0].start(detail::deadline_after(period));
}

ticker::ticker(ticker&&) noexcept = default;

ticker& ticker::operator=(ticker&& o) noexcept {
  if (this != &o) {
    stop();
    s_ = std::move(o.s_);
  }
  return *this;
}

ticker::~ticker() { stop(); }

recv_chan<tick_time> ticker::c() const { return s_ ? recv_chan<tick_time>(s_->ch) : recv_chan<tick_time>(); }

void ticker::stop() noexcept {
  if (!s_) return;
  {
    detail::locked g(s_->lock_);
    s_->stopped_ = true;  // from here on no callback starts a timer
  }
  // Each waits for its own callback in flight; neither can be restarted now.
  s_->t[0].stop();
  s_->t[1].stop();
}

}  // namespace gort
