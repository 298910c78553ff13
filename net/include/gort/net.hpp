// gort::net: TCP sockets that park fibers instead of threads (Go's net
// package). Reference: docs/api.md, "Network and blocking calls".
//
// Sockets are non-blocking underneath and registered with the runtime's
// netpoller: a fiber that must wait parks ("IO wait") and its worker runs
// other fibers. On a plain OS thread the same calls block that thread.
// Sockets may be created only while run() is active, and must be closed (or
// destroyed) before run() returns.
//
// Errors are std::system_error carrying the errno of the failed call
// (ECONNREFUSED, ECONNRESET, EPIPE, ...). An operation on a closed socket, or
// one woken because another fiber closed it, throws std::system_error with
// EBADF ("use of closed network connection"). Deadlines throw timeout_error.
//
// Concurrency: one fiber may read while another writes the same conn; two
// concurrent readers (or writers) of one conn are a usage error (EALREADY).
// close() may be called from any fiber at any time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "gort/location.hpp"

namespace gort::detail {
class netfd;  // net/netfd.hpp
struct netfd_disposer {
  void operator()(netfd* fd) const noexcept;  // closes; deletes once no operation is inside
};
using netfd_ptr = std::unique_ptr<netfd, netfd_disposer>;
}  // namespace gort::detail

namespace gort::net {

// A deadline passed (std::errc::timed_out).
class timeout_error : public std::system_error {
 public:
  explicit timeout_error(const std::string& what)
      : std::system_error(std::make_error_code(std::errc::timed_out), what) {}
};

// A TCP connection. Move-only; owns the socket (the destructor closes it).
// TCP_NODELAY is on: small writes go out at once.
class conn {
 public:
  conn() noexcept;  // not connected; every operation but close() throws EBADF
  conn(conn&&) noexcept;
  conn& operator=(conn&&) noexcept;  // closes the socket it held
  ~conn();

  // Reads up to buf.size() bytes; parks until at least one byte arrived.
  // Returns 0 at end of stream (the peer closed or shut down its writing
  // side), or when buf is empty. Throws std::system_error (ECONNRESET, ...),
  // timeout_error past the deadline.
  std::size_t read(std::span<std::byte> buf, location where = location::current());
  std::size_t read(std::span<char> buf, location where = location::current());
  // Writes all of `data`, parking whenever the send buffer is full. Throws
  // std::system_error (EPIPE, ECONNRESET, ...), timeout_error past the
  // deadline; then an unknown prefix of `data` may have been sent. Never
  // raises SIGPIPE.
  void write(std::span<const std::byte> data, location where = location::current());
  void write(std::string_view data, location where = location::current());
  // Shuts down the writing side (the peer reads end of stream) while reading
  // stays possible: a half-close. Does not park. Throws std::system_error.
  void close_write();
  // Closes the socket. A fiber parked in read() or write() on it wakes and
  // throws EBADF; the descriptor is released when the last such call left.
  // Idempotent; never throws, never parks.
  void close() noexcept;
  // Later read() and write() calls, and waits that start later, throw
  // timeout_error once `t` has passed. time_point::max() clears it.
  void set_deadline(std::chrono::steady_clock::time_point t) noexcept;
  // The socket descriptor (-1 when not connected). Still owned by the conn.
  int native_handle() const noexcept;
  explicit operator bool() const noexcept { return fd_ != nullptr; }

 private:
  friend class listener;
  friend conn dial(std::string_view, location);
  explicit conn(gort::detail::netfd_ptr fd) noexcept;
  gort::detail::netfd_ptr fd_;
};

// A listening TCP socket. Move-only; the destructor closes it.
class listener {
 public:
  listener() noexcept;  // not listening
  listener(listener&&) noexcept;
  listener& operator=(listener&&) noexcept;
  ~listener();

  // Parks until a connection arrives and returns it. Throws EBADF once
  // close() was called (also to a fiber already parked here), other errors
  // (EMFILE, ...) as std::system_error.
  conn accept(location where = location::current());
  // The port it listens on (the one the kernel picked for port 0).
  std::uint16_t port() const noexcept { return port_; }
  // Stops listening; a fiber parked in accept() wakes with EBADF. Idempotent;
  // never throws.
  void close() noexcept;
  int native_handle() const noexcept;

 private:
  friend listener listen(std::string_view);
  listener(gort::detail::netfd_ptr fd, std::uint16_t port) noexcept;
  gort::detail::netfd_ptr fd_;
  std::uint16_t port_ = 0;
};

// Listens on `address`: "127.0.0.1:8080", "[::1]:0", ":8080" (every
// interface, IPv6 and IPv4), or "name:port" (resolved with getaddrinfo
// through gort::blocking). Port 0 lets the kernel pick one (see port()).
// SO_REUSEADDR is set. Does not park except to resolve a name. Throws
// std::invalid_argument quoting a malformed address, std::system_error
// (EADDRINUSE, ...) otherwise.
listener listen(std::string_view address);

// Connects to `address` ("127.0.0.1:8080", "[::1]:80", "localhost:80"; an
// empty host means the local machine). Parks until connected. Tries each
// address a name resolves to in turn. Throws std::invalid_argument quoting a
// malformed address, std::system_error (ECONNREFUSED, ETIMEDOUT, ...)
// otherwise.
conn dial(std::string_view address, location where = location::current());

}  // namespace gort::net
