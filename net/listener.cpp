// gort::net::listen, listener::accept and dial: socket setup around netfd.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include "gort/net.hpp"
#include "net/address.hpp"
#include "net/dial.hpp"
#include "net/netfd.hpp"

namespace gort::net {

using gort::detail::endpoint;
using gort::detail::io_mode;
using gort::detail::netfd;
using gort::detail::throw_errno;

namespace {

// Any caller: a non-blocking close-on-exec TCP socket, or -1 with errno set.
int tcp_socket(int family) { return ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // best effort, as Go
}

// Any caller: a bound, listening socket for `e`, or -1 with `err` set.
int listen_on(const endpoint& e, int& err) {
  int fd = tcp_socket(e.family());
  if (fd < 0) {
    err = errno;
    return -1;
  }
  int one = 1, zero = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (e.family() == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    err = errno;
    ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t local_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// The calling fiber: connects `fd` (owned by `n`) to `e`; returns 0 or the errno.
int connect_one(netfd& n, const endpoint& e, const location& where) {
  netfd::op op(n, "dial");
  if (::connect(n.fd(), reinterpret_cast<const sockaddr*>(&e.addr), e.len) == 0) return 0;
  int err = errno;
  if (err != EINPROGRESS && err != EINTR) return err;
  // Writable means the handshake finished, one way or the other.
  for (;;) {
    n.wait(io_mode::write, "dial", where);
    socklen_t len = sizeof err;
    if (::getsockopt(n.fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    if (err == 0) {
      // A stale readiness edge (recycled poll_desc) may wake us early:
      // confirm the connection is established.
      sockaddr_storage peer{};
      socklen_t plen = sizeof peer;
      if (::getpeername(n.fd(), reinterpret_cast<sockaddr*>(&peer), &plen) == 0) return 0;
      if (errno != ENOTCONN) return errno;
      continue;
    }
    if (err != EINPROGRESS && err != EALREADY && err != EINTR) return err;
  }
}

}  // namespace

listener::listener() noexcept = default;
listener::listener(gort::detail::netfd_ptr fd, std::uint16_t port) noexcept
    : fd_(std::move(fd)), port_(port) {}
listener::listener(listener&&) noexcept = default;
listener& listener::operator=(listener&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::move(o.fd_);
    port_ = o.port_;
  }
  return *this;
}
listener::~listener() = default;

// Any fiber or thread while run() is active.
listener listen(std::string_view address) {
  std::vector<endpoint> eps = gort::detail::resolve(address, true);
  int err = EADDRNOTAVAIL;
  for (const endpoint& e : eps) {
    int fd = listen_on(e, err);
    if (fd < 0) {
      if (err == EAFNOSUPPORT) continue;  // no IPv6 here: ":port" falls back to 0.0.0.0
      break;
    }
    std::uint16_t port = local_port(fd);
    return listener(gort::detail::netfd_ptr(new netfd(fd)), port);
  }
  throw_errno(err, ("listen " + std::string(address)).c_str());
}

// The fiber that owns the listener (one at a time).
conn listener::accept(location where) {
  if (!fd_) gort::detail::throw_socket_closed("accept");
  netfd& n = *fd_;
  netfd::op op(n, "accept");
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(n.fd(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      set_nodelay(fd);
      auto accepted = gort::detail::netfd_ptr(new netfd(fd));
      return conn(std::move(accepted), gort::detail::local_address_of(fd),
                  gort::detail::format_address(peer));
    }
    int e = errno;
    // A connection that died in the queue, or a signal: try the next one.
    if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
    if (e != EAGAIN && e != EWOULDBLOCK) throw_errno(e, "accept");
    n.wait(io_mode::read, "accept", where);
  }
}

void listener::close() noexcept {
  if (fd_) fd_->close();
}

int listener::native_handle() const noexcept { return fd_ ? fd_->fd() : -1; }

// Any fiber or thread while run() is active.
conn dial(std::string_view address, location where) {
  return gort::detail::dial_conn(address, -1, nullptr, where);
}

}  // namespace gort::net

namespace gort::detail {

void dial_abort::abort() noexcept {
  locked g(lock_);
  aborted_ = true;
  if (current_) current_->close();  // never blocks; a parked connect wakes
}

bool dial_abort::begin(netfd* n) noexcept {
  locked g(lock_);
  if (aborted_) return false;
  current_ = n;
  return true;
}

bool dial_abort::end() noexcept {
  locked g(lock_);
  current_ = nullptr;
  return aborted_;
}

// Any fiber or thread while run() is active.
net::conn dial_conn(std::string_view address, std::int64_t deadline_ns, dial_abort* abort,
                    const location& where) {
  std::vector<endpoint> eps = resolve(address, false);
  const std::string what = "dial " + std::string(address);
  int first_err = 0;  // as Go, report the first address's failure
  for (const endpoint& e : eps) {
    int err;
    int fd = net::tcp_socket(e.family());
    if (fd < 0) {
      err = errno;
    } else {
      auto n = netfd_ptr(new netfd(fd));
      n->set_deadline(gort::detail::io_mode::write, deadline_ns);  // a connect waits to write
      if (abort && !abort->begin(n.get())) throw_errno(ECANCELED, what.c_str());
      try {
        err = net::connect_one(*n, e, where);
      } catch (...) {  // the deadline passed, or abort() closed the socket
        if (abort) abort->end();
        throw;
      }
      if (abort && abort->end()) throw_errno(ECANCELED, what.c_str());
      if (err == 0) {
        n->set_deadline(gort::detail::io_mode::write, -1);  // the deadline was the connect's, not the conn's
        net::set_nodelay(fd);
        return net::conn(std::move(n), gort::detail::local_address_of(fd), gort::detail::format_address(e.addr));
      }
    }
    if (first_err == 0) first_err = err;
  }
  throw_errno(first_err ? first_err : EADDRNOTAVAIL, what.c_str());
}

}  // namespace gort::detail
