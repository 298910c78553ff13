// Race-detector annotations: the happens-before edges of Go's memory model,
// stated to ThreadSanitizer by the code that creates them. Internal;
// installed because inline code in public headers (mutex, tasks, channel
// handles) states edges too.
//
// Under GORT_SANITIZE=thread gort's own objects are compiled without TSan's
// instrumentation, as Go's runtime is compiled without the race detector's:
// its locks, queues and atomics order nothing in TSan's eyes, and a fiber
// switch orders nothing either (runtime/sanitizer.hpp switches with no_sync).
// Only the edges below do, each made where Go's race annotations make it
// (chan.go, sema.go, sync/*.go, proc.go): so two fibers that touch the same
// memory with no channel, lock, wait group, join, go or std atomic between
// them are reported, at any worker count, 1 included. The user's code and the
// templates of the public headers (values moved through channels, fiber
// callables) stay instrumented. docs/api.md, "Race detection", lists what
// counts as synchronisation.
//
// Without TSan every function here is an empty inline and race_edge is an
// empty class: nothing reaches the hot paths.
#pragma once

#include <cstddef>

#if !defined(GORT_TSAN)
#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif
#endif

#if GORT_TSAN
extern "C" {
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
// tsan_interface_atomic.h (not shipped by every compiler): 8-bit atomics
// with TSan's memory orders (acquire = 2, release = 3).
char __tsan_atomic8_load(const volatile char* a, int mo);
void __tsan_atomic8_store(volatile char* a, char v, int mo);
void AnnotateIgnoreReadsBegin(const char* file, int line);
void AnnotateIgnoreReadsEnd(const char* file, int line);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
void AnnotateIgnoreSyncBegin(const char* file, int line);
void AnnotateIgnoreSyncEnd(const char* file, int line);
}
#endif

namespace gort::detail {

#if GORT_TSAN
inline constexpr bool race_enabled = true;
#else
inline constexpr bool race_enabled = false;
#endif

// Everything the calling context did so far happens before whatever a later
// race_acquire(addr) by any context does next (TSan's release: the edges of
// every release on `addr` accumulate).
inline void race_release([[maybe_unused]] const void* addr) noexcept {
#if GORT_TSAN
  __tsan_release(const_cast<void*>(addr));
#endif
}
inline void race_acquire([[maybe_unused]] const void* addr) noexcept {
#if GORT_TSAN
  __tsan_acquire(const_cast<void*>(addr));
#endif
}
// Go's racereleaseacquire (a buffered channel's slot): the caller is ordered
// after every earlier operation on `addr` and before every later one.
inline void race_release_acquire([[maybe_unused]] const void* addr) noexcept {
#if GORT_TSAN
  __tsan_acquire(const_cast<void*>(addr));
  __tsan_release(const_cast<void*>(addr));
#endif
}

// A one-way edge to one context at a time, which the next publish replaces
// (a release store): what a waker hands the fiber it readies, and a fiber
// about to park on a channel hands the partner that will take its record.
class race_edge {
 public:
#if GORT_TSAN
  void publish() noexcept { __tsan_atomic8_store(&b_, 0, 3); }
  void take() noexcept { (void)__tsan_atomic8_load(&b_, 2); }

 private:
  volatile char b_ = 0;
#else
  void publish() noexcept {}
  void take() noexcept {}
#endif
};

// While one lives, TSan neither checks nor records the calling context's
// memory accesses and ignores its synchronisation (explicit edges included):
// for runtime work that runs on a worker's own stack on nobody's behalf
// (timer callbacks), and internal locks that would otherwise order fibers.
// race_ignore_begin()/end() open and close such a stretch by hand (they
// nest); race_ignored is the scope-bound form.
inline void race_ignore_begin() noexcept {
#if GORT_TSAN
  AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  AnnotateIgnoreSyncBegin(__FILE__, __LINE__);
#endif
}
inline void race_ignore_end() noexcept {
#if GORT_TSAN
  AnnotateIgnoreSyncEnd(__FILE__, __LINE__);
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
  AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
#endif
}
class race_ignored {
 public:
  race_ignored() noexcept { race_ignore_begin(); }  // user-provided: no unused-variable warning
  ~race_ignored() { race_ignore_end(); }
  race_ignored(const race_ignored&) = delete;
  race_ignored& operator=(const race_ignored&) = delete;
};

}  // namespace gort::detail
