// http_server: the seed's HTTP server in gort. One fiber per connection,
// HTTP/1.1 keep-alive, a visit counter behind a gort::mutex.
//
//   GET /                 -> "hello world, visit N"
//   GET /sleep?ms=N       -> headers at once, "slept N ms" after N ms (N <= 60000):
//                            a slow request, to watch a graceful shutdown
//   anything else         -> 404
//
// Requests are parsed by Debian's libhttp-parser. A malformed request gets
// 400 and oversized headers (over 8 KiB) get 431; either closes only that
// connection. Flags: --addr HOST:PORT (default 127.0.0.1:8080; port 0 picks
// one), --workers N (default: $GORT_MAXPROCS or the number of CPUs),
// --shutdown-timeout MS (default 5000) and --debug-addr HOST:PORT, which
// serves gort::debug's live dashboard, statistics, fiber dump and traces
// there (/debug/gort/). Prints "listening on HOST:PORT" once it accepts
// connections, then "debug on http://HOST:PORT/debug/gort/" with --debug-addr.
// Out of descriptors, it reports "http_server: Accept error: accept: Too many
// open files; retrying in 5ms" and keeps serving (gort::net::accept_backoff).
//
// SIGINT or SIGTERM shuts it down gracefully, as Go's http.Server.Shutdown:
// stop accepting (new connections are refused), close idle connections, let
// requests in flight finish (their responses say "Connection: close") for up
// to the shutdown timeout, then close whatever is left; it prints each step
// and exits 0.
//
// Invariants: `server::visits` and `server::conns` are guarded by
// `server::mu`; `server::shutting_down` only goes from false to true;
// a connection's in-request flag is written by its fiber and read by the
// shutdown (seq_cst on both sides, see tracked_conn::busy); everything else
// belongs to one connection's fiber.
#include <http_parser.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "gort/debug.hpp"
#include "gort/gort.hpp"

namespace {

constexpr std::size_t k_max_header_bytes = 8 << 10;  // request line + headers
constexpr std::size_t k_read_chunk = 16 << 10;

class tracked_conn;

struct server {
  gort::mutex mu;
  std::uint64_t visits = 0;  // guarded by mu
  // Graceful shutdown: every open connection, each busy (in the middle of a
  // request) or idle (waiting for the next one).
  std::set<tracked_conn*> conns;  // guarded by mu
  std::atomic<bool> shutting_down{false};
  gort::chan<std::monostate> drained{1};  // gets a value when conns empties after shutdown began
};

// One connection's parsing state; lives in its fiber.
struct session {
  explicit session(server& s) : srv(s) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
  }

  server& srv;
  gort::net::conn* conn = nullptr;
  http_parser parser;
  std::string url;
  std::size_t header_bytes = 0;  // of the request being parsed
  bool too_large = false;        // headers over k_max_header_bytes
  bool close_after = false;      // the client asked to close (or HTTP/1.0)
  bool in_message = false;       // a request has begun and is not complete
  std::string out;               // responses not yet written
};

session& of(http_parser* p) { return *static_cast<session*>(p->data); }

// The connection's fiber: appends one complete response to s.out.
void respond(session& s, std::string_view status, std::string_view type, std::string_view body, bool close) {
  s.out.append("HTTP/1.1 ").append(status);
  s.out.append("\r\nContent-Type: ").append(type);
  s.out.append("\r\nContent-Length: ").append(std::to_string(body.size()));
  if (close) s.out.append("\r\nConnection: close");
  s.out.append("\r\n\r\n").append(body);
}

// The path of a request target ("/a?b" -> "/a"); empty if it is malformed.
std::string_view path_of(const std::string& url) {
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(url.data(), url.size(), 0, &u) != 0) return {};
  if (!(u.field_set & (1 << UF_PATH))) return "/";
  return std::string_view(url).substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
}

// The number after "ms=" in the request's query, or -1.
long sleep_ms(const std::string& url) {
  auto q = url.find('?');
  auto at = q == std::string::npos ? q : url.find("ms=", q);
  if (at == std::string::npos) return -1;
  char* end = nullptr;
  long ms = std::strtol(url.c_str() + at + 3, &end, 10);
  return end == url.c_str() + at + 3 || ms < 0 || ms > 60'000 ? -1 : ms;
}

// The connection's fiber: GET /sleep?ms=N. The headers go out at once (the
// client then knows its request is in flight), the body N ms later.
void sleep_then_respond(session& s, bool close) {
  const long ms = sleep_ms(s.url);
  if (ms < 0) {
    respond(s, "400 Bad Request", "text/plain; charset=utf-8", "want /sleep?ms=0..60000\n", close);
    return;
  }
  const std::string body = "slept " + std::to_string(ms) + " ms\n";
  respond(s, "200 OK", "text/plain; charset=utf-8", body, close);
  s.out.resize(s.out.size() - body.size());  // everything but the body
  s.conn->write(s.out);
  s.out.clear();
  gort::sleep_for(std::chrono::milliseconds(ms));
  s.out = body;
}

// The connection's fiber: routes one parsed request.
void handle(session& s, bool keep_alive) {
  const bool close = !keep_alive || s.srv.shutting_down;  // no keep-alive while shutting down
  const std::string_view path = path_of(s.url);
  const bool get = s.parser.method == HTTP_GET;
  if (path == "/" && get) {
    std::uint64_t n;
    {
      std::lock_guard g(s.srv.mu);
      n = ++s.srv.visits;
    }
    respond(s, "200 OK", "text/plain; charset=utf-8", "hello world, visit " + std::to_string(n) + "\n",
            close);
  } else if (path == "/sleep" && get) {
    sleep_then_respond(s, close);
  } else if (path.empty()) {
    respond(s, "400 Bad Request", "text/plain; charset=utf-8", "400 bad request\n", true);
    s.close_after = true;
  } else {
    respond(s, "404 Not Found", "text/plain; charset=utf-8", "404 page not found\n", close);
  }
}

// ---- http_parser callbacks (the connection's fiber) -------------------------

int count_header(http_parser* p, std::size_t n) {
  session& s = of(p);
  s.header_bytes += n;
  if (s.header_bytes <= k_max_header_bytes) return 0;
  s.too_large = true;
  return 1;  // stops the parser (HPE_CB_*)
}

int on_message_begin(http_parser* p) {
  session& s = of(p);
  s.url.clear();
  s.header_bytes = 0;
  s.in_message = true;
  return 0;
}

int on_url(http_parser* p, const char* at, std::size_t n) {
  if (count_header(p, n)) return 1;
  of(p).url.append(at, n);
  return 0;
}

int on_header_part(http_parser* p, const char*, std::size_t n) { return count_header(p, n); }

int on_message_complete(http_parser* p) {
  session& s = of(p);
  s.in_message = false;
  const bool keep_alive = http_should_keep_alive(p) != 0;
  handle(s, keep_alive && !s.close_after);
  if (!keep_alive || s.close_after) {
    s.close_after = true;
    http_parser_pause(p, 1);  // ignore anything pipelined after it
  }
  return 0;
}

const http_parser_settings& settings() {
  static const http_parser_settings st = [] {
    http_parser_settings x;
    http_parser_settings_init(&x);
    x.on_message_begin = on_message_begin;
    x.on_url = on_url;
    x.on_header_field = on_header_part;
    x.on_header_value = on_header_part;
    x.on_message_complete = on_message_complete;
    return x;
  }();
  return st;
}

// The connection's fiber. Feeds `data` (empty: end of stream) to the parser;
// appends the responses and, on a parse error, the error response. False once
// the connection must close.
bool feed(session& s, std::string_view data) {
  std::size_t used = http_parser_execute(&s.parser, &settings(), data.data(), data.size());
  const http_errno err = HTTP_PARSER_ERRNO(&s.parser);
  if (s.close_after || data.empty()) return false;  // paused after the last response, or EOF
  if (s.too_large) {
    respond(s, "431 Request Header Fields Too Large", "text/plain; charset=utf-8",
            "431 request header fields too large\n", true);
    return false;
  }
  if (err != HPE_OK || used != data.size()) {
    respond(s, "400 Bad Request", "text/plain; charset=utf-8", "400 bad request\n", true);
    return false;
  }
  return !data.empty();
}

// The connection's fiber, when the server ends a connection the client may
// still be writing to: closing with unread input would send a reset that can
// destroy the last response in flight, so shut down writing and discard input
// for a while first (a lingering close, as nginx and Go's net/http do).
void linger_close(gort::net::conn& c, std::string& buf) {
  c.close_write();
  c.set_deadline(std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
  std::size_t discarded = 0;
  while (discarded < (256u << 10)) {
    std::size_t n = c.read(std::span<char>(buf));
    if (n == 0) break;
    discarded += n;
  }
}

// A connection's entry in server::conns for its fiber's lifetime. busy()
// records whether a request is in flight; during a shutdown it returns false
// when the connection should close now (idle: nothing more to answer). The
// flag is an atomic, as Go's net/http keeps each connection's state: no
// lock per request.
class tracked_conn {
 public:
  tracked_conn(server& srv, gort::net::conn& c) : srv_(srv), c_(c) {
    std::lock_guard g(srv_.mu);
    srv_.conns.insert(this);
  }
  ~tracked_conn() {
    std::lock_guard g(srv_.mu);
    srv_.conns.erase(this);
    if (srv_.shutting_down && srv_.conns.empty()) srv_.drained.try_send(std::monostate{});
  }
  tracked_conn(const tracked_conn&) = delete;
  tracked_conn& operator=(const tracked_conn&) = delete;

  // The connection's fiber. seq_cst pairs with shutdown(), which sets
  // shutting_down and then reads each in_request(): one of the two sees the
  // other's store, so a connection going idle is closed by the shutdown or
  // closes itself (or both: close() is idempotent).
  bool busy(bool in_request) {
    in_request_.store(in_request, std::memory_order_seq_cst);
    return in_request || !srv_.shutting_down.load(std::memory_order_seq_cst);
  }
  // shutdown(), holding srv.mu.
  bool in_request() const { return in_request_.load(std::memory_order_seq_cst); }
  gort::net::conn& conn() const { return c_; }

 private:
  server& srv_;
  gort::net::conn& c_;
  std::atomic<bool> in_request_{false};
};

// One fiber per connection: reads, parses, answers, until the client closes
// or must be closed. Errors end only this connection.
void serve(gort::net::conn c, server* srv) {
  try {
    tracked_conn tracked(*srv, c);
    session s(*srv);
    s.conn = &c;
    std::string buf(k_read_chunk, '\0');
    for (;;) {
      std::size_t n = c.read(std::span<char>(buf));
      if (n != 0) tracked.busy(true);
      bool more = feed(s, std::string_view(buf.data(), n));
      if (!s.out.empty()) {
        c.write(s.out);
        s.out.clear();
      }
      if (more && !tracked.busy(s.in_message)) break;  // shutting down, and idle now
      if (!more) {
        if (n != 0) linger_close(c, buf);
        break;
      }
    }
  } catch (const std::exception&) {
    // The peer reset or vanished, lingered too long, or the shutdown closed
    // the connection: nothing to tell it.
  }
}

// ---- command line -------------------------------------------------------------

constexpr const char* k_usage =
    "http_server [--addr HOST:PORT] [--workers N] [--shutdown-timeout MS] [--debug-addr HOST:PORT]";

struct options {
  std::string addr = "127.0.0.1:8080";
  unsigned workers = 0;
  unsigned shutdown_ms = 5000;
  std::string debug_addr;  // empty: no gort::debug server
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "http_server: %s\nusage: %s\n", msg.c_str(), k_usage);
  std::exit(2);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    std::string flag = arg.substr(0, arg.find('='));
    if (flag != "--addr" && flag != "--workers" && flag != "--shutdown-timeout" && flag != "--debug-addr")
      usage_error("unknown flag '" + arg + "'");
    if (flag.size() < arg.size()) {
      value = arg.substr(flag.size() + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage_error("missing value for " + flag);
    }
    if (flag == "--addr" || flag == "--debug-addr") {
      if (value.empty()) usage_error("bad value for " + flag + ": '" + value + "'");
      (flag == "--addr" ? o.addr : o.debug_addr) = value;
      continue;
    }
    char* end = nullptr;
    unsigned long n = std::strtoul(value.c_str(), &end, 10);
    const bool number = !value.empty() && *end == '\0' && value[0] != '-';
    if (flag == "--shutdown-timeout") {
      if (!number || n > 3'600'000)
        usage_error("bad value for --shutdown-timeout: '" + value + "' (want 0..3600000 ms)");
      o.shutdown_ms = unsigned(n);
      continue;
    }
    if (!number || n == 0 || n > 1024) usage_error("bad value for --workers: '" + value + "' (want 1..1024)");
    o.workers = unsigned(n);
  }
  return o;
}

// The accept loop's fiber, until the shutdown closes the listener.
// Out of descriptors (EMFILE) or kernel memory, accept_backoff reports,
// pauses (5 ms, doubling up to 1 s) and accepts again, as Go's net/http
// does; the connections served meanwhile free descriptors as they close.
void accept_loop(gort::net::listener& ln, server& srv) {
  gort::net::accept_backoff backoff([](const std::system_error& e, std::chrono::milliseconds retry_in) {
    std::fprintf(stderr, "http_server: Accept error: %s; retrying in %lldms\n", e.what(),
                 static_cast<long long>(retry_in.count()));
  });
  for (;;) {
    try {
      gort::go(serve, backoff.accept(ln), &srv);
    } catch (const std::system_error& e) {
      if (srv.shutting_down) return;  // the listener was closed
      std::fprintf(stderr, "http_server: accept: %s\n", e.what());  // not a passing error: give up
      return;
    }
  }
}

// Go's http.Server.Shutdown followed by Close: stop accepting, close idle
// connections, wait for the busy ones to finish (each closes once its
// response is out) up to `grace`, then close the rest. Prints each step.
void shutdown(gort::net::listener& ln, gort::task<void>& acceptor, server& srv, int sig,
              std::chrono::milliseconds grace) {
  const char* name = sigabbrev_np(sig);
  std::printf("http_server: SIG%s: shutting down, waiting up to %lld ms for requests in flight\n",
              name ? name : "?", static_cast<long long>(grace.count()));
  auto [ctx, cancel] = gort::with_timeout(gort::background(), grace);
  srv.shutting_down.store(true, std::memory_order_seq_cst);  // pairs with tracked_conn::busy
  ln.close();
  acceptor.join();  // the socket is closed once accept() has left: connections are refused now
  std::size_t idle = 0, busy = 0;
  {
    std::lock_guard g(srv.mu);
    for (tracked_conn* t : srv.conns) {
      if (t->in_request()) {
        ++busy;
      } else {
        t->conn().close();  // its fiber wakes from read() and leaves
        ++idle;
      }
    }
    if (srv.conns.empty()) srv.drained.try_send(std::monostate{});
  }
  std::printf("http_server: stopped accepting; closed %zu idle connections; %zu requests in flight\n", idle,
              busy);
  std::fflush(stdout);
  bool drained = false;
  gort::select(gort::recv_case(srv.drained, [&](auto) { drained = true; }), gort::recv_case(ctx.done()));
  if (drained) {
    std::printf("http_server: every request finished; bye\n");
    return;
  }
  std::size_t closed = 0;
  {
    std::lock_guard g(srv.mu);
    for (tracked_conn* t : srv.conns) {
      t->conn().close();
      ++closed;
    }
  }
  std::printf("http_server: %s after %lld ms: closed %zu connections still busy; bye\n",
              ctx.err().message().c_str(), static_cast<long long>(grace.count()), closed);
}

// The address as printed: the given host with the port actually bound.
std::string shown_address(const std::string& addr, std::uint16_t port) {
  return addr.substr(0, addr.rfind(':')) + ":" + std::to_string(port);
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse_args(argc, argv);
  gort::config cfg;
  cfg.workers = opt.workers;
  // Outlives run(): connections cut off at the end of a shutdown still refer
  // to it while the runtime unwinds their fibers.
  server srv;
  return gort::run(
      [&]() -> int {
        gort::net::listener ln;
        try {
          ln = gort::net::listen(opt.addr);
        } catch (const std::invalid_argument& e) {
          std::fprintf(stderr, "http_server: bad value for --addr: %s\nusage: %s\n", e.what(), k_usage);
          return 2;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "http_server: %s\n", e.what());
          return 1;
        }
        gort::chan<int> signals(1);
        gort::signal::notify(signals, {SIGINT, SIGTERM});
        std::printf("listening on %s\n", shown_address(opt.addr, ln.port()).c_str());
        gort::debug::server dbg;
        if (!opt.debug_addr.empty()) {
          try {
            dbg = gort::debug::serve(opt.debug_addr);
          } catch (const std::exception& e) {
            std::fprintf(stderr, "http_server: bad value for --debug-addr: %s\nusage: %s\n", e.what(),
                         k_usage);
            return 2;
          }
          std::printf("debug on http://%s/debug/gort/\n", shown_address(opt.debug_addr, dbg.port()).c_str());
        }
        std::fflush(stdout);
        auto acceptor = gort::spawn([&] { accept_loop(ln, srv); });
        const int sig = signals.recv().value_or(0);
        shutdown(ln, acceptor, srv, sig, std::chrono::milliseconds(opt.shutdown_ms));
        return 0;
      },
      cfg);
}
