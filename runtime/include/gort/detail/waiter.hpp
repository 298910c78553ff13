// waiter: a fiber (or plain thread) queued on something it waits for: a
// channel, a sync primitive, a task's end (Go's sudog: one record for every
// kind of wait). Internal; installed because class layouts of public types
// embed wait lists.
//
// Invariants:
//   - A record lives on its waiter's stack and is linked in at most one list
//     while its owner is parked on it (a select links one record per case,
//     all in one waiter_group).
//   - The waker unlinks it (linked = false) and fills in the outcome
//     (success, the value) under the list owner's lock, reads `who`, and only
//     then readies it; it never touches the record after ready().
//   - Every park on a record is paired with exactly one ready.
#pragma once

#include <atomic>
#include <cstdint>

#include "gort/detail/intrusive_fifo.hpp"

namespace gort::detail {

struct fiber;
struct waiter;

// The records of one select, of which exactly one may be taken.
struct waiter_group {
  // 0 until a waker claims the group: the acq_rel CAS in claim(), made by
  // wakers holding different locks, picks exactly one winner (pairs with the
  // other wakers' CAS on the same flag).
  std::atomic<std::uint32_t> done{0};
  waiter* winner = nullptr;  // written by the winner before ready()

  // A waker, holding the lock of the list `w` was taken from: true if `w`
  // is the group's one record to be taken.
  bool claim(waiter* w) noexcept {
    std::uint32_t expect = 0;
    if (!done.compare_exchange_strong(expect, 1, std::memory_order_acq_rel, std::memory_order_relaxed))
      return false;
    winner = w;
    return true;
  }
};

struct waiter {
  fiber* who = nullptr;
  waiter* prev = nullptr;
  waiter* next = nullptr;          // also links a waker's private wake list once unlinked
  waiter_group* group = nullptr;   // a select's shared decision; null for a single wait
  void* elem = nullptr;            // channel: the T to send from / the std::optional<T> to fill
  std::int64_t value = 0;          // sync: what the waiter asks for (semaphore units)
  std::uint32_t index = 0;         // a select case's position
  bool is_send = false;            // channel: a sender's record
  bool success = false;            // set by the waker: the wait succeeded (a value moved)
  bool linked = false;             // in a list (written under its lock; see intrusive_fifo)
  bool cancelled = false;          // unlinked by its own waiter (park threw), not by a waker
};

// A FIFO of waiters; see intrusive_fifo for the operations.
using wait_list = intrusive_fifo<waiter>;

}  // namespace gort::detail
