#include "runtime/stack.hpp"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

#include "runtime/fatal.hpp"
#include "runtime/sanitizer.hpp"
#include "scheduler/futex.hpp"

namespace gort::detail {

namespace {
// A stack's (or a slab of stacks') mapping failed: fatal, naming the call,
// its size and the errno ("fatal error: cannot allocate a fiber stack: mmap
// of 16777216 bytes: Cannot allocate memory").
[[noreturn]] void fatal_mmap(std::size_t bytes) noexcept {
  const int e = errno;
  fatal("cannot allocate a fiber stack: mmap of " + std::to_string(bytes) + " bytes: " + std::strerror(e));
}

constexpr std::size_t k_canary_bytes = 64;

// Tells valgrind (when the program runs under it) that [base, base+size) is
// a stack, so memcheck follows switches onto it. A no-op otherwise.
void register_with_valgrind(stack_mem& s) noexcept {
  if (RUNNING_ON_VALGRIND) s.valgrind_id = VALGRIND_STACK_REGISTER(s.base, s.base + s.size);
}
void unregister_from_valgrind(const stack_mem& s) noexcept {
  if (s.valgrind_id) VALGRIND_STACK_DEREGISTER(s.valgrind_id);
}
constexpr std::size_t k_slab_stacks = 64;
// Warm stacks kept resident; when twice as many are free, the older half
// gives its pages back, in one madvise per run of adjacent stacks.
constexpr std::size_t k_warm_keep = 1024;
// At most one trim per this interval from release(); idle workers trim at once.
constexpr std::int64_t k_trim_interval_ns = 100'000'000;
// Releases between two looks at the clock while a trim is waiting for its turn.
constexpr std::uint32_t k_trim_check_every = 64;
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
  const auto* w = reinterpret_cast<const std::uint64_t*>(base);
  std::uint64_t any = 0;
  for (std::size_t i = 0; i < k_canary_bytes / sizeof(std::uint64_t); ++i) any |= w[i];
  return any == 0;
}

void tsan_forget_tls() noexcept {
#if GORT_TSAN
  // The static TLS block's size (glibc's, as TSan itself reads it); the
  // block lies below the thread pointer on x86-64, above it on aarch64.
  static const unsigned long size = [] {
    std::size_t n = 0, align = 0;
    auto info = reinterpret_cast<void (*)(std::size_t*, std::size_t*)>(
        dlsym(RTLD_DEFAULT, "_dl_get_tls_static_info"));
    if (info) info(&n, &align);
    return (static_cast<unsigned long>(n) + 7) & ~7ul;
  }();
  if (size == 0) return;
  const auto tp = static_cast<unsigned long>(pthread_self());
#if defined(__aarch64__)
  const unsigned long begin = tp;
#else
  const unsigned long begin = (tp - size) & ~7ul;
#endif
  __tsan_java_free(begin, size);
  __tsan_java_alloc(begin, size);
#endif
}

void stack_mem::forget_last_use() noexcept {
#if GORT_TSAN
  // Same protection and flags as the slab or mapping it came from, so the
  // kernel merges the new mapping back with its neighbours.
  if (mmap(base, size, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK | MAP_FIXED, -1, 0) == MAP_FAILED)
    fatal_mmap(size);
#endif
}

stack_allocator::stack_allocator(std::size_t size) {
  page_ = std::size_t(sysconf(_SC_PAGESIZE));
  size_ = (size + page_ - 1) / page_ * page_;
  // Each guarded stack costs two mappings; keep a quarter of the limit for
  // the rest of the process (heap, libraries, thread stacks, slabs).
  std::size_t maps = read_max_map_count();
  guard_budget_ = maps > 8192 ? (maps - maps / 4) / 2 : 0;
#if GORT_ASAN || GORT_TSAN
  guard_budget_ = 0;  // sanitizers own SIGSEGV; no guard pages under them
#endif
}

stack_allocator::~stack_allocator() {
  for (auto* list : {&warm_, &clean_}) {
    for (const stack_mem& s : *list) {
      unregister_from_valgrind(s);
      if (s.guarded) munmap(s.base - page_, s.size + page_);
    }
  }
  for (char* slab : slabs_) munmap(slab, k_slab_stacks * size_);
}

stack_mem stack_allocator::allocate() {
  {
    locked g(lock_);
    for (auto* list : {&warm_, &clean_}) {
      if (!list->empty()) {
        stack_mem s = list->back();
        list->pop_back();
        warm_count_.store(warm_.size(), std::memory_order_relaxed);
        return s;
      }
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
  if (p == MAP_FAILED) fatal_mmap(size_ + page_);
  if (mprotect(p, page_, PROT_NONE) != 0) fatal_errno("cannot protect a fiber stack guard page");
  stack_mem s{static_cast<char*>(p) + page_, size_, true};
  register_with_valgrind(s);
  return s;
}

// lock_ held: the next stack of the current slab, mapping a new slab if needed.
stack_mem stack_allocator::carve_slab() {
  if (slab_left_ == 0) {
    void* p = mmap(nullptr, k_slab_stacks * size_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) fatal_mmap(k_slab_stacks * size_);
    slabs_.push_back(static_cast<char*>(p));
    slab_next_ = static_cast<char*>(p);
    slab_left_ = k_slab_stacks;
  }
  stack_mem s{slab_next_, size_, false};  // fresh pages: the zero canary holds
  slab_next_ += size_;
  --slab_left_;
  register_with_valgrind(s);
  return s;
}

void stack_allocator::release(stack_mem s) noexcept {
  locked g(lock_);
  warm_.push_back(s);
  warm_count_.store(warm_.size(), std::memory_order_relaxed);
  if (warm_.size() < 2 * k_warm_keep || trimming_ || !trim_due()) return;
  trim_locked_excess();
}

void stack_allocator::trim_excess() noexcept {
  if (warm_count_.load(std::memory_order_relaxed) < 2 * k_warm_keep) return;
  locked g(lock_);
  if (warm_.size() < 2 * k_warm_keep || trimming_) return;
  trim_locked_excess();
}

// lock_ held, over the bound: has the trim interval passed? Reads the clock
// only every k_trim_check_every calls.
bool stack_allocator::trim_due() noexcept {
  if (trim_countdown_ > 0) {
    --trim_countdown_;
    return false;
  }
  trim_countdown_ = k_trim_check_every;
  return now_ns() - last_trim_ns_ >= k_trim_interval_ns;
}

// lock_ held, over the bound and no trim running: the older half of warm_
// (its front) goes cold. Unlocks while giving the pages back (trimming_
// keeps a second trim out meanwhile).
void stack_allocator::trim_locked_excess() noexcept {
  trimming_ = true;
  std::vector<stack_mem> cold(warm_.begin(), warm_.end() - k_warm_keep);
  warm_.erase(warm_.begin(), warm_.end() - k_warm_keep);
  warm_count_.store(warm_.size(), std::memory_order_relaxed);
  lock_.unlock();
  trim(cold);
  lock_.lock();
  clean_.insert(clean_.end(), cold.begin(), cold.end());
  last_trim_ns_ = now_ns();
  trimming_ = false;
}

// Outside lock_: gives the pages of `cold` back to the system, coalescing
// adjacent stacks (a slab's neighbours, or guarded stacks mapped back to back
// with their guard pages between them) into one madvise each.
void stack_allocator::trim(std::vector<stack_mem>& cold) noexcept {
  std::sort(cold.begin(), cold.end(), [](const stack_mem& a, const stack_mem& b) { return a.base < b.base; });
  std::size_t i = 0;
  while (i < cold.size()) {
    char* begin = cold[i].base;
    char* end = cold[i].top();
    std::size_t j = i + 1;
    for (; j < cold.size(); ++j) {
      char* next = cold[j].guarded ? cold[j].base - page_ : cold[j].base;
      if (next != end) break;
      end = cold[j].top();
    }
    madvise(begin, std::size_t(end - begin), MADV_DONTNEED);
    i = j;
  }
}

bool stack_allocator::in_guard(const stack_mem& s, const void* addr) noexcept {
  if (!s.guarded) return false;
  // Called from the SIGSEGV handler: no sysconf here.
  const char* a = static_cast<const char*>(addr);
  return a >= s.base - k_page_guess && a < s.base;
}

}  // namespace gort::detail
