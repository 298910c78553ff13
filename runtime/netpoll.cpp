// The epoll side of netpoll.hpp: registration, the poll loop that idle
// workers run, and the per-descriptor parking protocol.
#include "runtime/netpoll.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <mutex>
#include <system_error>

#include "gort/detail/scope_exit.hpp"
#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/park.hpp"

namespace gort::detail {

// A fiber waiting on one direction of a descriptor; lives on its stack.
struct io_waiter {
  fiber* who = nullptr;
  io_result result = io_result::ready;
  poll_desc* pd = nullptr;
  io_mode mode = io_mode::read;
  struct deadline_timer : timer {
    io_waiter* w = nullptr;
  } deadline;
};

struct poll_desc {
  int fd = -1;
  spinlock lock_;
  bool read_ready_ GORT_GUARDED_BY(lock_) = false;   // an edge arrived while no reader waited
  bool write_ready_ GORT_GUARDED_BY(lock_) = false;  // likewise for writers
  bool evicted_ GORT_GUARDED_BY(lock_) = false;
  // Sticky: the poller reported the end of the stream, an error or urgent
  // data (io_short_read_drains). Stored under lock_ with the edge that
  // reported it; read without it.
  std::atomic<bool> read_end_{false};
  io_waiter* reader_ GORT_GUARDED_BY(lock_) = nullptr;
  io_waiter* writer_ GORT_GUARDED_BY(lock_) = nullptr;
  poll_desc* next_free_ = nullptr;  // netpoller::free_ list

  io_waiter*& slot(io_mode m) noexcept GORT_REQUIRES(lock_) { return m == io_mode::read ? reader_ : writer_; }
  bool& ready_flag(io_mode m) noexcept GORT_REQUIRES(lock_) {
    return m == io_mode::read ? read_ready_ : write_ready_;
  }
};

namespace {
// io_wait blocks, so it cannot hold g_runtime_lock as with_runtime() would:
// a plain thread reads g_runtime without it, which is safe only while that
// run() is active (a socket must not outlive the run that registered it).
runtime& current_runtime(const char* what) {
  if (machine* m = machine_of_thread()) return m->rt();
  runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (!rt) throw std::logic_error(std::string(what) + ": no gort::run() is active");
  return *rt;
}
}  // namespace

// ---- netpoller -------------------------------------------------------------

netpoller::~netpoller() {
  if (epfd_ >= 0) ::close(epfd_);
  if (wakefd_ >= 0) ::close(wakefd_);
  for (poll_desc* pd : all_) delete pd;
}

void netpoller::init_locked() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "gort netpoll: epoll_create1");
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) throw std::system_error(errno, std::generic_category(), "gort netpoll: eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = nullptr;  // null marks the wake-up descriptor
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "gort netpoll: epoll_ctl(eventfd)");
}

poll_desc* netpoller::open(int fd) {
  poll_desc* pd;
  {
    race_ignored internal;  // TSan: mu_ must not order the fibers that open sockets
    std::lock_guard g(mu_);
    if (epfd_ < 0) init_locked();
    if (free_) {
      pd = free_;
      free_ = pd->next_free_;
    } else {
      pd = new poll_desc;
      all_.push_back(pd);
    }
  }
  {
    locked g(pd->lock_);
    pd->fd = fd;
    pd->read_ready_ = pd->write_ready_ = pd->evicted_ = false;
    pd->read_end_.store(false, std::memory_order_relaxed);
    pd->reader_ = pd->writer_ = nullptr;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = pd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int e = errno;
    release(pd);
    throw std::system_error(e, std::generic_category(), "gort netpoll: epoll_ctl(ADD)");
  }
  // seq_cst: a Dekker pairing with the poller, which takes its role (seq_cst)
  // and then reads registered_ to choose between epoll and its futex.
  if (registered_.fetch_add(1, std::memory_order_seq_cst) == 0 && on_first_) on_first_();
  return pd;
}

void netpoller::close(poll_desc* pd) noexcept {
  evict(pd);
  epoll_ctl(epfd_, EPOLL_CTL_DEL, pd->fd, nullptr);
  registered_.fetch_sub(1, std::memory_order_acq_rel);
  release(pd);
}

// The object is recycled, never freed during the run: a poll in flight may
// still hold its address (a stale edge then causes one spurious wake-up,
// which callers absorb by retrying their syscall).
void netpoller::release(poll_desc* pd) noexcept {
  race_ignored internal;  // TSan: as in open()
  std::lock_guard g(mu_);
  pd->next_free_ = free_;
  free_ = pd;
}

void netpoller::evict(poll_desc* pd) noexcept {
  io_waiter* woken[2];
  {
    locked g(pd->lock_);
    pd->evicted_ = true;
    woken[0] = std::exchange(pd->reader_, nullptr);
    woken[1] = std::exchange(pd->writer_, nullptr);
  }
  for (io_waiter* w : woken) {
    if (!w) continue;
    w->result = io_result::closed;
    ready(w->who);
  }
}

// Lock of `pd` not held: an edge in `mode` arrived; `end`: it reported the
// end of the stream, an error or urgent data (read only).
void netpoller::deliver(poll_desc* pd, io_mode mode, bool end) noexcept {
  io_waiter* w;
  {
    locked g(pd->lock_);
    if (end) pd->read_end_.store(true, std::memory_order_relaxed);  // before the edge is seen
    w = std::exchange(pd->slot(mode), nullptr);
    if (!w) {
      pd->ready_flag(mode) = true;
      return;
    }
  }
  w->result = io_result::ready;
  ready(w->who);
}

void netpoller::poll(std::int64_t deadline_ns) noexcept {
  if (epfd_ < 0) return;
  epoll_event events[128];
  int timeout_ms = 0;
  if (deadline_ns < 0) {
    timeout_ms = -1;
  } else if (deadline_ns > 0) {
    std::int64_t left = deadline_ns - now_ns();
    // Round up: waking before the deadline would only poll again.
    timeout_ms = left <= 0 ? 0 : int(std::min<std::int64_t>((left + 999'999) / 1'000'000, INT_MAX));
  }
  int n = epoll_wait(epfd_, events, 128, timeout_ms);
  last_poll_ns_.store(now_ns(), std::memory_order_relaxed);
  for (int i = 0; i < n; ++i) {
    auto* pd = static_cast<poll_desc*>(events[i].data.ptr);
    std::uint32_t ev = events[i].events;
    if (!pd) {
      std::uint64_t drain;
      while (::read(wakefd_, &drain, sizeof drain) > 0) {}
      interrupting_.store(false, std::memory_order_release);
      continue;
    }
    constexpr std::uint32_t k_read_end = EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
    if (ev & (EPOLLIN | k_read_end)) deliver(pd, io_mode::read, (ev & k_read_end) != 0);
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) deliver(pd, io_mode::write, false);
  }
}

void netpoller::interrupt() noexcept {
  if (epfd_ < 0) return;
  // One pending interrupt is enough; acq_rel pairs with the release in poll().
  if (interrupting_.exchange(true, std::memory_order_acq_rel)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t r = ::write(wakefd_, &one, sizeof one);
}

// ---- io_wait ---------------------------------------------------------------

namespace {
void on_deadline(timer* t) {
  io_waiter* w = static_cast<io_waiter::deadline_timer*>(t)->w;
  poll_desc* pd = w->pd;
  {
    locked g(pd->lock_);
    if (pd->slot(w->mode) != w) return;  // already woken by I/O or eviction
    pd->slot(w->mode) = nullptr;
  }
  w->result = io_result::timeout;
  ready(w->who);
}

// The park's unlock step: the deadline timer starts only once we are
// switched out, so it cannot ready us early.
void arm_and_unlock(void* arg) GORT_NO_THREAD_SAFETY_ANALYSIS {  // pd's lock, taken by wait()
  auto* w = static_cast<io_waiter*>(arg);
  if (w->deadline.when >= 0) w->deadline.start(w->deadline.when);
  w->pd->lock_.unlock();
}
}  // namespace

// Not analysed: the descriptor's lock is released by park's unlock step
// (arm_and_unlock), on the other side of the switch.
io_result netpoller::wait(poll_desc* pd, io_mode mode, const std::atomic<std::int64_t>& deadline,
                          const location& where) GORT_NO_THREAD_SAFETY_ANALYSIS {
  pd->lock_.lock();
  // Under the lock: ordered with set_deadline() (see netpoll.hpp).
  const std::int64_t deadline_ns = deadline.load(std::memory_order_relaxed);
  if (pd->evicted_) {
    pd->lock_.unlock();
    return io_result::closed;
  }
  if (pd->ready_flag(mode)) {
    pd->ready_flag(mode) = false;
    pd->lock_.unlock();
    return io_result::ready;
  }
  if (deadline_ns >= 0 && deadline_ns <= now_ns()) {
    pd->lock_.unlock();
    return io_result::timeout;
  }
  if (pd->slot(mode)) {
    pd->lock_.unlock();
    throw std::system_error(EALREADY, std::generic_category(),
                            "gort: another fiber is already waiting on this socket in the same direction");
  }
  io_waiter w;
  w.who = self();
  w.pd = pd;
  w.mode = mode;
  w.deadline.fn = &on_deadline;
  w.deadline.w = &w;
  w.deadline.when = deadline_ns;
  pd->slot(mode) = &w;
  // A service fiber's wait (a debug listener) never keeps the deadlock
  // check quiet: only the user's I/O counts.
  const bool counted = !w.who->system_;
  w.deadline.system = !counted;  // nor does its deadline (see timer.hpp)
  if (counted) waiters_.fetch_add(1, std::memory_order_acq_rel);
  scope_exit cleanup([&] {
    w.deadline.stop();  // waits for a callback in flight
    {
      locked g(w.pd->lock_);
      if (w.pd->slot(w.mode) == &w) w.pd->slot(w.mode) = nullptr;  // unwound at exit
    }
    if (counted) waiters_.fetch_sub(1, std::memory_order_acq_rel);
  });
  park(&arm_and_unlock, &w, wait_reason::io_wait, where);
  return w.result;
}

// Any fiber or thread. Relaxed store: pd's lock orders it with wait()'s load.
void netpoller::set_deadline(poll_desc* pd, io_mode mode, std::atomic<std::int64_t>& deadline,
                             std::int64_t ns) noexcept {
  deadline.store(ns, std::memory_order_relaxed);
  io_waiter* w;
  {
    locked g(pd->lock_);
    w = std::exchange(pd->slot(mode), nullptr);
  }
  if (!w) return;
  // A spurious `ready`: the waiter's syscall loop checks the new deadline,
  // retries, and waits again with it.
  w->result = io_result::ready;
  ready(w->who);
}

// ---- netpoll.hpp -----------------------------------------------------------

poll_desc* io_register(int fd) {
  return with_runtime([fd](runtime* rt, worker*) {
    if (!rt) throw std::logic_error("gort::net: no gort::run() is active");
    return rt->poller().open(fd);
  });
}

void io_unregister(poll_desc* pd) noexcept {
  with_runtime([pd](runtime* rt, worker*) {
    if (rt) rt->poller().close(pd);
  });
}

void io_evict(poll_desc* pd) noexcept { netpoller::evict(pd); }

bool io_short_read_drains(const poll_desc* pd) noexcept {
  return !pd->read_end_.load(std::memory_order_relaxed);  // see netpoll.hpp for why relaxed suffices
}

io_result io_wait(poll_desc* pd, io_mode mode, const std::atomic<std::int64_t>& deadline_ns,
                  const location& where) {
  return current_runtime("gort::net").poller().wait(pd, mode, deadline_ns, where);
}

io_result io_wait(poll_desc* pd, io_mode mode, std::int64_t deadline_ns, const location& where) {
  const std::atomic<std::int64_t> fixed{deadline_ns};
  return io_wait(pd, mode, fixed, where);
}

void io_set_deadline(poll_desc* pd, io_mode mode, std::atomic<std::int64_t>& deadline,
                     std::int64_t ns) noexcept {
  netpoller::set_deadline(pd, mode, deadline, ns);
}

}  // namespace gort::detail
