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
    r.linked = false;
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

}  // namespace gort::detail
