// The http_server demo, run as a process on port 0 and driven through
// gort::net: answers, keep-alive, exact visit counting under load, 400 and
// 431 without disturbing other clients, and its flags.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "net_util.hpp"

extern char** environ;

namespace {

// The demo binary: $GORT_HTTP_SERVER, else ../demos/http_server next to us.
std::string server_path() {
  if (const char* p = std::getenv("GORT_HTTP_SERVER")) return p;
  auto self = std::filesystem::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "demos" / "http_server").string();
}

// A running http_server; killed by the destructor.
class server_process {
 public:
  explicit server_process(std::vector<std::string> args) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::string path = server_path();
    args.insert(args.begin(), path);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, path.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    out_ = out[0];
    if (rc != 0) throw std::runtime_error("cannot start " + path);
  }
  ~server_process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_);
  }
  // Reads its output until `stop` appears or it exits (15 s at most).
  std::string read_until(const std::string& stop) {
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (output_.find(stop) == std::string::npos && std::chrono::steady_clock::now() < give_up) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) break;
      output_.append(buf, std::size_t(n));
    }
    return output_;
  }
  // The port from "listening on 127.0.0.1:PORT".
  std::string address() {
    std::string out = read_until("\n");
    auto at = out.find("listening on ");
    if (at == std::string::npos) return "";
    return out.substr(at + 13, out.find('\n', at) - at - 13);
  }
  // Sends it a signal.
  void signal(int sig) { kill(pid_, sig); }
  // Waits for it to exit; its status.
  int wait_exit() {
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string output_;
};

struct response {
  int status = 0;
  std::string headers, body;
};

// A keep-alive HTTP client on one connection.
class client {
 public:
  explicit client(const std::string& addr) : c_(gort::net::dial(addr)) {}
  void send(const std::string& raw) { c_.write(raw); }
  response get(const std::string& path) {
    send("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n");
    return receive();
  }
  // One response; status 0 if the server closed first.
  response receive() {
    response r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return r;
    r.headers = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    r.status = std::atoi(r.headers.c_str() + 9);
    auto cl = r.headers.find("Content-Length: ");
    std::size_t len = cl == std::string::npos ? 0 : std::stoul(r.headers.substr(cl + 16));
    while (buf_.size() < len)
      if (!fill()) break;
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }
  // The headers of the next response (its body is left to receive_body).
  std::string receive_headers() {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return "";
    std::string h = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    return h;
  }
  // `n` more bytes (fewer if the server closed first).
  std::string receive_body(std::size_t n) {
    while (buf_.size() < n)
      if (!fill()) break;
    std::string b = buf_.substr(0, n);
    buf_.erase(0, b.size());
    return b;
  }
  // True once the server closed the connection (EOF), reading what remains.
  bool closed_by_server() {
    while (fill()) {}
    return true;
  }

 private:
  bool fill() {
    char tmp[4096];
    std::size_t n = c_.read(std::span<char>(tmp));
    buf_.append(tmp, n);
    return n > 0;
  }
  gort::net::conn c_;
  std::string buf_;
};

// Starts the server; skips the test if the demo was not built.
#define START_SERVER(name, addr_var)                                                   \
  if (!std::filesystem::exists(server_path())) GTEST_SKIP() << "no " << server_path(); \
  server_process name({"--addr", "127.0.0.1:0", "--workers", "2"});                    \
  const std::string addr_var = name.address();                                         \
  ASSERT_NE(addr_var, "") << name.read_until("\n")

TEST(HttpServer, AnswersRootAnd404) {
  START_SERVER(srv, addr);
  EXPECT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
  gort::run(
      [&] {
        client c(addr);
        response r = c.get("/");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "hello world, visit 1\n");
        EXPECT_EQ(c.get("/debug/gort/stats").status, 404);  // only with --debug-addr, on its own port
        EXPECT_EQ(c.get("/nope").status, 404);
        EXPECT_EQ(c.get("/?q=1").body, "hello world, visit 2\n");
      },
      gort_test::cfg(2));
}

// --debug-addr serves gort::debug on a second port: the demo's own statistics.
TEST(HttpServer, ServesGortDebugOnTheDebugAddress) {
  if (!std::filesystem::exists(server_path())) GTEST_SKIP() << "no " << server_path();
  server_process srv({"--addr", "127.0.0.1:0", "--workers", "2", "--debug-addr", "127.0.0.1:0"});
  const std::string addr = srv.address();
  const std::string out = srv.read_until("/debug/gort/\n");
  const auto at = out.find("debug on http://");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string debug_addr = out.substr(at + 16, out.find("/debug/gort/", at) - at - 16);
  gort::run(
      [&] {
        client app(addr);
        EXPECT_EQ(app.get("/").body, "hello world, visit 1\n");
        client dbg(debug_addr);
        response r = dbg.get("/debug/gort/stats");
        EXPECT_EQ(r.status, 200);
        EXPECT_NE(r.headers.find("application/json"), std::string::npos);
        EXPECT_EQ(r.body.rfind("{\"workers\":2,", 0), 0u) << r.body;
        r = dbg.get("/debug/gort/fibers");
        EXPECT_EQ(r.status, 200);
        EXPECT_NE(r.body.find("http_server.cpp"), std::string::npos) << r.body;
        EXPECT_EQ(dbg.get("/").status, 404);
      },
      gort_test::cfg(2));
}

TEST(HttpServer, KeepsTheConnectionAliveAndPipelines) {
  START_SERVER(srv, addr);
  gort::run(
      [&] {
        client c(addr);
        EXPECT_EQ(c.get("/").body, "hello world, visit 1\n");
        EXPECT_EQ(c.get("/").body, "hello world, visit 2\n");  // same connection
        c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_EQ(c.receive().body, "hello world, visit 3\n");
        EXPECT_EQ(c.receive().body, "hello world, visit 4\n");
        c.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        response last = c.receive();
        EXPECT_EQ(last.body, "hello world, visit 5\n");
        EXPECT_NE(last.headers.find("Connection: close"), std::string::npos);
        EXPECT_TRUE(c.closed_by_server());
      },
      gort_test::cfg(2));
}

TEST(HttpServer, CountsVisitsExactlyUnderConcurrentLoad) {
  START_SERVER(srv, addr);
  constexpr int k_clients = 50, k_requests = 20;
  std::vector<int> seen;
  gort::run(
      [&] {
        gort::mutex mu;
        gort::wait_group wg;
        wg.add(k_clients);
        for (int i = 0; i < k_clients; ++i) {
          gort::go([&] {
            client c(addr);
            for (int j = 0; j < k_requests; ++j) {
              response r = c.get("/");
              int n = r.status == 200 ? std::atoi(r.body.c_str() + 19) : -1;
              std::lock_guard g(mu);
              seen.push_back(n);
            }
            wg.done();
          });
        }
        wg.wait();
      },
      gort_test::cfg(2));
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), std::size_t(k_clients * k_requests));
  for (int i = 0; i < k_clients * k_requests; ++i)
    ASSERT_EQ(seen[i], i + 1) << "visit numbers repeat or skip";
}

TEST(HttpServer, MalformedRequestGets400AndOthersAreUnaffected) {
  START_SERVER(srv, addr);
  gort::run(
      [&] {
        client good(addr);
        EXPECT_EQ(good.get("/").status, 200);
        for (const char* bad : {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nHost a\r\n\r\n",
                                "GET /\x01 HTTP/1.1\r\n\r\n", "GET / HTTP/9.9.9\r\n\r\n"}) {
          // (No SCOPED_TRACE in a fiber: gtest keeps traces per OS thread, and a
          // fiber may resume on another worker.)
          client evil(addr);
          evil.send(bad);
          EXPECT_EQ(evil.receive().status, 400) << bad;
          EXPECT_TRUE(evil.closed_by_server()) << bad;
          response r = good.get("/");  // the well-formed client's connection lives on
          EXPECT_EQ(r.status, 200);
        }
        EXPECT_EQ(good.get("/").body, "hello world, visit 6\n");
      },
      gort_test::cfg(2));
}

TEST(HttpServer, OversizedHeadersGet431) {
  START_SERVER(srv, addr);
  gort::run(
      [&] {
        client good(addr);
        client big(addr);
        big.send("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n");
        response r = big.receive();
        EXPECT_EQ(r.status, 431);
        EXPECT_TRUE(big.closed_by_server());
        EXPECT_EQ(good.get("/").body, "hello world, visit 1\n");
      },
      gort_test::cfg(2));
}

// Out of descriptors, the server reports the accept error, pauses (5 ms,
// doubling) and keeps serving: each connection that waited in the kernel's
// queue is accepted and answered once others close (Go's net/http). Real
// EMFILE: the server runs with a low descriptor limit.
TEST(HttpServer, KeepsServingWhenOutOfDescriptors) {
  if (!std::filesystem::exists(server_path())) GTEST_SKIP() << "no " << server_path();
  // Room for what the server opens to start and about a dozen connections.
  // The limit is inherited by the spawned server; this process keeps its own.
  constexpr rlim_t k_limit = 20;
  constexpr int k_clients = 30;
  rlimit mine{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &mine), 0);
  rlimit low = mine;
  low.rlim_cur = k_limit;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::optional<server_process> srv;
  try {
    srv.emplace(std::vector<std::string>{"--addr", "127.0.0.1:0", "--workers", "2"});
  } catch (...) {
    setrlimit(RLIMIT_NOFILE, &mine);
    throw;
  }
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &mine), 0);
  const std::string addr = srv->address();
  ASSERT_NE(addr, "") << srv->read_until("\n");
  std::string out;
  gort::run(
      [&] {
        std::vector<client> clients;
        for (int i = 0; i < k_clients; ++i) clients.emplace_back(addr);  // queued by the kernel
        out = gort::blocking([&] { return srv->read_until("retrying in 10ms"); });
        ASSERT_NE(out.find("http_server: Accept error: accept: Too many open files; retrying in 5ms\n"),
                  std::string::npos)
            << out;
        // One at a time, in the order they connected: each answer needs the
        // server to accept it, which takes the descriptor the last one freed.
        int served = 0;
        for (client& c : clients) {
          client mine_now = std::move(c);
          if (mine_now.get("/").status == 200) ++served;
        }
        EXPECT_EQ(served, k_clients);
        client late(addr);
        EXPECT_EQ(late.get("/").status, 200);
      },
      gort_test::cfg(2));
}

// The numbers in "closed I idle connections; B requests in flight".
std::pair<int, int> idle_and_busy(const std::string& out) {
  auto at = out.find("closed ");
  if (at == std::string::npos) return {-1, -1};
  int idle = -1, busy = -1;
  std::sscanf(out.c_str() + at, "closed %d idle connections; %d requests in flight", &idle, &busy);
  return {idle, busy};
}

// Graceful shutdown on SIGTERM: a request in flight completes and then its
// connection closes, an idle keep-alive connection is closed, a new
// connection is refused, and the server exits 0.
TEST(HttpServer, SigtermLetsTheRequestInFlightFinish) {
  if (!std::filesystem::exists(server_path())) GTEST_SKIP() << "no " << server_path();
  server_process srv({"--addr", "127.0.0.1:0", "--workers", "2"});
  const std::string addr = srv.address();
  ASSERT_NE(addr, "") << srv.read_until("\n");
  std::string out;
  gort::run(
      [&] {
        client slow(addr);
        slow.send("GET /sleep?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n");
        std::string headers = slow.receive_headers();  // from here on the request is in flight
        EXPECT_EQ(headers.rfind("HTTP/1.1 200 OK", 0), 0u) << headers;
        client idle(addr);
        EXPECT_EQ(idle.get("/").status, 200);  // a keep-alive connection, idle afterwards
        srv.signal(SIGTERM);
        out = srv.read_until("requests in flight\n");
        EXPECT_NE(out.find("http_server: SIGTERM: shutting down"), std::string::npos) << out;
        auto [n_idle, n_busy] = idle_and_busy(out);
        EXPECT_EQ(n_idle + n_busy, 2) << out;  // the idle one may still be finishing its response
        EXPECT_GE(n_busy, 1) << out;
        try {
          gort::net::dial(addr);
          ADD_FAILURE() << "a connection after the signal was accepted";
        } catch (const std::system_error& e) {
          EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
        }
        EXPECT_TRUE(idle.closed_by_server());
        EXPECT_EQ(slow.receive_body(std::strlen("slept 1500 ms\n")), "slept 1500 ms\n");
        EXPECT_TRUE(slow.closed_by_server());
      },
      gort_test::cfg(2));
  out = srv.read_until("bye\n");
  EXPECT_NE(out.find("http_server: every request finished; bye\n"), std::string::npos) << out;
  EXPECT_EQ(srv.wait_exit(), 0) << out;
}

// A request still running when the shutdown timeout passes is cut off: its
// connection is closed, and the server still exits 0.
TEST(HttpServer, ShutdownTimeoutClosesWhatIsStillBusy) {
  if (!std::filesystem::exists(server_path())) GTEST_SKIP() << "no " << server_path();
  server_process srv({"--addr", "127.0.0.1:0", "--workers", "2", "--shutdown-timeout", "200"});
  const std::string addr = srv.address();
  ASSERT_NE(addr, "") << srv.read_until("\n");
  gort::run(
      [&] {
        client slow(addr);
        slow.send("GET /sleep?ms=60000 HTTP/1.1\r\nHost: t\r\n\r\n");
        EXPECT_EQ(slow.receive_headers().rfind("HTTP/1.1 200 OK", 0), 0u);
        srv.signal(SIGINT);
        EXPECT_EQ(slow.receive_body(100), "") << "the body never comes";
        EXPECT_TRUE(slow.closed_by_server());
      },
      gort_test::cfg(2));
  std::string out = srv.read_until("bye\n");
  EXPECT_NE(out.find("http_server: SIGINT: shutting down, waiting up to 200 ms"), std::string::npos) << out;
  EXPECT_EQ(idle_and_busy(out), std::make_pair(0, 1)) << out;
  EXPECT_NE(out.find("context deadline exceeded after 200 ms: closed 1 connections still busy; bye\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(srv.wait_exit(), 0) << out;
}

TEST(HttpServer, BadFlagsExit2NamingThem) {
  if (!std::filesystem::exists(server_path())) GTEST_SKIP() << "no " << server_path();
  struct {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {{{"--workers", "zero"}, "--workers: 'zero'"},
               {{"--workers", "0"}, "--workers: '0'"},
               {{"--addr", "nonsense"}, "\"nonsense\""},
               {{"--shutdown-timeout", "soon"}, "--shutdown-timeout: 'soon'"},
               {{"--addr", "127.0.0.1:0", "--debug-addr", "nonsense"}, "--debug-addr: "},
               {{"--frobnicate"}, "--frobnicate"}};
  for (auto& c : cases) {
    server_process p(c.args);
    std::string out = p.read_until("usage");
    EXPECT_EQ(p.wait_exit(), 2) << out;
    EXPECT_NE(out.find(c.says), std::string::npos) << out;
  }
}

}  // namespace
