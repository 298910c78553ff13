// The debug server's HTTP/1.1 layer, without sockets: bytes from a client go
// in, the bytes to send back come out. Requests are parsed by Debian's
// libhttp-parser. Keep-alive and pipelining are supported; a malformed
// request gets 400, headers over the limit 431, a body over the limit 413,
// and each of those closes the connection after the answer.
//
// Fuzzing: handle_bytes() runs any byte string through a fresh connection
// and the real routes; it needs no socket, and no run() (the endpoints that
// need a running runtime answer 503 without one).
//
// One http_connection belongs to one connection's fiber (not shared).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gort::debug::detail {

struct request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // as sent: "/debug/gort/trace?seconds=5"
};

struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

// Answers one parsed request (the routes, see routes.hpp; tests pass others).
using handler = std::function<response(const request&)>;

struct limits {
  std::size_t max_header_bytes = 8 << 10;  // request line and headers
  std::size_t max_body_bytes = 64 << 10;
};

class http_connection {
 public:
  explicit http_connection(handler h, limits l = {});
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  // Feeds bytes received from the client (empty: it closed its side). Runs
  // the handler for every request completed, appending the answers (or the
  // error answer) to output(). False once the connection must close after
  // output() has been sent; later calls do nothing.
  bool feed(std::string_view data);
  // The bytes to send; the caller sends and clears it.
  std::string& output() noexcept { return out_; }
  // True between the first byte of a request and its end (what a stalled
  // client's timeout measures).
  bool mid_request() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> p_;
  std::string out_;
};

// Appends the status line, headers and body of `r` to `out` (no body for a
// HEAD request).
void append_response(std::string& out, const response& r, bool head, bool close);

// Fuzzing and tests, without sockets: feeds `input` to a fresh connection
// answering with the real routes (in pieces of `chunk` bytes, 0: in one),
// then end of stream. What the server would write, and whether it would
// close the connection before the client did.
struct exchange {
  std::string written;
  bool closed_early = false;
};
exchange handle_bytes(std::string_view input, std::size_t chunk = 0);

}  // namespace gort::debug::detail
