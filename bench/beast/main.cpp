// beast-http: the Boost.Beast peer of demos/http_server.cpp for
// scripts/http_bench.sh. Boost.Asio with C++20 coroutines, one coroutine per
// connection, HTTP/1.1 keep-alive, the same handler and the same bytes on the
// wire as the demo:
//
//   GET /         -> 200 "hello world, visit N\n" (N: a counter behind a std::mutex)
//   anything else -> 404 "404 page not found\n"
//
// (The demo's /debug/gort/stats has no peer here: it answers 404.) Headers
// over 8 KiB (Beast's default header limit, the demo's too) get 431, another
// malformed request 400; both close only that connection. A connection the
// server closes is shut down for sending first (Beast's examples' graceful
// close; the demo also drains input for up to 500 ms).
//
//   beast-http [--addr HOST:PORT] [--threads N] [--io-contexts per-thread|shared]
//
// --addr: default 127.0.0.1:8080 (port 0 picks one). --threads: default the
// number of CPUs. --io-contexts: per-thread (default) gives each thread its
// own io_context and its own listening socket, all bound to the port with
// SO_REUSEPORT so that the kernel spreads the connections (Asio's HTTP
// "server2" example design, io_context per CPU); shared runs one io_context
// and one listening socket on all the threads (Asio's thread pool, the
// "server3" design). per-thread is the default because it served more
// requests/s at 2 threads in scripts/http_bench.sh; at 1 thread the two are
// the same. Prints "listening on HOST:PORT" once it accepts connections.
//
// Invariants: `server::visits` is guarded by `server::mu`; everything else
// belongs to one connection's coroutine, which has one operation in flight at
// a time, so a socket is never used by two threads at once even when the
// io_context is shared.

// Before Asio: Boost 1.74's awaitable.hpp uses std::exchange without <utility>.
#include <utility>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

struct server {
  std::mutex mu;
  std::uint64_t visits = 0;  // guarded by mu
};

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// The path of a request target ("/a?b" -> "/a", "http://h/a" -> "/a", "*"),
// as the demo's URL parser (http_parser_parse_url) finds it; empty if it is
// malformed.
std::string_view path_of(std::string_view target) {
  if (target.empty()) return {};
  if (target[0] != '/' && target[0] != '*') {
    auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return {};
    auto slash = target.find('/', scheme_end + 3);
    if (slash == std::string_view::npos) return "/";
    target.remove_prefix(slash);
  }
  return target.substr(0, target.find_first_of("?#"));
}

// The demo's response: HTTP/1.1, Content-Type, Content-Length, then
// "Connection: close" when `close`.
response make_response(http::status status, std::string body, bool close) {
  response res(status, 11);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  res.prepare_payload();
  res.keep_alive(!close);
  return res;
}

// A connection's coroutine: routes one request.
response handle(const request& req, server& srv) {
  const bool close = !req.keep_alive();
  const auto target = req.target();  // a boost::string_view in Boost 1.74
  const std::string_view path = path_of(std::string_view(target.data(), target.size()));
  if (path == "/" && req.method() == http::verb::get) {
    std::uint64_t n;
    {
      std::lock_guard g(srv.mu);
      n = ++srv.visits;
    }
    return make_response(http::status::ok, "hello world, visit " + std::to_string(n) + "\n", close);
  }
  if (path.empty()) return make_response(http::status::bad_request, "400 bad request\n", true);
  return make_response(http::status::not_found, "404 page not found\n", close);
}

// One coroutine per connection: reads, answers, until the client closes or
// must be closed. Errors end only this connection.
awaitable<void> serve(tcp::socket sock, server& srv) {
  boost::beast::flat_buffer buf;
  for (;;) {
    error_code ec;
    request req;
    co_await http::async_read(sock, buf, req, asio::redirect_error(use_awaitable, ec));
    response res;
    if (!ec) {
      res = handle(req, srv);
    } else if (ec == http::error::header_limit) {
      res = make_response(http::status::request_header_fields_too_large,
                          "431 request header fields too large\n", true);
    } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message) {
      res = make_response(http::status::bad_request, "400 bad request\n", true);
    } else {
      co_return;  // end of stream, or the peer reset or vanished
    }
    co_await http::async_write(sock, res, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    if (!res.keep_alive()) {
      sock.shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
  }
}

// The connection's coroutine's completion: an exception there is a bug.
void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Accepts connections on `acceptor` forever, one coroutine each, on the
// acceptor's io_context.
awaitable<void> accept_loop(tcp::acceptor& acceptor, server& srv) {
  for (;;) {
    error_code ec;
    tcp::socket sock = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      // Out of descriptors or memory: back off as Go's Serve does.
      std::fprintf(stderr, "beast-http: accept: %s\n", ec.message().c_str());
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(10));
      co_await t.async_wait(use_awaitable);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);  // as Go and gort::net do
    asio::co_spawn(acceptor.get_executor(), serve(std::move(sock), srv), rethrow);
  }
}

// ---- command line -------------------------------------------------------------

constexpr const char* k_usage =
    "beast-http [--addr HOST:PORT] [--threads N] [--io-contexts per-thread|shared]";

struct options {
  std::string host = "127.0.0.1", port = "8080";
  unsigned threads = 0;
  bool shared = false;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "beast-http: %s\nusage: %s\n", msg.c_str(), k_usage);
  std::exit(2);
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    std::string flag = arg.substr(0, arg.find('='));
    if (flag != "--addr" && flag != "--threads" && flag != "--io-contexts")
      usage_error("unknown flag '" + arg + "'");
    if (flag.size() < arg.size()) {
      value = arg.substr(flag.size() + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      usage_error("missing value for " + flag);
    }
    if (flag == "--addr") {
      auto colon = value.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == value.size())
        usage_error("bad value for --addr: '" + value + "' (want HOST:PORT)");
      o.host = value.substr(0, colon);
      o.port = value.substr(colon + 1);
    } else if (flag == "--io-contexts") {
      if (value != "per-thread" && value != "shared")
        usage_error("bad value for --io-contexts: '" + value + "' (want per-thread or shared)");
      o.shared = value == "shared";
    } else {
      char* end = nullptr;
      unsigned long n = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || value[0] == '-' || n == 0 || n > 1024)
        usage_error("bad value for --threads: '" + value + "' (want 1..1024)");
      o.threads = unsigned(n);
    }
  }
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

// A listening socket on `ep`; with `reuse_port`, others may bind the same port.
tcp::acceptor open_acceptor(asio::io_context& ctx, const tcp::endpoint& ep, bool reuse_port) {
  tcp::acceptor a(ctx);
  a.open(ep.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  if (reuse_port) a.set_option(asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
  a.bind(ep);
  a.listen(asio::socket_base::max_listen_connections);
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse_args(argc, argv);
  const unsigned n_ctx = opt.shared ? 1 : opt.threads;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (unsigned i = 0; i < n_ctx; ++i)
    contexts.push_back(std::make_unique<asio::io_context>(opt.shared ? int(opt.threads) : 1));

  tcp::endpoint ep;
  try {
    tcp::resolver resolver(*contexts[0]);
    ep = *resolver.resolve(opt.host, opt.port, tcp::resolver::passive | tcp::resolver::numeric_service)
              .begin();
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "beast-http: bad value for --addr: '%s:%s': %s\nusage: %s\n", opt.host.c_str(),
                 opt.port.c_str(), e.what(), k_usage);
    return 2;
  }
  std::vector<tcp::acceptor> acceptors;
  try {
    for (unsigned i = 0; i < n_ctx; ++i) {
      acceptors.push_back(open_acceptor(*contexts[i], ep, !opt.shared));
      ep.port(acceptors[0].local_endpoint().port());  // port 0: the others join the port the first got
    }
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "beast-http: listen on %s:%s: %s\n", opt.host.c_str(), opt.port.c_str(), e.what());
    return 1;
  }
  std::printf("listening on %s:%u\n", opt.host.c_str(), unsigned(acceptors[0].local_endpoint().port()));
  std::fflush(stdout);

  server srv;
  for (unsigned i = 0; i < n_ctx; ++i) asio::co_spawn(*contexts[i], accept_loop(acceptors[i], srv), rethrow);
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < opt.threads; ++t) threads.emplace_back([&, t] { contexts[t % n_ctx]->run(); });
  contexts[0]->run();
  for (auto& t : threads) t.join();
  return 0;
}
