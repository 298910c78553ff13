// wait_list: a FIFO of parked waiters, the queue under every sync primitive
// (Go's sema.go sudog queues). Internal; installed because class layouts of
// public types embed it.
//
// Invariants:
//   - A wait_list and the links of its records are guarded by the lock of the
//     primitive that owns the list.
//   - A record lives on its waiter's stack. The waker unlinks it (linked =
//     false) before calling ready(), and never touches it afterwards.
//   - Every park on a record is paired with exactly one ready.
#pragma once

#include <cstdint>

#include "gort/detail/intrusive_fifo.hpp"

namespace gort::detail {

struct fiber;

struct waiter {
  fiber* who = nullptr;
  waiter* prev = nullptr;
  waiter* next = nullptr;
  std::int64_t value = 0;  // what the waiter asks for (e.g. a semaphore count)
  bool linked = false;
  bool cancelled = false;  // unlinked by its own waiter (park threw), not by a waker
};

// A FIFO of waiters; see intrusive_fifo for the operations.
using wait_list = intrusive_fifo<waiter>;

}  // namespace gort::detail
