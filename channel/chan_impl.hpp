// The channel core's private layout and its locked primitives, shared by
// chan.cpp (send, recv, close) and select.cpp (Go's hchan, waitq, sudog).
//
// Invariants:
//   - Everything in chan_impl except refs_ and count_'s relaxed readers is
//     guarded by lock_. count_ is written only under lock_ and read without
//     it by size() (a snapshot, as Go's len).
//   - recvq_ is non-empty only when the buffer is empty; sendq_ only when it
//     is full (or unbuffered). Both are empty once closed_ is set.
//   - A chan_waiter lives on its owner's stack. Its owner is parked while it is
//     linked. A waker unlinks it (linked = false), fills in success (and the
//     value) under the lock, reads `who`, and only then readies it; it never
//     touches the record after ready().
//   - A waiter that belongs to a select is taken only by the waker that wins
//     the select's `done` CAS; a waker that loses unlinks it and moves on. The
//     woken select unlinks its remaining records under all its locks.
//   - Every park on a record is paired with exactly one ready.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "gort/detail/chan_core.hpp"
#include "gort/detail/waiter.hpp"
#include "gort/detail/spinlock.hpp"
#include "runtime/wait.hpp"

namespace gort::detail {

// A FIFO of channel waiters. The owning channel's lock held for every call.
class waitq : public wait_list {
 public:
  // The oldest waiter that can be taken, unlinked; selects already claimed by
  // another channel are dropped on the way. Claims a select's record.
  waiter* dequeue() noexcept {
    while (waiter* w = pop_front()) {
      if (!w->group || w->group->claim(w)) return w;
    }
    return nullptr;
  }
};

struct timer;

// Laid out in two parts 64 bytes apart: the lock with fields that are read
// under it but written at most once (closed_ at close, the rest at creation),
// then what every operation writes. Whatever the allocation's alignment, no
// cache line holds both lock_ and a field written under it, so waiters
// spinning on a contended lock keep re-reading a line that the holder's
// writes to indices and queues do not invalidate. (When the ring indices
// shared the lock's line, mpmc at 2 workers ran 1.5-2x slower, depending on
// where malloc happened to put the core.) Not aligned to a line on purpose:
// an aligned allocation bypasses malloc's thread cache, and skynet creates a
// channel per parent.
struct chan_impl : chan_core {
  // ---- the lock, and what is read-mostly ---------------------------------
  spinlock lock_;
  bool closed_ GORT_GUARDED_BY(lock_) = false;
  std::size_t cap_ = 0;
  const elem_ops* ops_ = nullptr;
  std::byte* buf_ = nullptr;  // cap_ slots of ops_->size bytes, allocated with the core
  timer* timer_ = nullptr;    // after(): the timer that sends into this channel (owned)
  std::byte lock_gap_[24];    // puts count_ 64 bytes past lock_

  // ---- written by every operation (under lock_) --------------------------
  std::atomic<std::size_t> count_{0};  // values buffered now
  std::size_t sendx_ GORT_GUARDED_BY(lock_) = 0;  // next slot to fill
  std::size_t recvx_ GORT_GUARDED_BY(lock_) = 0;  // next slot to take
  waitq recvq_ GORT_GUARDED_BY(lock_);
  waitq sendq_ GORT_GUARDED_BY(lock_);

  void* slot(std::size_t i) const noexcept { return buf_ + i * ops_->size; }
  std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  void set_count(std::size_t n) noexcept { count_.store(n, std::memory_order_relaxed); }
};

// The layout rule above, checked (offsetof on a class with a base is only
// "conditionally supported": GCC and Clang give the plain offset, and warn).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(chan_impl, count_) >= offsetof(chan_impl, lock_) + 64,
              "chan_impl: the fields written under lock_ must start 64 bytes after it");
#pragma GCC diagnostic pop

inline chan_impl* impl(chan_core* c) noexcept { return static_cast<chan_impl*>(c); }

// ---- race detection (TSan only; gort/detail/race.hpp): Go's chan.go edges.
// Every operation on buffer slot i (a value moved in or out, by T's move
// constructor, which TSan checks) acquires the slot before touching it and
// releases it after: the k-th send happens before the k-th receive completes,
// and the k-th receive before the (k+cap)-th send completes. A direct handoff
// to or from a parked partner orders the two both ways (its published edge,
// then our ready()); on a buffered channel it also counts as an operation on
// the next slot, as in Go's race mode, so the (k+cap)-th rule holds for it.
// Close: released on closed_, acquired by a receive that finds the channel
// closed and drained (the parked ones are woken by the closer's ready()).

// lock_ held: around the accesses to slot i's memory.
inline void race_slot_acquire(chan_impl* c, std::size_t i) noexcept { race_acquire(c->slot(i)); }
inline void race_slot_release(chan_impl* c, std::size_t i) noexcept { race_release(c->slot(i)); }

// lock_ held, a buffered channel, empty: a value went straight to a parked
// receiver. Go's race mode counts it as passing through slot recvx.
inline void race_handoff_slot(chan_impl* c) noexcept GORT_REQUIRES(c->lock_) {
  if constexpr (race_enabled) {
    race_release_acquire(c->slot(c->recvx_));
    if (++c->recvx_ == c->cap_) c->recvx_ = 0;
    c->sendx_ = c->recvx_;
  }
}

// ---- locked primitives (lock_ held; none blocks, none unlocks) -------------

// A value into the buffer's tail. count() < cap_.
inline void buf_put(chan_impl* c, void* src) noexcept GORT_REQUIRES(c->lock_) {
  race_slot_acquire(c, c->sendx_);
  c->ops_->construct(c->slot(c->sendx_), src);
  race_slot_release(c, c->sendx_);
  if (++c->sendx_ == c->cap_) c->sendx_ = 0;
  c->set_count(c->count() + 1);
}

// The buffer's head into `dst` (an empty std::optional<T>). count() > 0.
inline void buf_take(chan_impl* c, void* dst) noexcept GORT_REQUIRES(c->lock_) {
  void* s = c->slot(c->recvx_);
  race_slot_acquire(c, c->recvx_);
  c->ops_->emplace(dst, s);
  c->ops_->destroy(s);
  race_slot_release(c, c->recvx_);
  if (++c->recvx_ == c->cap_) c->recvx_ = 0;
  c->set_count(c->count() - 1);
}

// Direct handoff to a dequeued receiver `r`. Returns the fiber to ready once
// the caller has unlocked.
inline fiber* give_to(waiter* r, const elem_ops* ops, void* src) noexcept {
  ops->emplace(r->elem, src);
  r->success = true;
  return r->who;
}

// Receive from a dequeued sender `s` into `dst`: straight from the sender
// when unbuffered; otherwise (the buffer is full) the head goes to `dst` and
// the sender's value to the tail, keeping FIFO order. Returns the fiber to
// ready once the caller has unlocked.
inline fiber* take_from(chan_impl* c, waiter* s, void* dst) noexcept GORT_REQUIRES(c->lock_) {
  if (c->cap_ == 0) {
    c->ops_->emplace(dst, s->elem);
  } else {
    void* head = c->slot(c->recvx_);
    race_slot_acquire(c, c->recvx_);
    c->ops_->emplace(dst, head);
    c->ops_->destroy(head);
    c->ops_->construct(head, s->elem);
    race_slot_release(c, c->recvx_);
    if (++c->recvx_ == c->cap_) c->recvx_ = 0;
    c->sendx_ = c->recvx_;
  }
  s->success = true;
  return s->who;
}

// What a send or receive can do at once, lock_ held: the decision every
// channel operation (blocking, try_, select) makes the same way (Go's
// chansend/chanrecv before they block).
enum class attempt : std::uint8_t {
  done,         // the value moved; *wake is a parked partner to ready once unlocked (or null)
  closed,       // send: the channel is closed; receive: closed and drained
  would_block,  // nothing moved: the caller parks, or gives up
};

// lock_ held: a send of `src` (a T to move from). Always inlined: it is the
// body of every send path, and an out-of-line call cost pingpong 15 %.
[[gnu::always_inline]] inline attempt send_locked(chan_impl* c, void* src, fiber*& wake) noexcept
    GORT_REQUIRES(c->lock_) {
  if (c->closed_) return attempt::closed;
  if (waiter* r = c->recvq_.dequeue()) {  // a parked receiver: hand over directly
    race_take_from(r->who);
    wake = give_to(r, c->ops_, src);
    if (c->cap_ > 0) race_handoff_slot(c);
    return attempt::done;
  }
  if (c->count() < c->cap_) {
    buf_put(c, src);
    return attempt::done;
  }
  return attempt::would_block;
}

// lock_ held: a receive into `dst` (an empty std::optional<T>).
[[gnu::always_inline]] inline attempt recv_locked(chan_impl* c, void* dst, fiber*& wake) noexcept
    GORT_REQUIRES(c->lock_) {
  if (waiter* s = c->sendq_.dequeue()) {  // a parked sender (full or unbuffered)
    race_take_from(s->who);
    wake = take_from(c, s, dst);
    return attempt::done;
  }
  if (c->count() > 0) {
    buf_take(c, dst);
    return attempt::done;
  }
  if (!c->closed_) return attempt::would_block;
  race_acquire(&c->closed_);
  return attempt::closed;
}

// Any thread, no lock held: throws closed_channel_error(what).
[[noreturn]] void throw_closed(const char* what);
// Any thread: parks for good (nil channel operations, select without ready
// cases). Only the runtime's unwinding at exit ends it (fiber_unwind).
[[noreturn]] void park_forever(wait_reason why, const location& where);
// chan_destroy (time.cpp): stops after()'s timer, waiting for a callback in
// flight, and frees it.
void drop_after_timer(timer* t) noexcept;

}  // namespace gort::detail
