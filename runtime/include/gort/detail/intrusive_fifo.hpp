// intrusive_fifo: a doubly linked FIFO of records that carry their own links,
// the queue under every channel (Go's waitq) and sync primitive (sema.go's
// sudog lists). Internal; installed because class layouts of public types
// embed it.
//
// Invariants:
//   - A list and the `prev`/`next`/`linked` members of its records are
//     guarded by the lock of whatever owns the list; every call holds it.
//   - `linked` is true exactly while the record is in a list.
#pragma once

#include <atomic>
#include <mutex>

#include "gort/detail/spinlock.hpp"

namespace gort::detail {

// Record: any type with members `Record* prev`, `Record* next`, `bool linked`.
template <class Record>
class intrusive_fifo {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  Record* front() const noexcept { return head_; }
  void push_back(Record& r) noexcept {
    r.prev = tail_;
    r.next = nullptr;
    if (tail_)
      tail_->next = &r;
    else
      head_ = &r;
    tail_ = &r;
    r.linked = true;
  }
  void push_front(Record& r) noexcept {
    r.prev = nullptr;
    r.next = head_;
    if (head_)
      head_->prev = &r;
    else
      tail_ = &r;
    head_ = &r;
    r.linked = true;
  }
  // `r` must be linked in this list.
  void remove(Record& r) noexcept {
    if (r.prev)
      r.prev->next = r.next;
    else
      head_ = r.next;
    if (r.next)
      r.next->prev = r.prev;
    else
      tail_ = r.prev;
    r.prev = r.next = nullptr;
    // Atomic (release): unlink_on_unwind reads it without the lock.
    std::atomic_ref<bool>(r.linked).store(false, std::memory_order_release);
  }
  // The oldest record, unlinked, or nullptr.
  Record* pop_front() noexcept {
    Record* r = head_;
    if (r) remove(*r);
    return r;
  }

 private:
  Record* head_ = nullptr;
  Record* tail_ = nullptr;
};

// A waiter's guard around its park on record `r` in `q` (both guarded by
// `lock`): if the park throws (the runtime unwinding at exit) while `r` is
// still linked, unlinks it under `lock` and sets *unlinked (when given), so
// no waker later touches a record on an unwound stack. Call parked() once the
// park returned normally (its waker unlinked `r`): then nothing is read.
template <class Record, class Lock>
class unlink_on_unwind {
 public:
  unlink_on_unwind(Lock& lock, intrusive_fifo<Record>& q, Record& r, bool* unlinked = nullptr) noexcept
      : lock_(lock), q_(q), r_(r), unlinked_(unlinked) {}
  unlink_on_unwind(const unlink_on_unwind&) = delete;
  unlink_on_unwind& operator=(const unlink_on_unwind&) = delete;
  void parked() noexcept { parked_ = true; }
  ~unlink_on_unwind() {
    if (parked_) return;
    // Unlinked already: a waker took the record and readied us before the
    // shutdown resumed us, so the owner of `q` must not be touched (it may be
    // gone, e.g. a wait_group on an exited fiber's stack). The look is atomic
    // (acquire, pairing with remove()'s release) because it is made without
    // the lock. Not covered: a plain thread that dequeued the record and is
    // still completing the wake while run() unwinds; it would also ready a
    // fiber being unwound (run()'s shutdown assumes plain threads have
    // stopped operating on the runtime's objects).
    if (!std::atomic_ref<bool>(r_.linked).load(std::memory_order_acquire)) return;
    locked g(lock_);
    if (!r_.linked) return;
    q_.remove(r_);
    if (unlinked_) *unlinked_ = true;
  }

 private:
  Lock& lock_;
  intrusive_fifo<Record>& q_;
  Record& r_;
  bool* unlinked_;
  bool parked_ = false;
};

}  // namespace gort::detail
