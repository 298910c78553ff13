// Fault injection for tests: makes chosen C library calls fail on their Nth
// call with a chosen errno. Test-only; never part of gort::gort.
//
// How: a test executable that links gort_fault is linked with
// -Wl,--wrap=<call> for each call below (tests/CMakeLists.txt), so every
// reference to, say, `mmap` in the test's objects and in the members of
// libgort.a it pulls in calls __wrap_mmap (fault.cpp). The wrapper fails
// when told to and otherwise calls __real_mmap: the C library's, or the
// sanitizer's interceptor in a sanitizer build.
//
// Why link-time wrapping and not a table of syscalls inside gort: the
// library does not change for it (no indirection on its hot paths, nothing
// test-only shipped), and the wrapper sees each call exactly where gort makes
// it: a fiber stack's mmap, the poller's epoll_ctl, an accept4 or a send.
// Its one limit: calls made inside shared libraries are not wrapped.
// std::thread starts its thread with pthread_create inside libstdc++.so, so
// thread creation fails at std::thread's one out-of-line entry,
// std::thread::_M_start_thread, which gort's objects (and the tests') call:
// it throws what libstdc++ throws when pthread_create fails.
//
// Invariants: a rule is armed by inject() and counts only the calls that
// match it (fd, mmap flags) from then on; matching calls nth .. nth+times-1
// fail. Rules are read with relaxed atomics: arm them while the calls they
// target are quiet (the injection adds no synchronisation between threads,
// so it hides no race from TSan).
#pragma once

#include <cerrno>

namespace gort_fault {

enum class call : unsigned {
  mmap,          // mmap(2)
  accept,        // accept(2) and accept4(2)
  epoll_ctl,     // epoll_ctl(2)
  read,          // read(2)
  write,         // write(2)
  recv,          // recv(2): gort::net::conn::read
  send,          // send(2): gort::net::conn::write
  thread_start,  // std::thread / std::jthread construction (pthread_create)
  count_,
};

struct rule {
  unsigned nth = 1;    // the first matching call to fail (1: the next one)
  unsigned times = 1;  // how many matching calls in a row fail
  int error = EIO;     // the errno they fail with
  int fd = -1;         // only calls on this descriptor (epoll_ctl: the one
                       // added or removed; accept: the listener); -1: any
  int mmap_flags = 0;  // mmap: only calls whose flags include all of these
};

// Arms `r` for `c`, replacing an earlier rule; counting starts now.
void inject(call c, const rule& r) noexcept;
// Disarms every rule.
void clear() noexcept;
// The calls of `c` failed since the last inject(c).
unsigned failures(call c) noexcept;
// The calls of `c` the rule matched since the last inject(c), failed or not.
unsigned calls(call c) noexcept;
// A rule::nth that fails no call: inject() with it only counts calls.
inline constexpr unsigned k_never = ~0u;

// Disarms every rule when it goes out of scope (so a failed assertion cannot
// leave one armed for the next test).
struct scoped_clear {
  scoped_clear() = default;
  scoped_clear(const scoped_clear&) = delete;
  scoped_clear& operator=(const scoped_clear&) = delete;
  ~scoped_clear() { clear(); }
};

}  // namespace gort_fault
