// The background context allocates nothing: making, copying and querying it
// (done, err, deadline, value, stop_token) never calls operator new. This
// executable replaces the global operator new/delete with counting ones
// (malloc underneath; under a sanitizer, whose runtime owns them, it counts
// through the sanitizer's allocation hook), so it holds only
// allocation-counting tests.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "gort/gort.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GORT_TEST_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define GORT_TEST_SANITIZER 1
#endif
#endif

namespace {
thread_local long t_allocations = 0;
}  // namespace

#ifdef GORT_TEST_SANITIZER
// A sanitizer's runtime owns operator new (TSan's cannot be replaced): count
// through its allocation hook instead, which sees every operator new too.
// (sanitizer/allocator_interface.h, which gcc 12 does not ship.)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));
namespace {
void count_malloc(const volatile void*, std::size_t) { ++t_allocations; }
void ignore_free(const volatile void*) {}
const int g_hooked = __sanitizer_install_malloc_and_free_hooks(&count_malloc, &ignore_free);
}  // namespace
#else
namespace {
void* counted(std::size_t n) {
  ++t_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* counted_aligned(std::size_t n, std::align_val_t a) {
  ++t_allocations;
  std::size_t al = std::size_t(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted(n); }
void* operator new[](std::size_t n) { return counted(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_aligned(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++t_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  ++t_allocations;
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#endif

namespace {

// Everything a program does with the background context, counted.
long allocations_of_background_use() {
  long before = t_allocations;
  gort::context bg = gort::background();
  gort::context copy = bg;
  gort::context moved = std::move(copy);
  gort::context def;
  bool ok = !bg.done() && !bg.err() && !bg.deadline() && bg.value<int>() == nullptr &&
            !bg.stop_token().stop_possible() && moved == def;
  EXPECT_TRUE(ok);
  return t_allocations - before;
}

}  // namespace

TEST(ContextAlloc, CountingWorks) {
  long before = t_allocations;
  auto [c, cancel] = gort::with_cancel(gort::background());
  EXPECT_GT(t_allocations, before) << "the counter must see a context being made";
}

TEST(ContextAlloc, BackgroundAllocatesNothing) {
  EXPECT_EQ(allocations_of_background_use(), 0);  // outside run()
  long in_run = -1;
  gort::run([&] { in_run = allocations_of_background_use(); }, {.workers = 2});
  EXPECT_EQ(in_run, 0);
}
