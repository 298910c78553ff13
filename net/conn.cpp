// gort::net::conn: reads and writes that park the fiber on EAGAIN.
// State lives in the netfd (see net/netfd.hpp for its invariants).
#include <sys/socket.h>

#include <cerrno>

#include "gort/net.hpp"
#include "net/netfd.hpp"

namespace gort::net {

using gort::detail::io_mode;
using gort::detail::netfd;

namespace {
// Any caller: the netfd of `fd`, or the closed error.
netfd& checked(const gort::detail::netfd_ptr& fd, const char* what) {
  if (!fd) gort::detail::throw_socket_closed(what);
  return *fd;
}
}  // namespace

conn::conn() noexcept = default;
conn::conn(gort::detail::netfd_ptr fd, std::string local, std::string remote) noexcept
    : fd_(std::move(fd)), local_(std::move(local)), remote_(std::move(remote)) {}
conn::conn(conn&&) noexcept = default;
conn& conn::operator=(conn&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::move(o.fd_);
    local_ = std::move(o.local_);
    remote_ = std::move(o.remote_);
  }
  return *this;
}
conn::~conn() = default;  // fd_'s disposer closes the socket (netfd::dispose)

// The owner's fiber or thread (and one concurrent writer).
std::size_t conn::read(std::span<std::byte> buf, location where) {
  netfd& n = checked(fd_, "read");
  netfd::op op(n, "read");
  if (buf.empty()) return 0;
  for (;;) {
    n.check_deadline(io_mode::read, "read");
    if (n.take_read_drained()) {  // the last recv emptied the queue: wait for the next edge
      n.wait(io_mode::read, "read", where);
      continue;
    }
    ssize_t r = ::recv(n.fd(), buf.data(), buf.size(), 0);
    if (r > 0 && std::size_t(r) < buf.size()) n.mark_read_drained();
    if (r >= 0) return std::size_t(r);
    int e = errno;  // now: the fiber may move to another thread at the next park
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK) gort::detail::throw_errno(e, "read");
    n.wait(io_mode::read, "read", where);
  }
}

std::size_t conn::read(std::span<char> buf, location where) {
  return read(std::as_writable_bytes(buf), where);
}

// The owner's fiber or thread (and one concurrent reader).
void conn::write(std::span<const std::byte> data, location where) {
  netfd& n = checked(fd_, "write");
  netfd::op op(n, "write");
  while (!data.empty()) {
    n.check_deadline(io_mode::write, "write");
    ssize_t r = ::send(n.fd(), data.data(), data.size(), MSG_NOSIGNAL);
    if (r >= 0) {
      data = data.subspan(std::size_t(r));
      continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK) gort::detail::throw_errno(e, "write");
    n.wait(io_mode::write, "write", where);
  }
}

void conn::write(std::string_view data, location where) {
  write(std::as_bytes(std::span(data.data(), data.size())), where);
}

// Any fiber or thread.
void conn::close_write() {
  netfd& n = checked(fd_, "close_write");
  netfd::op op(n, "close_write");
  if (::shutdown(n.fd(), SHUT_WR) != 0) gort::detail::throw_errno(errno, "close_write");
}

// Any fiber or thread.
void conn::close() noexcept {
  if (fd_) fd_->close();
}

namespace {
// A deadline as netfd keeps it: steady-clock ns, -1 for none (max()).
std::int64_t deadline_ns(std::chrono::steady_clock::time_point t) noexcept {
  if (t == std::chrono::steady_clock::time_point::max()) return -1;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  return ns < 0 ? 0 : ns;
}
}  // namespace

// Any fiber or thread (each of the three).
void conn::set_deadline(std::chrono::steady_clock::time_point t) noexcept {
  set_read_deadline(t);
  set_write_deadline(t);
}

void conn::set_read_deadline(std::chrono::steady_clock::time_point t) noexcept {
  if (fd_) fd_->set_deadline(io_mode::read, deadline_ns(t));
}

void conn::set_write_deadline(std::chrono::steady_clock::time_point t) noexcept {
  if (fd_) fd_->set_deadline(io_mode::write, deadline_ns(t));
}

int conn::native_handle() const noexcept { return fd_ ? fd_->fd() : -1; }

}  // namespace gort::net
