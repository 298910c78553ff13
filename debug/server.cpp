// The debug server: a listener fiber and one fiber per connection, all of
// them runtime service fibers (mark_system_fiber: never counted as alive by
// the deadlock check, marked `system` in dumps).
//
// Invariants:
//   - server_state is shared by the server handle and the server's fibers;
//     the last one to let go destroys the listener.
//   - `closed`, `conns` and `open` are guarded by `mu`, which is never held
//     across a park (conn::close() and listener::close() never park).
//   - A connection's conn lives in its fiber and is in `conns` exactly while
//     that fiber may use it, so close() may close it from any thread.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <set>
#include <span>
#include <system_error>

#include "debug/routes.hpp"
#include "debug/server.hpp"
#include "gort/gort.hpp"
#include "runtime/park.hpp"

namespace gort::debug {

struct detail::server_state {
  options opt;
  net::listener ln;
  std::uint16_t port = 0;
  std::mutex mu;
  bool closed = false;         // guarded by mu
  std::set<net::conn*> conns;  // guarded by mu
  std::size_t open = 0;        // guarded by mu: accepted, not yet finished
};

namespace {

using clock = std::chrono::steady_clock;
using detail::server_state;

// Writes `data` in pieces, each of which must be taken within `timeout`.
void send_all(net::conn& c, std::string_view data, std::chrono::milliseconds timeout) {
  constexpr std::size_t k_piece = 256 << 10;
  while (!data.empty()) {
    const std::string_view piece = data.substr(0, k_piece);
    c.set_deadline(clock::now() + timeout);
    c.write(piece);
    data.remove_prefix(piece.size());
  }
}

// When the server ends a connection the client may still be writing to,
// closing with unread input would send a reset that can destroy the last
// answer in flight: shut down writing and discard input for a while first
// (a lingering close, as nginx and Go's net/http do).
void linger_close(net::conn& c, std::span<char> buf) {
  c.close_write();
  c.set_deadline(clock::now() + std::chrono::milliseconds(500));
  std::size_t discarded = 0;
  while (discarded < (256u << 10)) {
    const std::size_t n = c.read(buf);
    if (n == 0) break;
    discarded += n;
  }
}

// The connection's fiber: reads, answers, until either side ends it. Errors
// (a reset, a timeout, close()) end only this connection.
void serve_conn(std::shared_ptr<server_state> st, net::conn c) {
  gort::detail::mark_system_fiber();
  struct registration {
    server_state& st;
    net::conn& c;
    bool listed = false;
    ~registration() {
      std::lock_guard g(st.mu);
      if (listed) st.conns.erase(&c);
      --st.open;
    }
  } reg{*st, c};
  {
    std::lock_guard g(st->mu);
    if (st->closed) return;
    st->conns.insert(&c);
    reg.listed = true;
  }
  const detail::options& opt = st->opt;
  try {
    detail::http_connection http(&detail::route, opt.limits);
    std::string buf(16 << 10, '\0');
    clock::time_point request_began{};
    for (;;) {
      if (http.mid_request()) {
        if (request_began == clock::time_point{}) request_began = clock::now();
        c.set_deadline(request_began + opt.request_timeout);
      } else {
        request_began = {};
        c.set_deadline(clock::now() + opt.idle_timeout);
      }
      const std::size_t n = c.read(std::span<char>(buf));
      const bool more = http.feed(std::string_view(buf.data(), n));
      if (!http.output().empty()) {
        send_all(c, http.output(), opt.write_timeout);
        http.output().clear();
      }
      if (!more) {
        if (n != 0) linger_close(c, std::span<char>(buf));
        return;
      }
    }
  } catch (const std::exception&) {
    // Reset, timed out, or closed by server::close(): nothing to tell it.
  }
}

void report_accept_error(const std::system_error& e, std::chrono::milliseconds retry_in) {
  std::fprintf(stderr, "gort::debug: accept error: %s; retrying in %lldms\n", e.what(),
               static_cast<long long>(retry_in.count()));
}

// The listener's fiber. Out of descriptors or kernel memory, it reports,
// pauses (5 ms, doubling up to 1 s) and accepts again, as Go's net/http does.
void accept_loop(std::shared_ptr<server_state> st) {
  gort::detail::mark_system_fiber();
  net::accept_backoff backoff(&report_accept_error);
  for (;;) {
    net::conn c;
    try {
      c = backoff.accept(st->ln);
    } catch (const std::system_error& e) {
      if (e.code() != std::errc::bad_file_descriptor)  // EBADF: closed, the normal end
        std::fprintf(stderr, "gort::debug: accept: %s; not serving any more\n", e.what());
      return;
    }
    {
      std::lock_guard g(st->mu);
      if (st->closed) return;
      if (st->open >= st->opt.max_connections) continue;  // c closes here
      ++st->open;
    }
    gort::go(serve_conn, st, std::move(c));
  }
}

}  // namespace

server detail::serve_with(std::string_view address, const options& opt) {
  auto st = std::make_shared<server_state>();
  st->opt = opt;
  st->ln = net::listen(address);
  st->port = st->ln.port();
  gort::go(accept_loop, st);
  return server(std::move(st));
}

server serve(std::string_view address) { return detail::serve_with(address, detail::options{}); }

server::server() noexcept = default;
server::server(std::shared_ptr<detail::server_state> s) noexcept : state_(std::move(s)) {}
server::server(server&&) noexcept = default;
server& server::operator=(server&& o) noexcept {
  if (this != &o) {
    close();
    state_ = std::move(o.state_);
  }
  return *this;
}
server::~server() { close(); }

std::uint16_t server::port() const { return state_ ? state_->port : 0; }

void server::close() {
  if (!state_) return;
  std::lock_guard g(state_->mu);
  if (state_->closed) return;
  state_->closed = true;
  state_->ln.close();
  for (net::conn* c : state_->conns) c->close();
}

}  // namespace gort::debug
