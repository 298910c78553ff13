#include "scheduler/run_queue.hpp"

namespace gort::detail {

// Owner only: try_push found the ring full. Retries while thieves make room,
// else moves half of the ring plus `n` to `overflow`.
bool run_queue::push_full(sched_node* n, node_batch& overflow) noexcept {
  for (;;) {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h < k_capacity) {
      if (try_push(n)) return true;
      continue;
    }
    if (push_overflow(n, h, t, overflow)) return false;
    // A thief took some; there is room now.
  }
}

// Owner only: the ring is full; move its older half plus `n` to `overflow`.
bool run_queue::push_overflow(sched_node* n, std::uint32_t h, std::uint32_t t,
                              node_batch& overflow) noexcept {
  std::uint32_t half = (t - h) / 2;
  sched_node* batch[k_capacity / 2];
  for (std::uint32_t i = 0; i < half; ++i)
    batch[i] = slots_[(h + i) % k_capacity].load(std::memory_order_relaxed);
  // acq_rel: claims the batch against concurrent thieves (pairs with their CAS).
  if (!head_.compare_exchange_strong(h, h + half, std::memory_order_acq_rel)) return false;
  for (std::uint32_t i = 0; i < half; ++i) overflow.push_back(batch[i]);
  overflow.push_back(n);
  return true;
}

sched_node* run_queue::take_kth(std::size_t k) noexcept {
  const std::uint32_t h = head_.load(std::memory_order_relaxed);
  const std::uint32_t t = tail_.load(std::memory_order_relaxed);
  if (k >= std::size_t(t - h)) return take_next();
  // Rotate the k older nodes to the tail; no thief exists to race with.
  node_batch unused;
  for (std::size_t i = 0; i < k; ++i) push(pop(), unused);
  return pop();
}

sched_node* run_queue::steal_into(run_queue& dst) noexcept {
  std::uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed);  // we own dst
  for (;;) {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    // Acquire: pairs with the owner's release store, so the slots are visible.
    std::uint32_t t = tail_.load(std::memory_order_acquire);
    std::uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) return nullptr;
    if (n > k_capacity / 2) continue;  // h and t read at different times; retry
    for (std::uint32_t i = 0; i < n; ++i) {
      sched_node* node = slots_[(h + i) % k_capacity].load(std::memory_order_relaxed);
      dst.slots_[(dst_tail + i) % k_capacity].store(node, std::memory_order_relaxed);
    }
    // acq_rel: claims the copied slots (pairs with the owner's pop/overflow CAS).
    if (!head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel)) continue;
    // Run the newest stolen node now; publish the rest in dst.
    --n;
    sched_node* run = dst.slots_[(dst_tail + n) % k_capacity].load(std::memory_order_relaxed);
    if (n > 0) dst.tail_.store(dst_tail + n, std::memory_order_release);
    return run;
  }
}

}  // namespace gort::detail
