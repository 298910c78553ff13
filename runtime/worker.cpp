// worker: a processor's caches (see worker.hpp).
#include "runtime/worker.hpp"

#include "runtime/core.hpp"
#include "runtime/fiber_table.hpp"

namespace gort::detail {

namespace {
constexpr std::size_t k_fiber_cache_max = 256;  // free fiber objects kept per worker
constexpr std::size_t k_fiber_batch = 64;       // moved to/from the shared free list at once
constexpr std::uint64_t k_id_batch = 64;        // ids reserved per refill (Go: goidcache)
alignas(8) const char k_retaking_marker = 0;
}  // namespace

machine* const worker::k_retaking = reinterpret_cast<machine*>(const_cast<char*>(&k_retaking_marker));

worker::worker(runtime& rt, stack_allocator& stacks, fiber_table& table, unsigned index)
    : rt_(rt), stack_pool_(stacks), table_(table), index_(index) {}

std::uint64_t worker::next_fiber_id() noexcept {
  if (id_next_ == id_end_) {
    id_next_ = rt_.reserve_ids(k_id_batch);
    id_end_ = id_next_ + k_id_batch;
  }
  return id_next_++;
}

fiber* worker::alloc_fiber() {
  if (!free_fibers_) {
    std::size_t got = 0;
    free_fibers_ = table_.take_free(k_fiber_batch, got);
    n_free_fibers_ = got;
    if (!free_fibers_) {
      free_fibers_ = table_.allocate_chunk(k_fiber_batch);
      n_free_fibers_ = k_fiber_batch;
    }
  }
  fiber* f = free_fibers_;
  free_fibers_ = static_cast<fiber*>(f->sched_next);
  f->sched_next = nullptr;
  --n_free_fibers_;
  return f;
}

void worker::free_fiber(fiber* f) noexcept {
  f->sched_next = free_fibers_;
  free_fibers_ = f;
  if (++n_free_fibers_ < k_fiber_cache_max) return;
  // Give a batch back so that fibers created here and exiting elsewhere do
  // not pile up on one worker.
  fiber* head = free_fibers_;
  fiber* tail = head;
  for (std::size_t i = 1; i < k_fiber_batch; ++i) tail = static_cast<fiber*>(tail->sched_next);
  free_fibers_ = static_cast<fiber*>(tail->sched_next);
  tail->sched_next = nullptr;
  n_free_fibers_ -= k_fiber_batch;
  table_.put_free(head, tail);
}

}  // namespace gort::detail
