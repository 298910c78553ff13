// The one way sync primitives park on a wait_list (private to the library).
#pragma once

#include <mutex>
#include <source_location>

#include "gort/detail/spinlock.hpp"
#include "gort/detail/wait_list.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

// Lock `l` held: links a record for the caller at the back of `q` (or the
// front with `lifo`), parks, and returns once a waker unlinked it and readied
// us; `l` is not held on return. If park() throws (unwinding at exit), the
// record is unlinked before the exception leaves.
inline void wait_on(spinlock& l, wait_list& q, wait_reason why, const std::source_location& where,
                    std::int64_t value = 0, bool lifo = false) {
  waiter w;
  w.who = self();
  w.value = value;
  if (lifo) q.push_front(w); else q.push_back(w);
  struct unlink_on_unwind {
    spinlock& l;
    wait_list& q;
    waiter& w;
    ~unlink_on_unwind() {
      if (!w.linked) return;  // the usual case: the waker unlinked us
      std::lock_guard g(l);
      if (w.linked) q.remove(w);
    }
  } guard{l, q, w};
  park(l, why, where);
}

// Lock held: unlinks the oldest waiter; the caller readies it after unlocking
// (or before; ready never blocks). nullptr if none.
inline fiber* take_one(wait_list& q) noexcept {
  waiter* w = q.pop_front();
  return w ? w->who : nullptr;
}

}  // namespace gort::detail
