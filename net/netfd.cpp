#include "net/netfd.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "gort/detail/race.hpp"
#include "gort/net.hpp"
#include "scheduler/futex.hpp"

namespace gort::detail {

namespace {
constexpr std::uint32_t k_closed = 1;
constexpr std::uint32_t k_orphaned = 2;
constexpr std::uint32_t k_ref = 4;

// Registers `fd`, closing it if that fails (the constructor's only step that
// can throw).
poll_desc* register_or_close(int fd) {
  try {
    return io_register(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
}
}  // namespace

void netfd_disposer::operator()(netfd* fd) const noexcept { fd->dispose(); }

void throw_errno(int e, const char* what) { throw std::system_error(e, std::generic_category(), what); }

void throw_socket_closed(const char* what) {
  throw std::system_error(EBADF, std::generic_category(),
                          std::string(what) + ": use of closed network connection");
}

netfd::netfd(int fd) : fd_(fd), pd_(register_or_close(fd)) {}

// Any fiber or thread (from op's constructor).
void netfd::enter(const char* what) {
  if (!try_enter()) throw_socket_closed(what);
}

bool netfd::try_enter() noexcept {
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  do {
    if (s & k_closed) return false;
    // acq_rel: pairs with the RMW of close()/leave() that released the fd.
  } while (!state_.compare_exchange_weak(s, s + k_ref, std::memory_order_acq_rel, std::memory_order_relaxed));
  return true;
}

// Any fiber or thread (from op's destructor).
void netfd::leave() noexcept {
  race_release(this);  // TSan: our use of fd_ happens before its close (release())
  // acq_rel: our use of fd_ happens before release() by whoever sees zero refs.
  std::uint32_t now = state_.fetch_sub(k_ref, std::memory_order_acq_rel) - k_ref;
  if (now & ~(k_closed | k_orphaned)) return;  // others still inside
  if (now & k_closed) release();
  if (now & k_orphaned) {
    race_acquire(this);
    delete this;
  }
}

void netfd::dispose() noexcept {
  race_release(this);  // TSan: as in leave()
  // acq_rel: pairs with leave(), as in close().
  std::uint32_t old = state_.fetch_or(k_closed | k_orphaned, std::memory_order_acq_rel);
  if (old & ~(k_closed | k_orphaned)) {
    if (!(old & k_closed)) io_evict(pd_);  // the last op to leave releases and deletes
    return;
  }
  if (!(old & k_closed)) release();
  race_acquire(this);
  delete this;
}

void netfd::close() noexcept {
  race_release(this);  // TSan: as in leave()
  // acq_rel: pairs with leave(); when no op is inside we release here.
  std::uint32_t old = state_.fetch_or(k_closed, std::memory_order_acq_rel);
  if (old & k_closed) return;
  if (old == 0) {
    release();
    return;
  }
  io_evict(pd_);  // the ops inside wake and leave; the last one releases
}

// Exactly once (see the invariants).
void netfd::release() noexcept {
  race_acquire(this);  // TSan: after every operation that used fd_ (their leave())
  io_unregister(pd_);
  ::close(fd_);
}

void netfd::wait(io_mode mode, const char* what, const location& where) {
  switch (io_wait(pd_, mode, deadline(mode), where)) {
    case io_result::ready: return;
    case io_result::timeout: throw net::timeout_error(std::string(what) + ": i/o timeout");
    case io_result::closed: throw_socket_closed(what);
  }
}

// Inside no op: enters one so that pd_ is still registered (once closed,
// nobody waits and only the value matters).
void netfd::set_deadline(io_mode mode, std::int64_t ns) noexcept {
  if (!try_enter()) {
    deadline(mode).store(ns, std::memory_order_relaxed);
    return;
  }
  io_set_deadline(pd_, mode, deadline(mode), ns);
  leave();
}

void netfd::check_deadline_slow(std::int64_t d, const char* what) const {
  if (now_ns() >= d) throw net::timeout_error(std::string(what) + ": i/o timeout");
}

}  // namespace gort::detail
