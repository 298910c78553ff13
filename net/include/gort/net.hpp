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
// close() and the deadline setters may be called from any fiber at any time.
//
// gort::net::reader (gort/net_reader.hpp, included below) is Go's
// bufio.Reader over a conn: read_line, read_until, buffered read.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "gort/location.hpp"

namespace gort {
class context;  // gort/context.hpp: the context layer, above this one
}  // namespace gort

namespace gort::net {
class conn;
}  // namespace gort::net

namespace gort::detail {
class netfd;  // net/netfd.hpp
struct netfd_disposer {
  void operator()(netfd* fd) const noexcept;  // closes; deletes once no operation is inside
};
using netfd_ptr = std::unique_ptr<netfd, netfd_disposer>;
class dial_abort;  // net/dial.hpp
// dial() with a deadline (steady-clock ns, < 0: none) for the connect, and an
// optional handle through which another thread may abort it (net/dial.hpp).
net::conn dial_conn(std::string_view address, std::int64_t deadline_ns, dial_abort* abort,
                    const location& where);
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
  // Read and write deadlines (Go's SetReadDeadline, SetWriteDeadline): once
  // `t` has passed, read() (or write()) throws timeout_error: a later call at
  // once, and one parked now when `t` comes (a deadline set or changed while
  // a fiber is parked applies to that wait too). time_point::max() clears
  // it. Any fiber or thread.
  void set_read_deadline(std::chrono::steady_clock::time_point t) noexcept;
  void set_write_deadline(std::chrono::steady_clock::time_point t) noexcept;
  // Both of the above (Go's SetDeadline).
  void set_deadline(std::chrono::steady_clock::time_point t) noexcept;
  // The connection's two ends as Go's LocalAddr().String() and
  // RemoteAddr().String() write them: "127.0.0.1:54321", "[::1]:8080" (an
  // IPv4 peer of a dual-stack listener shows as IPv4). Taken when the
  // connection was made, so still there after close(); empty when not
  // connected.
  std::string local_address() const { return local_; }
  std::string remote_address() const { return remote_; }
  // The socket descriptor (-1 when not connected). Still owned by the conn.
  int native_handle() const noexcept;
  explicit operator bool() const noexcept { return fd_ != nullptr; }

 private:
  friend class listener;
  friend conn gort::detail::dial_conn(std::string_view, std::int64_t, gort::detail::dial_abort*,
                                      const location&);
  conn(gort::detail::netfd_ptr fd, std::string local, std::string remote) noexcept;
  gort::detail::netfd_ptr fd_;
  std::string local_;
  std::string remote_;
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

// Go's net/http accept loop (Server.Serve) for any server built on a
// listener: accept() rides out the errors that pass by themselves, running
// out of descriptors (EMFILE, ENFILE) or of kernel memory (ENOBUFS, ENOMEM),
// by reporting each one and retrying after a pause that starts at 5 ms and
// doubles up to 1 s, as Go's server does; the pause starts again at 5 ms
// once a connection is accepted. Meanwhile the fiber sleeps (its worker runs
// the connections already accepted, whose closes free descriptors).
//
//   gort::net::accept_backoff backoff;      // reports to stderr
//   for (;;) gort::go(serve, backoff.accept(ln));   // ends when ln is closed (EBADF)
//
// One per accepting fiber; not shared.
class accept_backoff {
 public:
  // Called before each pause with the accept error and the pause.
  using report_fn = std::function<void(const std::system_error& error, std::chrono::milliseconds retry_in)>;

  // Reports "gort::net: accept error: accept: Too many open files; retrying
  // in 5ms" on stderr.
  accept_backoff();
  // Reports through `report` (empty: not at all).
  explicit accept_backoff(report_fn report);

  // l.accept(), retrying the errors above. Throws what listener::accept
  // throws otherwise: EBADF once `l` is closed (also during a pause), other
  // errors as std::system_error.
  conn accept(listener& l, location where = location::current());

  // The pause after `previous` (zero: the first error): 5 ms, then twice the
  // previous, at most 1 s.
  static std::chrono::milliseconds next_pause(std::chrono::milliseconds previous) noexcept;
  // Whether accept() retries after `err`.
  static bool temporary(int err) noexcept;

 private:
  report_fn report_;
  std::chrono::milliseconds pause_{0};
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

// ---- under a context (Go's DialContext, and Go's idiom for reads and writes)
// Declared here, defined by the context layer (context/net_context.cpp, which
// sits above net: nothing in net calls them). #include <gort/context.hpp> (or
// <gort/gort.hpp>) to make a context.

// dial() that gives up when `ctx` is done: a cancel or the deadline aborts a
// connect in progress, and then dial throws std::system_error whose code()
// is ctx.err() (context_errc::canceled or ::deadline_exceeded). The
// deadline also bounds the connect itself. Once connected, the context no
// longer affects the conn.
conn dial(const context& ctx, std::string_view address,
          location where = location::current());
// c.read() / c.write() that give up when `ctx` is done: as Go code does with
// `stop := context.AfterFunc(ctx, func() { conn.Close() })`, the cancel or
// the deadline closes `c`, which wakes the parked call; the call then throws
// std::system_error whose code() is ctx.err(). A conn closed that way stays
// closed. A call started after ctx is done throws at once without touching c.
std::size_t read(const context& ctx, conn& c, std::span<std::byte> buf,
                 location where = location::current());
std::size_t read(const context& ctx, conn& c, std::span<char> buf,
                 location where = location::current());
void write(const context& ctx, conn& c, std::span<const std::byte> data,
           location where = location::current());
void write(const context& ctx, conn& c, std::string_view data,
           location where = location::current());

}  // namespace gort::net

#include "gort/net_reader.hpp"  // IWYU pragma: export
