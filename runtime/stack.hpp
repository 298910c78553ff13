// stacks: mmap'd fiber stacks, committed on touch, pooled.
//
// Two kinds:
//   - guarded: its own mapping with a PROT_NONE page below it (2 kernel
//     mappings each). An overflow faults on the guard page and the SIGSEGV
//     handler reports it. Limited by vm.max_map_count, so only the first
//     `guard_budget` live stacks are guarded.
//   - slab: carved from large shared mappings (no per-stack mapping), with a
//     canary at the lowest address checked every time the fiber switches out.
//     The canary is "the lowest 64 bytes are still zero": fresh and trimmed
//     pages read as zero, so the bottom page is never written (a blocked
//     fiber costs one touched page, at the top, not two).
//
// Invariants:
//   - A stack is owned by one fiber, a worker's cache, warm_ or clean_;
//     moves between them under the caller's ownership or lock_.
//   - warm_ holds recently used stacks (pages resident), newest last;
//     clean_ holds stacks whose pages were given back to the system.
//   - Slabs are unmapped only when the allocator is destroyed (end of run()).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "gort/detail/spinlock.hpp"

namespace gort::detail {

struct stack_mem {
  char* base = nullptr;  // lowest usable address; the guard page or canary is at/below it
  std::size_t size = 0;  // usable bytes above base
  bool guarded = false;
  unsigned valgrind_id = 0;  // VALGRIND_STACK_REGISTER's id (0 outside valgrind)

  char* top() const noexcept { return base + size; }
  explicit operator bool() const noexcept { return base != nullptr; }
  // Slab stacks: false once the fiber wrote below its stack.
  bool canary_intact() const noexcept;
  // TSan only (a no-op otherwise): the stack goes to a new fiber, which its
  // last user is not ordered with (a switch orders nothing), so what TSan
  // remembers of that use is dropped: the pages are mapped afresh (TSan's
  // mmap interceptor clears their shadow; the contents become zero).
  void forget_last_use() noexcept;
};

class stack_allocator {
 public:
  // `size`: usable bytes per stack (rounded up to pages).
  explicit stack_allocator(std::size_t size);
  ~stack_allocator();
  stack_allocator(const stack_allocator&) = delete;
  stack_allocator& operator=(const stack_allocator&) = delete;

  // Any worker. A fresh or recycled stack. Aborts with a fatal error if the
  // system refuses memory.
  stack_mem allocate();
  // Any worker. Returns a stack for reuse. Warm stacks past a bound give
  // their pages back to the system, at most once per trim interval here (a
  // burst that frees and re-spawns thousands of fibers must not pay a
  // madvise and a page fault per stack), and whenever a worker goes idle.
  void release(stack_mem s) noexcept;
  // Any worker, about to sleep: gives back the pages of warm stacks past the
  // bound. Cheap (one relaxed load) when there is nothing to give back.
  void trim_excess() noexcept;
  // Any thread: the usable bytes of every stack.
  std::size_t stack_size() const noexcept { return size_; }
  // Any thread; a snapshot: stacks kept warm (pages resident) now.
  std::size_t warm_size() const noexcept { return warm_count_.load(std::memory_order_relaxed); }

  // True if `addr` lies in the guard page of `s`.
  static bool in_guard(const stack_mem& s, const void* addr) noexcept;

 private:
  stack_mem map_guarded();
  stack_mem carve_slab() GORT_REQUIRES(lock_);
  void trim(std::vector<stack_mem>& cold) noexcept;
  bool trim_due() noexcept GORT_REQUIRES(lock_);
  void trim_locked_excess() noexcept GORT_REQUIRES(lock_);

  std::size_t size_;
  std::size_t page_;
  std::size_t guard_budget_;

  spinlock lock_;
  std::vector<stack_mem> warm_ GORT_GUARDED_BY(lock_);
  std::vector<stack_mem> clean_ GORT_GUARDED_BY(lock_);
  bool trimming_ GORT_GUARDED_BY(lock_) = false;  // one trim at a time
  std::int64_t last_trim_ns_ GORT_GUARDED_BY(lock_) = 0;
  std::uint32_t trim_countdown_ GORT_GUARDED_BY(lock_) = 0;  // releases until the clock is read again
  // warm_.size(), written under lock_, read without it by trim_excess().
  std::atomic<std::size_t> warm_count_{0};
  std::vector<char*> slabs_ GORT_GUARDED_BY(lock_);
  char* slab_next_ GORT_GUARDED_BY(lock_) = nullptr;  // next unused stack in the newest slab
  std::size_t slab_left_ GORT_GUARDED_BY(lock_) = 0;
  std::size_t guarded_live_ GORT_GUARDED_BY(lock_) = 0;  // guarded stacks mapped now
};

// A worker's private cache in front of the allocator (no lock on the hot path).
class stack_cache {
 public:
  static constexpr std::size_t k_max = 16;
  stack_mem get(stack_allocator& a) {
    if (n_ > 0) return items_[--n_];
    return a.allocate();
  }
  void put(stack_allocator& a, stack_mem s) noexcept {
    if (n_ < k_max)
      items_[n_++] = s;
    else
      a.release(s);
  }
  void drain(stack_allocator& a) noexcept {
    while (n_ > 0) a.release(items_[--n_]);
  }

 private:
  stack_mem items_[k_max];
  std::size_t n_ = 0;
};

}  // namespace gort::detail
