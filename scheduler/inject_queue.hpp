// inject_queue: the global queue (Go's sched.runq). Receives overflow from
// full local queues and nodes made runnable by threads that are not workers.
//
// Invariants:
//   - head_/tail_ and the links of queued nodes are guarded by lock_.
//   - size_ equals the number of queued nodes; written under lock_, read
//     without it as a hint (a stale zero only delays pickup until the next
//     check, and every push is followed by a wake-up check by the pusher).
#pragma once

#include <atomic>
#include "gort/detail/spinlock.hpp"
#include "scheduler/run_queue.hpp"

namespace gort::detail {

class inject_queue {
 public:
  // Any thread.
  void push(sched_node* n) noexcept {
    node_batch b;
    b.push_back(n);
    push_batch(b);
  }
  // Any thread.
  void push_batch(node_batch& b) noexcept {
    if (b.size == 0) return;
    locked g(lock_);
    if (tail_)
      tail_->sched_next = b.head;
    else
      head_ = b.head;
    tail_ = b.tail;
    // seq_cst: a pusher then reads the idle count (Dekker pairing with a worker
    // that registers idle and then re-reads this size).
    size_.store(size_.load(std::memory_order_relaxed) + b.size, std::memory_order_seq_cst);
    b = {};
  }
  // A worker, on its own queue `dst`, which it found empty. Pops one node to
  // run and moves up to half a local queue more into `dst` (Go's globrunqget).
  // nullptr when empty.
  sched_node* pop_into(run_queue& dst, std::size_t max_extra) noexcept {
    if (empty()) return nullptr;
    locked g(lock_);
    sched_node* first = pop_locked();
    if (max_extra > run_queue::k_capacity / 2) max_extra = run_queue::k_capacity / 2;
    node_batch overflow;  // stays empty: dst was empty and we add at most half its capacity
    for (std::size_t i = 0; first && i < max_extra; ++i) {
      sched_node* n = pop_locked();
      if (!n) break;
      dst.push(n, overflow);
    }
    return first;
  }
  bool empty() const noexcept { return size_.load(std::memory_order_seq_cst) == 0; }
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  sched_node* pop_locked() noexcept GORT_REQUIRES(lock_) {
    sched_node* n = head_;
    if (!n) return nullptr;
    head_ = n->sched_next;
    if (!head_) tail_ = nullptr;
    n->sched_next = nullptr;
    size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    return n;
  }

  spinlock lock_;
  sched_node* head_ GORT_GUARDED_BY(lock_) = nullptr;
  sched_node* tail_ GORT_GUARDED_BY(lock_) = nullptr;
  std::atomic<std::size_t> size_{0};
};

}  // namespace gort::detail
