// netpoller: the runtime's epoll instance (see netpoll.hpp for the protocol).
//
// Invariants:
//   - epfd_/wakefd_ are created once, on the first registration, under mu_,
//     and closed when the runtime is destroyed.
//   - poll_desc objects are owned by all_ and recycled through free_ (both
//     guarded by mu_); none is freed while the runtime lives.
//   - registered_ counts registered descriptors; waiters_ counts fibers
//     parked in wait() (the deadlock check treats them as "not yet").
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "gort/location.hpp"
#include "runtime/netpoll.hpp"

namespace gort::detail {

class netpoller {
 public:
  netpoller() = default;
  ~netpoller();
  netpoller(const netpoller&) = delete;
  netpoller& operator=(const netpoller&) = delete;

  // Any thread while the runtime runs (see netpoll.hpp).
  poll_desc* open(int fd);
  void close(poll_desc* pd) noexcept;
  static void evict(poll_desc* pd) noexcept;
  io_result wait(poll_desc* pd, io_mode mode, const std::atomic<std::int64_t>& deadline_ns,
                 const location& where);
  static void set_deadline(poll_desc* pd, io_mode mode, std::atomic<std::int64_t>& deadline,
                           std::int64_t ns) noexcept;

  // Workers: waits for events until deadline_ns (-1: none, 0: just look) and
  // readies the fibers they concern.
  void poll(std::int64_t deadline_ns) noexcept;
  // Any thread: makes a blocked poll() return.
  void interrupt() noexcept;

  bool active() const noexcept { return registered_.load(std::memory_order_seq_cst) > 0; }
  // Before any registration: called when the first descriptor registers (an
  // idle poller sleeping on its futex must move into epoll).
  void set_on_first(void (*fn)()) noexcept { on_first_ = fn; }
  long waiters() const noexcept { return waiters_.load(std::memory_order_acquire); }
  // Any thread: when poll() last returned (now_ns() ns; 0: never).
  std::int64_t last_poll_ns() const noexcept { return last_poll_ns_.load(std::memory_order_relaxed); }

 private:
  void init_locked();
  void release(poll_desc* pd) noexcept;
  static void deliver(poll_desc* pd, io_mode mode, bool end) noexcept;

  std::mutex mu_;
  int epfd_ = -1;
  int wakefd_ = -1;
  std::vector<poll_desc*> all_;  // guarded by mu_
  poll_desc* free_ = nullptr;    // guarded by mu_
  std::atomic<long> registered_{0};
  std::atomic<long> waiters_{0};
  std::atomic<bool> interrupting_{false};
  std::atomic<std::int64_t> last_poll_ns_{0};
  void (*on_first_)() = nullptr;
};

}  // namespace gort::detail
