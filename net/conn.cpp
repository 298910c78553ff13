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
conn::conn(gort::detail::netfd_ptr fd) noexcept : fd_(std::move(fd)) {}
conn::conn(conn&&) noexcept = default;
conn& conn::operator=(conn&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::move(o.fd_);
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
    n.check_deadline("read");
    ssize_t r = ::recv(n.fd(), buf.data(), buf.size(), 0);
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
    n.check_deadline("write");
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

// Any fiber or thread.
void conn::set_deadline(std::chrono::steady_clock::time_point t) noexcept {
  if (!fd_) return;
  if (t == std::chrono::steady_clock::time_point::max()) {
    fd_->set_deadline(-1);
    return;
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  fd_->set_deadline(ns < 0 ? 0 : ns);
}

int conn::native_handle() const noexcept { return fd_ ? fd_->fd() : -1; }

}  // namespace gort::net
