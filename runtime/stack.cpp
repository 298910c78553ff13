#include "runtime/stack.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>

#include "runtime/fatal.hpp"

namespace gort::detail {

namespace {
constexpr std::uint64_t k_canary = 0x676f72742d737461ull;  // "gort-sta"
constexpr std::size_t k_slab_stacks = 64;
// Stacks kept mapped and warm in the shared free list before pages are
// returned to the system.
constexpr std::size_t k_free_warm = 256;
// The guard is one page; x86-64 and aarch64 Linux use 4 KiB or larger, and a
// fault anywhere in the 4 KiB below the base is an overflow either way.
constexpr std::ptrdiff_t k_page_guess = 4096;

std::size_t read_max_map_count() {
  std::ifstream f("/proc/sys/vm/max_map_count");
  std::size_t n = 0;
  if (f >> n) return n;
  return 65530;
}
}  // namespace

bool stack_mem::canary_intact() const noexcept {
  if (guarded) return true;
  std::uint64_t v;
  std::memcpy(&v, base, sizeof v);
  return v == k_canary;
}

stack_allocator::stack_allocator(std::size_t size) {
  page_ = std::size_t(sysconf(_SC_PAGESIZE));
  size_ = (size + page_ - 1) / page_ * page_;
  // Each guarded stack costs two mappings; keep a quarter of the limit for
  // the rest of the process (heap, libraries, thread stacks, slabs).
  std::size_t maps = read_max_map_count();
  guard_budget_ = maps > 8192 ? (maps - maps / 4) / 2 : 0;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  guard_budget_ = 0;  // sanitizers own SIGSEGV; no guard pages under them
#endif
}

stack_allocator::~stack_allocator() {
  for (const stack_mem& s : free_)
    if (s.guarded) munmap(s.base - page_, s.size + page_);
  for (char* slab : slabs_) munmap(slab, k_slab_stacks * size_);
}

stack_mem stack_allocator::allocate() {
  {
    std::lock_guard g(lock_);
    if (!free_.empty()) {
      stack_mem s = free_.back();
      free_.pop_back();
      return s;
    }
    if (guarded_live_ < guard_budget_) {
      ++guarded_live_;
    } else {
      return carve_slab();
    }
  }
  return map_guarded();
}

// Outside lock_: one mapping plus a PROT_NONE guard page at its bottom.
stack_mem stack_allocator::map_guarded() {
  void* p = mmap(nullptr, size_ + page_, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) fatal_errno("cannot allocate a fiber stack (mmap)");
  if (mprotect(p, page_, PROT_NONE) != 0) fatal_errno("cannot protect a fiber stack guard page");
  return stack_mem{static_cast<char*>(p) + page_, size_, true};
}

// lock_ held: the next stack of the current slab, mapping a new slab if needed.
stack_mem stack_allocator::carve_slab() {
  if (slab_left_ == 0) {
    void* p = mmap(nullptr, k_slab_stacks * size_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) fatal_errno("cannot allocate fiber stacks (mmap)");
    slabs_.push_back(static_cast<char*>(p));
    slab_next_ = static_cast<char*>(p);
    slab_left_ = k_slab_stacks;
  }
  stack_mem s{slab_next_, size_, false};
  slab_next_ += size_;
  --slab_left_;
  std::memcpy(s.base, &k_canary, sizeof k_canary);
  return s;
}

void stack_allocator::release(stack_mem s) noexcept {
  std::unique_lock g(lock_);
  if (free_.size() < k_free_warm) {
    free_.push_back(s);
    return;
  }
  if (s.guarded) {
    --guarded_live_;
    g.unlock();
    munmap(s.base - page_, s.size + page_);
    return;
  }
  g.unlock();
  // Keep the address range (it belongs to a slab) but give the pages back;
  // keep the first page, which holds the canary.
  madvise(s.base + page_, s.size - page_, MADV_DONTNEED);
  g.lock();
  free_.push_back(s);
}

bool stack_allocator::in_guard(const stack_mem& s, const void* addr) noexcept {
  if (!s.guarded) return false;
  // Called from the SIGSEGV handler: no sysconf here.
  const char* a = static_cast<const char*>(addr);
  return a >= s.base - k_page_guess && a < s.base;
}

}  // namespace gort::detail
