// netfd: a non-blocking socket registered with the netpoller, shared by the
// fibers that use one conn or listener (Go's netFD with its fdMutex).
//
// Invariants:
//   - state_ = refs * 4 + orphaned * 2 + closed. refs counts operations
//     inside the socket (read, write, accept, connect); an operation enters
//     only while closed is clear, so once close() set it no new operation
//     starts.
//   - The descriptor and its poll_desc are released exactly once, by whoever
//     brings state_ to "closed with no refs": close() if nothing was inside,
//     else the last operation to leave. Until then fd_ stays open, so a fiber
//     woken by close() never touches a reused descriptor number.
//   - The object is deleted exactly once, by whoever brings state_ to
//     "orphaned with no refs": dispose() (the owning conn or listener goes
//     away) if nothing was inside, else the last operation to leave. So a
//     fiber woken by close() may still unwind through its operation after the
//     owner was destroyed (Go's GC gives this for free).
//   - close() evicts the poll_desc first, so parked operations wake (io_result
//     ::closed) and leave promptly.
//   - read_drained_ is the reader's (conn::read): set when its last recv
//     returned less than it asked for. On a TCP socket that means the
//     receive queue was empty then, and edge-triggered epoll reports any
//     byte that arrives later as a new edge; so the next read waits for that
//     edge (or finds it remembered) instead of paying for a recv that would
//     say EAGAIN, unless the poller has reported the end of the stream, an
//     error or urgent data (io_short_read_drains: a read stops short before
//     those too).
//   - TSan (gort/detail/race.hpp): leave(), close() and dispose() release on
//     the netfd and release() acquires it, so the descriptor's close comes
//     after every operation that used it (state_ orders them, unseen by TSan).
#pragma once

#include <atomic>
#include <cstdint>

#include "gort/location.hpp"
#include "runtime/netpoll.hpp"

namespace gort::detail {

// Throws std::system_error(e) whose what() names the operation.
[[noreturn]] void throw_errno(int e, const char* what);
// Throws std::system_error(EBADF, "<what>: use of closed network connection").
[[noreturn]] void throw_socket_closed(const char* what);

class netfd {
 public:
  // Any fiber or thread while run() is active. Takes ownership of `fd`
  // (non-blocking) and registers it; on failure closes it and throws.
  explicit netfd(int fd);
  netfd(const netfd&) = delete;
  netfd& operator=(const netfd&) = delete;

  // An operation inside the socket (RAII). Throws the closed error if the
  // socket is closed.
  class op {
   public:
    op(netfd& n, const char* what) : n_(n) { n_.enter(what); }
    ~op() { n_.leave(); }
    op(const op&) = delete;
    op& operator=(const op&) = delete;

   private:
    netfd& n_;
  };

  int fd() const noexcept { return fd_; }
  // Inside an op, after EAGAIN: parks until the socket is ready in `mode`.
  // Throws timeout_error past that direction's deadline (also one set while
  // parked), the closed error once closed. May return spuriously: callers
  // check the deadline and retry their syscall.
  void wait(io_mode mode, const char* what, const location& where);
  // Inside an op, before the syscall: throws timeout_error if the deadline of
  // `mode` passed (Go fails an operation past its deadline even if data is
  // there).
  void check_deadline(io_mode mode, const char* what) const {
    std::int64_t d = deadline(mode).load(std::memory_order_relaxed);
    if (d >= 0) check_deadline_slow(d, what);
  }
  // The reader, inside an op, before its recv: whether to wait for an edge
  // first (its last recv came back short and proved the queue empty; see
  // the invariants). Clears the mark.
  bool take_read_drained() noexcept {
    if (!read_drained_.load(std::memory_order_relaxed)) return false;
    read_drained_.store(false, std::memory_order_relaxed);  // no exchange: one reader
    return io_short_read_drains(pd_);
  }
  // The reader, inside an op, after a recv that filled less than its buffer.
  void mark_read_drained() noexcept { read_drained_.store(true, std::memory_order_relaxed); }
  // Any fiber or thread: the deadline of `mode` (steady-clock ns, < 0 for
  // none), for later operations and for one parked now.
  void set_deadline(io_mode mode, std::int64_t ns) noexcept;
  // Any fiber or thread; idempotent. See the invariants.
  void close() noexcept;
  // The owner, once, instead of delete: closes, and deletes the object now or
  // when the last operation inside leaves.
  void dispose() noexcept;

 private:
  void enter(const char* what);
  bool try_enter() noexcept;  // enter(), or false once closed
  void leave() noexcept;
  void release() noexcept;
  ~netfd() = default;  // only through dispose()
  void check_deadline_slow(std::int64_t d, const char* what) const;

  std::atomic<std::int64_t>& deadline(io_mode m) noexcept {
    return m == io_mode::read ? read_deadline_ : write_deadline_;
  }
  const std::atomic<std::int64_t>& deadline(io_mode m) const noexcept {
    return m == io_mode::read ? read_deadline_ : write_deadline_;
  }

  const int fd_;
  poll_desc* const pd_;
  std::atomic<std::uint32_t> state_{0};
  // Relaxed: read per operation; io_wait re-reads them under the poll_desc's
  // lock, which orders them with io_set_deadline.
  std::atomic<std::int64_t> read_deadline_{-1};
  std::atomic<std::int64_t> write_deadline_{-1};
  // Relaxed: one reader at a time uses it (an atomic only so that two
  // readers, a usage error, are not also a data race).
  std::atomic<bool> read_drained_{false};
};

}  // namespace gort::detail
