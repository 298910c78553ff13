// The wrappers behind gort_fault (see fault.hpp): each --wrap'ed call asks
// should_fail() and either fails with the rule's errno or calls the real one.
#include "fault/fault.hpp"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <system_error>
#include <thread>

namespace gort_fault {

namespace {

// One call's rule. Relaxed throughout: see fault.hpp.
struct slot {
  std::atomic<bool> armed{false};
  std::atomic<unsigned> nth{1}, times{1}, seen{0}, failed{0};
  std::atomic<int> error{EIO}, fd{-1}, mmap_flags{0};
};

slot g_slots[unsigned(call::count_)];

slot& of(call c) noexcept { return g_slots[unsigned(c)]; }

// True (errno set) if this call of `c`, on descriptor `fd` with mmap flags
// `flags`, is one the rule fails.
bool should_fail(call c, int fd, int flags = 0) noexcept {
  slot& s = of(c);
  if (!s.armed.load(std::memory_order_relaxed)) return false;
  const int want_fd = s.fd.load(std::memory_order_relaxed);
  if (want_fd >= 0 && fd != want_fd) return false;
  const int want_flags = s.mmap_flags.load(std::memory_order_relaxed);
  if ((flags & want_flags) != want_flags) return false;
  const unsigned k = s.seen.fetch_add(1, std::memory_order_relaxed) + 1;
  const unsigned first = s.nth.load(std::memory_order_relaxed);
  if (k < first || k - first >= s.times.load(std::memory_order_relaxed)) return false;
  s.failed.fetch_add(1, std::memory_order_relaxed);
  errno = s.error.load(std::memory_order_relaxed);
  return true;
}

}  // namespace

void inject(call c, const rule& r) noexcept {
  slot& s = of(c);
  s.armed.store(false, std::memory_order_relaxed);
  s.nth.store(r.nth, std::memory_order_relaxed);
  s.times.store(r.times, std::memory_order_relaxed);
  s.error.store(r.error, std::memory_order_relaxed);
  s.fd.store(r.fd, std::memory_order_relaxed);
  s.mmap_flags.store(r.mmap_flags, std::memory_order_relaxed);
  s.seen.store(0, std::memory_order_relaxed);
  s.failed.store(0, std::memory_order_relaxed);
  s.armed.store(true, std::memory_order_relaxed);
}

void clear() noexcept {
  for (slot& s : g_slots) s.armed.store(false, std::memory_order_relaxed);
}

unsigned failures(call c) noexcept { return of(c).failed.load(std::memory_order_relaxed); }
unsigned calls(call c) noexcept { return of(c).seen.load(std::memory_order_relaxed); }

}  // namespace gort_fault

using gort_fault::call;
using gort_fault::should_fail;

// std::thread::_M_start_thread(std::unique_ptr<_State>, void (*)()), called
// by every std::thread and std::jthread constructor.
#define GORT_FAULT_START_THREAD \
  _ZNSt6thread15_M_start_threadESt10unique_ptrINS_6_StateESt14default_deleteIS1_EEPFvvE
#define GORT_FAULT_CAT(a, b) a##b
#define GORT_FAULT_WRAP(name) GORT_FAULT_CAT(__wrap_, name)
#define GORT_FAULT_REAL(name) GORT_FAULT_CAT(__real_, name)

extern "C" {

void* __real_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_accept(int fd, sockaddr* addr, socklen_t* len);
int __real_accept4(int fd, sockaddr* addr, socklen_t* len, int flags);
int __real_epoll_ctl(int epfd, int op, int fd, epoll_event* ev);
ssize_t __real_read(int fd, void* buf, size_t n);
ssize_t __real_write(int fd, const void* buf, size_t n);
ssize_t __real_recv(int fd, void* buf, size_t n, int flags);
ssize_t __real_send(int fd, const void* buf, size_t n, int flags);
void GORT_FAULT_REAL(GORT_FAULT_START_THREAD)(std::thread* self, std::unique_ptr<std::thread::_State> state,
                                              void (*depend)());

void* __wrap_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (should_fail(call::mmap, fd, flags)) return MAP_FAILED;
  return __real_mmap(addr, len, prot, flags, fd, off);
}

int __wrap_accept(int fd, sockaddr* addr, socklen_t* len) {
  if (should_fail(call::accept, fd)) return -1;
  return __real_accept(fd, addr, len);
}

int __wrap_accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (should_fail(call::accept, fd)) return -1;
  return __real_accept4(fd, addr, len, flags);
}

int __wrap_epoll_ctl(int epfd, int op, int fd, epoll_event* ev) {
  if (should_fail(call::epoll_ctl, fd)) return -1;
  return __real_epoll_ctl(epfd, op, fd, ev);
}

ssize_t __wrap_read(int fd, void* buf, size_t n) {
  if (should_fail(call::read, fd)) return -1;
  return __real_read(fd, buf, n);
}

ssize_t __wrap_write(int fd, const void* buf, size_t n) {
  if (should_fail(call::write, fd)) return -1;
  return __real_write(fd, buf, n);
}

ssize_t __wrap_recv(int fd, void* buf, size_t n, int flags) {
  if (should_fail(call::recv, fd)) return -1;
  return __real_recv(fd, buf, n, flags);
}

ssize_t __wrap_send(int fd, const void* buf, size_t n, int flags) {
  if (should_fail(call::send, fd)) return -1;
  return __real_send(fd, buf, n, flags);
}

// What libstdc++ does when pthread_create fails: throws std::system_error
// with the errno (the thread's state, owned by `state`, is destroyed).
void GORT_FAULT_WRAP(GORT_FAULT_START_THREAD)(std::thread* self, std::unique_ptr<std::thread::_State> state,
                                              void (*depend)()) {
  if (should_fail(call::thread_start, -1))
    throw std::system_error(std::error_code(errno, std::generic_category()));
  GORT_FAULT_REAL(GORT_FAULT_START_THREAD)(self, std::move(state), depend);
}

}  // extern "C"
