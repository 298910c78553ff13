// wait_list: a FIFO of parked waiters, the queue under every sync primitive
// (Go's sema.go sudog queues). Internal; installed because class layouts of
// public types embed it.
//
// Invariants:
//   - A wait_list and the `linked` flags of its records are guarded by the
//     lock of the primitive that owns the list.
//   - A record lives on its waiter's stack. The waker unlinks it (linked =
//     false) before calling ready(), and never touches it afterwards.
//   - Every park on a record is paired with exactly one ready.
#pragma once

#include <cstdint>

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

class wait_list {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  waiter* front() const noexcept { return head_; }
  // Lock held.
  void push_back(waiter& w) noexcept {
    w.prev = tail_;
    w.next = nullptr;
    if (tail_)
      tail_->next = &w;
    else
      head_ = &w;
    tail_ = &w;
    w.linked = true;
  }
  // Lock held.
  void push_front(waiter& w) noexcept {
    w.prev = nullptr;
    w.next = head_;
    if (head_)
      head_->prev = &w;
    else
      tail_ = &w;
    head_ = &w;
    w.linked = true;
  }
  // Lock held; `w` must be linked here.
  void remove(waiter& w) noexcept {
    if (w.prev)
      w.prev->next = w.next;
    else
      head_ = w.next;
    if (w.next)
      w.next->prev = w.prev;
    else
      tail_ = w.prev;
    w.prev = w.next = nullptr;
    w.linked = false;
  }
  // Lock held. The oldest waiter, unlinked, or nullptr.
  waiter* pop_front() noexcept {
    waiter* w = head_;
    if (w) remove(*w);
    return w;
  }

 private:
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
};

}  // namespace gort::detail
