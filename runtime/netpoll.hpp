// netpoll: parking fibers on file descriptors (Go's netpoll.go on epoll).
//
// A socket is registered once, edge-triggered, for both directions. A fiber
// that would block calls io_wait(): it parks ("IO wait") until the poller
// reports readiness, the deadline passes, or another fiber closes the
// descriptor. Idle workers wait for I/O inside epoll_wait (the poller role of
// scheduler.hpp), with a timeout equal to the next timer, so I/O and timers
// cost nothing while idle and need no extra thread.
//
// Invariants:
//   - A poll_desc's fields are guarded by its lock_, except `fd`, which is
//     immutable while registered.
//   - At most one fiber waits per direction (one reader, one writer), as in
//     Go; a second concurrent waiter in the same direction is a usage error
//     reported as EALREADY.
//   - Readiness is sticky per direction (edge-triggered): an event that
//     arrives while nobody waits is remembered and consumed by the next
//     io_wait, so no edge is lost.
//   - Once the poller reported a descriptor's end of stream, error or
//     urgent data (EPOLLRDHUP, EPOLLHUP, EPOLLERR, EPOLLPRI), it says so
//     until the descriptor is unregistered (io_short_read_drains).
//   - poll_desc objects are freed only by io_unregister(), after the waiters
//     were woken with io_result::closed.
//   - A deadline that may change (a socket's read or write deadline) is read
//     by io_wait under the descriptor's lock, and io_set_deadline stores it
//     before taking that lock: a waiter either parks with the new deadline
//     or is parked already and is woken to re-read it (Go's SetDeadline on a
//     blocked read).
#pragma once

#include <atomic>
#include <cstdint>

#include "gort/location.hpp"

namespace gort::detail {

enum class io_mode : std::uint8_t { read, write };
enum class io_result : std::uint8_t { ready, timeout, closed };

struct poll_desc;

// Any fiber or thread while run() is active. Registers `fd` (which must be
// non-blocking) with the poller. Throws std::system_error on failure.
poll_desc* io_register(int fd);
// The owner of `pd`, once: wakes any waiter with io_result::closed, removes
// the fd from the poller and frees `pd`. Does not close the fd.
void io_unregister(poll_desc* pd) noexcept;
// Wakes the waiters of `pd` with io_result::closed and makes every later
// io_wait return closed at once (used by close() while others wait).
void io_evict(poll_desc* pd) noexcept;
// A fiber (or plain thread, which blocks) that got EAGAIN from `fd`: parks
// until the fd is ready in `mode`, `deadline_ns` passes (steady-clock ns; < 0
// for none), or the descriptor is evicted. Wait reason "IO wait". `ready` may
// be spurious (a stale edge, a deadline changed meanwhile): callers retry
// their syscall, checking the deadline first.
io_result io_wait(poll_desc* pd, io_mode mode, const std::atomic<std::int64_t>& deadline_ns,
                  const location& where = location::current());
// As above with a deadline that nobody changes while the caller waits.
io_result io_wait(poll_desc* pd, io_mode mode, std::int64_t deadline_ns,
                  const location& where = location::current());
// The reader of `pd`, after a recv that returned less than it asked for:
// whether that proves the receive queue empty, so that the next byte will
// arrive as a new edge and the next read may wait for it without a recv
// that could only fail with EAGAIN (Tokio clears readiness on a short read
// for the same reason). True until the poller reports the end of the
// stream, an error or urgent data: a read stops short before those, and
// their edge may already be consumed. A stale answer is harmless: the edge
// that made it false also left the read ready (or woke the reader, which
// then sees it), so a wait returns at once.
bool io_short_read_drains(const poll_desc* pd) noexcept;
// Any fiber or thread, while `pd` is registered: stores `ns` in `deadline`
// (the one that waits in `mode` on `pd` pass to io_wait) and wakes the fiber
// waiting there now, if any, so that its wait uses the new deadline.
void io_set_deadline(poll_desc* pd, io_mode mode, std::atomic<std::int64_t>& deadline,
                     std::int64_t ns) noexcept;

}  // namespace gort::detail
