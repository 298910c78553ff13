// http_server: the seed's HTTP server in gort. One fiber per connection,
// HTTP/1.1 keep-alive, a visit counter behind a gort::mutex.
//
//   GET /                 -> "hello world, visit N"
//   anything else         -> 404
//
// Requests are parsed by Debian's libhttp-parser. A malformed request gets
// 400 and oversized headers (over 8 KiB) get 431; either closes only that
// connection. Flags: --addr HOST:PORT (default 127.0.0.1:8080; port 0 picks
// one), --workers N (default: $GORT_MAXPROCS or the number of CPUs) and
// --debug-addr HOST:PORT, which serves gort::debug's live dashboard,
// statistics, fiber dump and traces there (/debug/gort/).
// Prints "listening on HOST:PORT" once it accepts connections, then
// "debug on http://HOST:PORT/debug/gort/" with --debug-addr.
//
// Invariants: `server::visits` is guarded by `server::mu`; everything else
// belongs to one connection's fiber.
#include <http_parser.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>

#include "gort/debug.hpp"
#include "gort/gort.hpp"

namespace {

constexpr std::size_t k_max_header_bytes = 8 << 10;  // request line + headers
constexpr std::size_t k_read_chunk = 16 << 10;

struct server {
  gort::mutex mu;
  std::uint64_t visits = 0;  // guarded by mu
};

// One connection's parsing state; lives in its fiber.
struct session {
  explicit session(server& s) : srv(s) {
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = this;
  }

  server& srv;
  http_parser parser;
  std::string url;
  std::size_t header_bytes = 0;  // of the request being parsed
  bool too_large = false;        // headers over k_max_header_bytes
  bool close_after = false;      // the client asked to close (or HTTP/1.0)
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

// The connection's fiber: routes one parsed request.
void handle(session& s, bool keep_alive) {
  const bool close = !keep_alive;
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

// One fiber per connection: reads, parses, answers, until the client closes
// or must be closed. Errors end only this connection.
void serve(gort::net::conn c, server* srv) {
  try {
    session s(*srv);
    std::string buf(k_read_chunk, '\0');
    for (;;) {
      std::size_t n = c.read(std::span<char>(buf));
      bool more = feed(s, std::string_view(buf.data(), n));
      if (!s.out.empty()) {
        c.write(s.out);
        s.out.clear();
      }
      if (!more) {
        if (n != 0) linger_close(c, buf);
        break;
      }
    }
  } catch (const std::exception&) {
    // The peer reset or vanished, or lingered too long: nothing to tell it.
  }
}

// ---- command line -------------------------------------------------------------

constexpr const char* k_usage = "http_server [--addr HOST:PORT] [--workers N] [--debug-addr HOST:PORT]";

struct options {
  std::string addr = "127.0.0.1:8080";
  unsigned workers = 0;
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
    if (flag != "--addr" && flag != "--workers" && flag != "--debug-addr")
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
    if (value.empty() || *end != '\0' || value[0] == '-' || n == 0 || n > 1024)
      usage_error("bad value for --workers: '" + value + "' (want 1..1024)");
    o.workers = unsigned(n);
  }
  return o;
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
        server srv;
        for (;;) {
          try {
            gort::go(serve, ln.accept(), &srv);
          } catch (const std::system_error& e) {
            // Out of descriptors or memory: back off as Go's Serve does.
            std::fprintf(stderr, "http_server: accept: %s\n", e.what());
            gort::sleep_for(std::chrono::milliseconds(10));
          }
        }
      },
      cfg);
}
