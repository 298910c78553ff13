// Fiber annotations for AddressSanitizer and ThreadSanitizer, called around
// every context switch in the same function as the jump (a
// wrapper that returns before the jump corrupts TSan's shadow stack). Without
// a sanitizer every function here is an empty inline.
//
// TSan: every fiber is a TSan fiber, and a switch is announced with no_sync:
// it orders nothing, so that two fibers taking turns on one worker are as
// unordered as two threads. The happens-before edges of Go's memory model
// are stated where they arise instead (gort/detail/race.hpp); the runtime's
// own data moves between fibers in code TSan does not instrument.
#pragma once

#include <cstddef>

#include "gort/detail/race.hpp"  // GORT_TSAN

#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif
#if GORT_ASAN
extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, std::size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                                std::size_t* size_old);
extern "C" void __asan_unpoison_memory_region(void const volatile* addr, std::size_t size);
#endif
#if GORT_TSAN
// The Java interface resets TSan's shadow of a range (tsan_forget_tls()).
// Without __tsan_java_init no range is a Java heap for TSan's reports, and
// its release runtime does not check the ranges these two are given.
extern "C" void __tsan_java_alloc(unsigned long ptr, unsigned long size);
extern "C" int __tsan_java_free(unsigned long ptr, unsigned long size);
extern "C" void* __tsan_get_current_fiber(void);
extern "C" void* __tsan_create_fiber(unsigned flags);
extern "C" void __tsan_destroy_fiber(void* fiber);
extern "C" void __tsan_switch_to_fiber(void* fiber, unsigned flags);
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);
#endif

namespace gort::detail {

// ASan: about to switch to the stack [bottom, bottom + size); `save` keeps
// the leaving context's fake stack (null when the leaving fiber is done).
inline void asan_start_switch([[maybe_unused]] void** save, [[maybe_unused]] const void* bottom,
                              [[maybe_unused]] std::size_t size) noexcept {
#if GORT_ASAN
  __sanitizer_start_switch_fiber(save, bottom, size);
#endif
}
// ASan: arrived; `save` is what this context saved when it left; the stack
// we came from is reported in *bottom_old/*size_old (may be null).
inline void asan_finish_switch([[maybe_unused]] void* save, [[maybe_unused]] const void** bottom_old,
                               [[maybe_unused]] std::size_t* size_old) noexcept {
#if GORT_ASAN
  __sanitizer_finish_switch_fiber(save, bottom_old, size_old);
#endif
}

// ASan: a finished fiber's stack goes back to the pool; frames it left
// poisoned (it never returned from them) must not trip the next user.
inline void asan_unpoison_stack([[maybe_unused]] void* base, [[maybe_unused]] std::size_t size) noexcept {
#if GORT_ASAN
  __asan_unpoison_memory_region(base, size);
#endif
}

// TSan: the calling thread's own context (a worker's g0).
inline void* tsan_current_fiber() noexcept {
#if GORT_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void* tsan_create_fiber() noexcept {
#if GORT_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
// Only for a fiber that ran and is not the current one. It exited inside a
// runtime section: its ignores are closed first (a context must end without).
inline void tsan_destroy_fiber([[maybe_unused]] void* f) noexcept {
#if GORT_TSAN
  if (f) {
    void* here = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(f, 1);
    race_ignore_end();
    __tsan_switch_to_fiber(here, 1);
    __tsan_destroy_fiber(f);
  }
#endif
}
// TSan, in a fiber's context just after it was switched in: the calling
// thread's static TLS (errno, thread_locals and their guards) is used in turn
// by every fiber that runs on the thread, which TSan cannot know; it forgets
// the accesses made by the fibers that ran here before, and the thread's
// start (freeing and re-allocating the range, as a JVM reports a moved
// object). A pointer into TLS kept across a switch, used by a fiber that
// moved to another thread while a fiber runs here, is still reported.
void tsan_forget_tls() noexcept;
// No happens-before edge between the two sides (__tsan_switch_to_fiber_no_sync).
inline void tsan_switch_to([[maybe_unused]] void* f) noexcept {
#if GORT_TSAN
  __tsan_switch_to_fiber(f, 1);
#endif
}

// TSan: the calling thread's reads in this scope are not checked for races.
// Only for a snapshot that is racy by design and says so: a live fiber dump
// reads where each fiber blocked while those fibers run on (as Go's dumps
// do); a fiber woken meanwhile may rewrite it as it is read.
struct tsan_racy_snapshot {
#if GORT_TSAN
  tsan_racy_snapshot() noexcept { AnnotateIgnoreReadsBegin(__FILE__, __LINE__); }
  ~tsan_racy_snapshot() { AnnotateIgnoreReadsEnd(__FILE__, __LINE__); }
#else
  tsan_racy_snapshot() noexcept {}
#endif
  tsan_racy_snapshot(const tsan_racy_snapshot&) = delete;
  tsan_racy_snapshot& operator=(const tsan_racy_snapshot&) = delete;
};

}  // namespace gort::detail
