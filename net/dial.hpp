// dial_abort: lets another thread abort a dial in progress. The context layer
// builds net::dial(ctx, ...) on it: a stop callback on the context calls
// abort(). Nothing in net needs to know what a context is.
//
// Invariants: current_ and aborted_ are guarded by lock_. current_ is the
// socket being connected, set by dial_conn for the length of one connect
// attempt; abort() closes it under the lock, so it never closes a socket
// that dial_conn has already handed to a conn (end() takes it back first).
#pragma once

#include "gort/detail/spinlock.hpp"

namespace gort::detail {

class netfd;

class dial_abort {
 public:
  dial_abort() = default;
  dial_abort(const dial_abort&) = delete;
  dial_abort& operator=(const dial_abort&) = delete;

  // Any thread, any number of times: the connect in progress (closed: it
  // wakes and fails) and every later attempt fail.
  void abort() noexcept;

  // dial_conn only, around one connect attempt on `n`. begin() is false once
  // aborted (do not connect); end() is true if abort() came meanwhile (`n`
  // was closed, the attempt counts as failed).
  bool begin(netfd* n) noexcept;
  bool end() noexcept;

 private:
  spinlock lock_;
  netfd* current_ GORT_GUARDED_BY(lock_) = nullptr;
  bool aborted_ GORT_GUARDED_BY(lock_) = false;
};

}  // namespace gort::detail
