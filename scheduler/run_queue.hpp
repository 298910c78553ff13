// run_queue: a worker's local queue of runnable nodes (Go's p.runq + p.runnext).
//
// Roles:
//   - owner: the worker thread that owns the queue. The only writer of tail_
//     and of slots; pushes at the tail, pops at the head, sets runnext_.
//   - thief: any other worker. Takes half of the ring from the head with one
//     CAS (steal_into) and, on its last attempt, may take runnext_.
//
// Invariants:
//   - 0 <= tail_ - head_ <= k_capacity (unsigned wrap-around arithmetic).
//   - slots [head_, tail_) hold the queued nodes, oldest at head_.
//   - A node is in at most one queue (or runnext_) at a time; a CAS on head_
//     or an exchange of runnext_ transfers ownership of exactly those nodes.
//     A solo queue (no thieves can exist) uses plain loads and stores instead.
//   - Owner order is FIFO for the ring; runnext_ is a one-slot LIFO that runs
//     before the ring (the fiber just woken inherits the time slice).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gort::detail {

// Anything the scheduler can queue. Fibers derive from it.
struct sched_node {
  sched_node* sched_next = nullptr;  // link in the inject queue and in batches
};

// A singly linked batch of nodes (for moving work to the inject queue).
struct node_batch {
  sched_node* head = nullptr;
  sched_node* tail = nullptr;
  std::size_t size = 0;
  void push_back(sched_node* n) noexcept {
    n->sched_next = nullptr;
    if (tail)
      tail->sched_next = n;
    else
      head = n;
    tail = n;
    ++size;
  }
};

class run_queue {
 public:
  static constexpr std::uint32_t k_capacity = 256;

  // Owner only. Appends `n` at the tail. When the ring is full, moves half of
  // it plus `n` into `overflow` (for the inject queue) and returns false.
  bool push(sched_node* n, node_batch& overflow) noexcept { return try_push(n) || push_full(n, overflow); }
  // Owner only. Appends `n` at the tail; false (and nothing done) when the
  // ring is full. The inline fast path of push().
  bool try_push(sched_node* n) noexcept {
    // Acquire: synchronises with consumers' head CAS, so their reads of the
    // slots we are about to reuse are complete.
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= k_capacity) return false;
    slots_[t % k_capacity].store(n, std::memory_order_relaxed);
    // Release: makes the slot (and the node's fields) visible to consumers
    // that load-acquire tail_.
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }
  // Owner only. Oldest node of the ring, or nullptr when empty (ignores runnext).
  sched_node* pop() noexcept {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);  // owner wrote it
      if (t == h) return nullptr;
      sched_node* n = slots_[h % k_capacity].load(std::memory_order_relaxed);
      if (solo_) {
        head_.store(h + 1, std::memory_order_relaxed);
        return n;
      }
      // acq_rel: pairs with thieves' CAS on head_.
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel)) return n;
    }
  }
  // Owner only, and only with no thieves (a 1-worker scheduler): takes the
  // `k`-th runnable node (runnext counts as the last), keeping the others in
  // order. For GORT_SCHED_SEED's reproducible random schedules.
  sched_node* take_kth(std::size_t k) noexcept;
  // Owner only. Puts `n` in runnext if it is empty; false (and nothing done)
  // otherwise.
  bool try_put_next(sched_node* n) noexcept {
    if (runnext_.load(std::memory_order_relaxed) != nullptr) return false;
    // A plain store: thieves only ever replace a node with null, so an empty
    // slot stays empty until we fill it. Release: pairs with the exchange in
    // a thief's take_next(), which then sees n's fields.
    runnext_.store(n, std::memory_order_release);
    return true;
  }
  // Owner only. Puts `n` in runnext; returns the node it displaced (or nullptr),
  // which the caller must push.
  sched_node* put_next(sched_node* n) noexcept {
    if (try_put_next(n)) return nullptr;
    if (solo_) {  // no thief to race with
      sched_node* old = runnext_.load(std::memory_order_relaxed);
      runnext_.store(n, std::memory_order_relaxed);
      return old;
    }
    // acq_rel: pairs with the exchange in take_next() by a thief.
    return runnext_.exchange(n, std::memory_order_acq_rel);
  }
  // Owner or thief. Takes runnext, or nullptr.
  sched_node* take_next() noexcept {
    sched_node* n = runnext_.load(std::memory_order_relaxed);
    if (n == nullptr) return nullptr;
    if (solo_) {
      runnext_.store(nullptr, std::memory_order_relaxed);
      return n;
    }
    return runnext_.exchange(nullptr, std::memory_order_acq_rel);
  }
  bool has_next() const noexcept { return runnext_.load(std::memory_order_relaxed) != nullptr; }

  // Before use: the queue has no thieves (its scheduler has one worker), so
  // the owner may take nodes with plain stores instead of locked
  // instructions (the run queue's share of a 1-worker handoff halves).
  void set_solo(bool solo) noexcept { solo_ = solo; }

  // Thief only (`dst` must be the thief's own, empty-enough queue). Moves half
  // of this ring into `dst` and returns one of the stolen nodes to run now, or
  // nullptr if there was nothing to take.
  sched_node* steal_into(run_queue& dst) noexcept;

  // Any thread; a snapshot (may be stale by the time it is used).
  std::size_t size() const noexcept { return ring_size() + (has_next() ? 1 : 0); }
  // Any thread; a snapshot: nodes in the ring (runnext not counted).
  std::size_t ring_size() const noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    return std::size_t(t - h);
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  bool push_full(sched_node* n, node_batch& overflow) noexcept;
  bool push_overflow(sched_node* n, std::uint32_t h, std::uint32_t t, node_batch& overflow) noexcept;

  // Consumers (owner pop, thieves) advance it with CAS.
  alignas(64) std::atomic<std::uint32_t> head_{0};
  // Written by the owner only (store-release publishes the slot).
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<sched_node*> runnext_{nullptr};
  bool solo_ = false;  // set before use: no thieves exist
  // Slots are atomics only so that a thief's speculative copy of a slot the
  // owner is overwriting is not a data race; the head_ CAS decides who won.
  std::atomic<sched_node*> slots_[k_capacity] = {};
};

}  // namespace gort::detail
