// wait_on: the one way a primitive queues the caller on a wait list and parks
// (channels, sync primitives, task joins, blocking calls). Go's sema.go and
// chan.go in two calls: wait_on() queues and parks, a waker unlinks a record
// and readies its fiber. Every sleep is paired with a single wakeup, even if
// the wakeup comes before the sleeper has switched out (park releases the
// list's lock only after the switch).
#pragma once

#include "gort/detail/spinlock.hpp"
#include "gort/detail/waiter.hpp"
#include "gort/location.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

// Lock `l` held; `w` is the caller's record (its payload set by the caller).
// Links `w` at the back of `q` (the front with `lifo`), parks, and returns
// once a waker unlinked it and readied us; `l` is not held on return. If
// park() throws (unwinding at exit), `w` is unlinked if still linked, with
// w.cancelled = true, before the exception leaves: a waker that already
// unlinked it had granted it whatever it waited for (cancelled stays false).
// With `unlock`, park runs unlock(arg) after the switch instead of
// l.unlock(); it must release `l`.
inline void wait_on(spinlock& l, wait_list& q, waiter& w, wait_reason why, const location& where,
                    bool lifo = false, void (*unlock)(void*) = nullptr, void* arg = nullptr)
    GORT_RELEASE(l) GORT_NO_THREAD_SAFETY_ANALYSIS {  // released on the other side of the switch
  w.who = self();
  w.cancelled = false;
  if (lifo)
    q.push_front(w);
  else
    q.push_back(w);
  unlink_on_unwind guard(l, q, w, &w.cancelled);
  if (unlock)
    park(unlock, arg, why, where);
  else
    park(l, why, where);
  guard.parked();
}

// Lock held: unlinks the oldest waiter; the caller readies it after unlocking
// (or before; ready never blocks). nullptr if none.
inline fiber* take_one(wait_list& q) noexcept {
  waiter* w = q.pop_front();
  return w ? w->who : nullptr;
}

}  // namespace gort::detail
