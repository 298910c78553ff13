// fiber_table: see fiber_table.hpp.
#include "runtime/fiber_table.hpp"

#include <memory>

#include "gort/detail/race.hpp"

namespace gort::detail {

fiber_table::~fiber_table() {
  chunk* c = chunks_.load(std::memory_order_relaxed);
  while (c) {
    chunk* next = c->next;
    delete[] c->items;
    delete c;
    c = next;
  }
}

fiber* fiber_table::allocate_chunk(std::size_t n) {
  // TSan: the runtime's memory, never the user's; its writes here (through
  // the C library) must not be held against the first fiber that uses a
  // slot without an edge to this thread (one a timer started).
  race_ignored quiet;
  auto items = std::make_unique<fiber[]>(n);
  for (std::size_t i = 0; i + 1 < n; ++i) items[i].sched_next = &items[i + 1];
  auto* c = new chunk{nullptr, n, items.release()};
  locked g(lock_);
  c->next = chunks_.load(std::memory_order_relaxed);
  // Release: pairs with the acquire in for_each_unlocked().
  chunks_.store(c, std::memory_order_release);
  return c->items;
}

void fiber_table::put_free(fiber* head, fiber* tail) noexcept {
  locked g(lock_);
  tail->sched_next = free_;
  free_ = head;
}

fiber* fiber_table::take_free(std::size_t max, std::size_t& got) noexcept {
  locked g(lock_);
  got = 0;
  fiber* head = free_;
  fiber* tail = nullptr;
  for (fiber* f = free_; f && got < max; f = static_cast<fiber*>(f->sched_next)) {
    tail = f;
    ++got;
  }
  if (!tail) return nullptr;
  free_ = static_cast<fiber*>(tail->sched_next);
  tail->sched_next = nullptr;
  return head;
}

fiber* fiber_table::take_one() {
  constexpr std::size_t k_chunk = 8;
  std::size_t got = 0;
  fiber* f = take_free(1, got);
  if (!f) {
    f = allocate_chunk(k_chunk);
    fiber* rest = static_cast<fiber*>(f->sched_next);
    fiber* tail = rest;
    while (tail->sched_next) tail = static_cast<fiber*>(tail->sched_next);
    put_free(rest, tail);
  }
  f->sched_next = nullptr;
  return f;
}

}  // namespace gort::detail
