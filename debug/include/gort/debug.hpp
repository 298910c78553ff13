// gort::debug: live introspection of a running program over HTTP (Go's
// net/http/pprof and expvar). Link gort::debug (from the same package as
// gort::gort) and call, inside gort::run:
//
//   auto dbg = gort::debug::serve("127.0.0.1:6060");
//
// then open http://127.0.0.1:6060/debug/gort/ in a browser.
//
//   GET /debug/gort/                 a live dashboard: one self-contained page
//                                    (nothing loaded from another host) that
//                                    polls the statistics once a second and
//                                    draws them, with the fiber table and a
//                                    button that records a trace
//   GET /debug/gort/stats            gort::stats().to_json(), application/json
//   GET /debug/gort/fibers           gort::dump_fibers() text, text/plain
//   GET /debug/gort/trace?seconds=N  a Chrome trace (Perfetto, chrome://tracing)
//                                    of the next N seconds, 1 <= N <= 60;
//                                    one at a time: a second request while
//                                    one records gets 409
//
// Anything else is 404, another method than GET or HEAD on those paths 405, a
// malformed request 400, headers over 8 KiB 431. A client that stalls in the
// middle of a request is dropped after 10 s, an idle keep-alive connection
// after 2 minutes.
//
// What it exposes: the program's scheduler statistics, every fiber's state,
// wait reason and source locations (call stacks where the dump has them), and
// traces naming fibers and source files. Anyone who can connect can read
// that and make the program record traces. Bind it to loopback (127.0.0.1 or
// [::1]) unless the network it listens on is trusted.
//
// Cost: with no client, one fiber parked in accept(). The server's fibers are
// runtime service fibers: num_fibers() does not count them, dumps mark them
// `system`, and they never keep the deadlock check from reporting the
// program's own fibers (a program whose only live fibers are the server's is
// deadlocked; Go's net/http would hide that).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

namespace gort::debug {

class server;
namespace detail {
struct server_state;
struct options;
server serve_with(std::string_view address, const options& opt);  // debug/server.hpp
}  // namespace detail

class server {
 public:
  server() noexcept;  // serves nothing; port() is 0
  server(server&&) noexcept;
  server& operator=(server&&) noexcept;  // closes the server it held
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server();  // close()

  // The port it listens on (the one the kernel picked for port 0).
  std::uint16_t port() const;
  // Stops listening and closes every connection; a trace being recorded
  // finishes its window and is dropped. Any thread or fiber; idempotent; never
  // blocks. Close (or destroy) the server before run() returns.
  void close();

 private:
  friend server detail::serve_with(std::string_view, const detail::options&);
  explicit server(std::shared_ptr<detail::server_state> s) noexcept;
  std::shared_ptr<detail::server_state> state_;
};

// Listens on `address` ("127.0.0.1:6060", "[::1]:6060", ":6060" for every
// interface, port 0 for any free one) and serves the paths above from fibers
// until closed. Call it while run() is active (from a fiber or a thread).
// Throws std::invalid_argument quoting a malformed address, std::system_error
// when it cannot listen (EADDRINUSE, ...), std::logic_error outside run().
server serve(std::string_view address);

}  // namespace gort::debug
