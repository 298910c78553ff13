// gort::debug's server, driven over gort::net from the same program: the
// endpoints (status codes, content types, JSON, dump text, traces), bad
// requests (400, 404, 405, 413, 431), keep-alive and pipelining, stalled and
// idle clients dropped, the connection limit, concurrent clients, close(),
// and the deadlock rule: the server never makes a stuck program look alive.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "debug/routes.hpp"
#include "debug/server.hpp"
#include "gort/debug.hpp"
#include "gort/gort.hpp"
#include "http_client.hpp"
#include "runtime/park.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort_test::http_client;
using gort_test::http_response;

namespace {

gort::config raising(unsigned workers) {
  return {.workers = workers, .on_deadlock = gort::deadlock_policy::raise};
}

std::string address_of(const gort::debug::server& s) { return "127.0.0.1:" + std::to_string(s.port()); }

// The report of the deadlock that running `fn` must end in ("" if none).
template <class F>
std::string deadlock_report_of(F fn, unsigned workers) {
  try {
    gort::run(fn, raising(workers));
  } catch (const gort::deadlock_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST(DebugServer, StatsAreTheRuntimesJson) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        ASSERT_NE(dbg.port(), 0);
        http_client c(address_of(dbg));
        http_response r = c.get("/debug/gort/stats");
        ASSERT_EQ(r.status, 200) << r.headers << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/json");
        EXPECT_EQ(r.header("Cache-Control"), "no-store");
        nlohmann::json j = nlohmann::json::parse(r.body);
        EXPECT_EQ(j["workers"], 2);
        for (const char* field : {"spawned", "exited", "switches", "steals", "live", "runnable", "blocked",
                                  "global_queue", "blocked_by_reason", "per_worker"})
          EXPECT_TRUE(j.contains(field)) << field;
        EXPECT_EQ(j["per_worker"].size(), 2u);
        EXPECT_GE(j["blocked_by_reason"]["IO wait"].get<int>(), 1);  // the listener
      },
      raising(2));
}

TEST(DebugServer, FibersAreTheDumpWithTheServerMarkedSystem) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        gort::chan<int> never;
        gort::go([never]() mutable { never.recv(); });
        gort_test::wait_blocked("chan receive", 1);
        http_client c(address_of(dbg));
        http_response r = c.get("/debug/gort/fibers");
        ASSERT_EQ(r.status, 200);
        EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
        EXPECT_EQ(r.body.rfind("goroutine 1 [", 0), 0u) << r.body;  // running, or reading this answer
        EXPECT_NE(r.body.find(" [chan receive]:\n"), std::string::npos) << r.body;
        // The listener, marked system: parked in accept, or (with two workers) still
        // handing over the connection it accepted for this request.
        EXPECT_TRUE(std::regex_search(r.body, std::regex("goroutine [0-9]+ \\[(IO wait|running|runnable), system\\]:\n"
                                                         "((?!goroutine )[^\n]*\n)*created by goroutine 1 at [^\n]*server\\.cpp")))
            << r.body;
        EXPECT_NE(r.body.find("debug_server_test.cpp"), std::string::npos) << r.body;
        never.close();
      },
      raising(2));
}

TEST(DebugServer, DashboardIsOneSelfContainedPage) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        http_client c(address_of(dbg));
        http_response r = c.get("/debug/gort/");
        ASSERT_EQ(r.status, 200);
        EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
        EXPECT_NE(r.header("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
        EXPECT_EQ(r.body.rfind("<!doctype html>", 0), 0u);
        EXPECT_NE(r.body.find("var uPlot="), std::string::npos) << "uPlot is not inlined";
        EXPECT_NE(r.body.find("Copyright (c) 2022 Leon Sorokin"), std::string::npos) << "no uPlot licence";
        // Nothing is loaded from anywhere: no src= or href= at all, no @import.
        for (const char* ref : {" src=", " href=", "@import", "@UPLOT", "@PAGE"})
          EXPECT_EQ(r.body.find(ref), std::string::npos) << ref;
      },
      raising(2));
}

TEST(DebugServer, TraceRecordsTheNextSeconds) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        std::atomic<bool> stop{false};
        gort::wait_group wg;
        wg.add();
        gort::go([&] {
          while (!stop) gort::sleep_for(1ms);
          wg.done();
        });
        http_client c(address_of(dbg));
        const auto start = std::chrono::steady_clock::now();
        http_response r = c.get("/debug/gort/trace?seconds=1");
        EXPECT_GE(std::chrono::steady_clock::now() - start, 1s);
        stop = true;
        wg.wait();
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/json");
        EXPECT_EQ(r.header("Content-Disposition"), "attachment; filename=\"gort-trace.json\"");
        nlohmann::json j = nlohmann::json::parse(r.body);
        int slices = 0, timers = 0;
        for (const auto& e : j["traceEvents"]) {
          if (e["ph"] == "X") ++slices;
          if (e["ph"] == "i" && e["name"] == "timer wakeup") ++timers;
        }
        EXPECT_GT(slices, 100);  // a sleeper woken every millisecond for a second
        EXPECT_GT(timers, 100);
      },
      raising(2));
}

TEST(DebugServer, TraceSecondsOutOfRangeIs400) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        http_client c(address_of(dbg));
        for (const char* q : {"", "?seconds=0", "?seconds=61", "?seconds=-1", "?seconds=1.5", "?seconds=abc",
                              "?seconds=", "?seconds", "?secs=5", "?seconds=%zz", "?seconds=100000000000"}) {
          http_response r = c.get(std::string("/debug/gort/trace") + q);
          EXPECT_EQ(r.status, 400) << q;
          EXPECT_NE(r.body.find("1 to 60"), std::string::npos) << r.body;
        }
      },
      raising(2));
}

// One capture at a time: a second request while one records gets 409; the
// first still gets its trace.
TEST(DebugServer, ConcurrentTraceRequestGets409) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        gort::chan<int> first_status(1);
        gort::go([&] {
          first_status.send(http_client(address_of(dbg)).get("/debug/gort/trace?seconds=2").status);
        });
        gort_test::wait_blocked("sleep", 1);  // the first capture's window
        http_client second(address_of(dbg));
        http_response r = second.get("/debug/gort/trace?seconds=1");
        EXPECT_EQ(r.status, 409);
        EXPECT_NE(r.body.find("another trace"), std::string::npos) << r.body;
        EXPECT_EQ(second.get("/debug/gort/stats").status, 200);  // the connection lives on
        EXPECT_EQ(first_status.recv(), 200);
      },
      raising(2));
}

TEST(DebugServer, UnknownPathsAre404AndOtherMethods405) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        http_client c(address_of(dbg));
        for (const char* path : {"/", "/debug/gort", "/debug/gort/stats/", "/debug/gort/statsx",
                                 "/debug/pprof/", "/debug/gort/dashboard"})
          EXPECT_EQ(c.get(path).status, 404) << path;
        http_response r = c.get("/debug/gort/stats", "POST");
        EXPECT_EQ(r.status, 405);
        EXPECT_EQ(r.header("Allow"), "GET, HEAD");
        r = c.get("/debug/gort/stats", "HEAD");
        EXPECT_EQ(r.status, 200);
        EXPECT_GT(std::stoul(r.header("Content-Length")), 0u);
        EXPECT_EQ(c.get("/debug/gort/stats?x=1").status, 200);  // a query is ignored
      },
      raising(2));
}

// Bad requests get their status and close only their own connection.
TEST(DebugServer, BadRequestsCloseOnlyTheirConnection) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        http_client good(address_of(dbg));
        EXPECT_EQ(good.get("/debug/gort/stats").status, 200);
        struct {
          std::string raw;
          int status;
        } cases[] = {
            {"GARBAGE\r\n\r\n", 400},
            {"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},
            {"GET /\x01 HTTP/1.1\r\n\r\n", 400},
            {"GET / HTTP/9.9.9\r\n\r\n", 400},
            {"GET /debug/gort/stats HTTP/1.1\r\nX-Big: " + std::string(20000, 'x') + "\r\n\r\n", 431},
            {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 431},
            {"POST /debug/gort/stats HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'b'),
             413},
        };
        for (auto& c : cases) {
          http_client evil(address_of(dbg));
          evil.send(c.raw);
          EXPECT_EQ(evil.receive().status, c.status) << c.raw.substr(0, 40);
          EXPECT_TRUE(evil.closed_by_server()) << c.raw.substr(0, 40);
          EXPECT_EQ(good.get("/debug/gort/stats").status, 200);
        }
      },
      raising(2));
}

TEST(DebugServer, KeepAlivePipeliningAndClose) {
  gort::run(
      [] {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        http_client c(address_of(dbg));
        EXPECT_EQ(c.get("/debug/gort/stats").status, 200);
        EXPECT_EQ(c.get("/debug/gort/fibers").status, 200);  // the same connection
        c.send(
            "GET /debug/gort/stats HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n"
            "GET /debug/gort/fibers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            "GET /debug/gort/stats HTTP/1.1\r\nHost: a\r\n\r\n");  // after close: ignored
        EXPECT_EQ(c.receive().status, 200);
        EXPECT_EQ(c.receive().status, 404);
        http_response last = c.receive();
        EXPECT_EQ(last.status, 200);
        EXPECT_EQ(last.header("Connection"), "close");
        EXPECT_TRUE(c.closed_by_server());

        http_client old(address_of(dbg));  // HTTP/1.0 closes unless asked not to
        old.send("GET /debug/gort/stats HTTP/1.0\r\n\r\n");
        EXPECT_EQ(old.receive().status, 200);
        EXPECT_TRUE(old.closed_by_server());
      },
      raising(2));
}

// A client that stops in the middle of a request is dropped after the
// request timeout; an idle keep-alive client after the idle timeout; the
// others are served meanwhile.
TEST(DebugServer, StalledAndIdleClientsAreDropped) {
  gort::run(
      [] {
        gort::debug::detail::options opt;
        opt.request_timeout = 300ms;
        opt.idle_timeout = 600ms;
        auto dbg = gort::debug::detail::serve_with("127.0.0.1:0", opt);
        http_client stalled(address_of(dbg));
        const auto start = std::chrono::steady_clock::now();
        stalled.send("GET /debug/gort/stats HTTP/1.1\r\nHo");
        http_client idle(address_of(dbg));
        EXPECT_EQ(idle.get("/debug/gort/stats").status, 200);
        http_client good(address_of(dbg));
        EXPECT_EQ(good.get("/debug/gort/stats").status, 200);
        EXPECT_TRUE(stalled.closed_by_server());
        const auto stalled_for = std::chrono::steady_clock::now() - start;
        EXPECT_GE(stalled_for, 300ms);
        EXPECT_LT(stalled_for, 10s);
        EXPECT_EQ(good.get("/debug/gort/fibers").status, 200);
        EXPECT_TRUE(idle.closed_by_server());
        EXPECT_GE(std::chrono::steady_clock::now() - start, 600ms);
      },
      raising(2));
}

TEST(DebugServer, ConnectionsOverTheLimitAreClosed) {
  gort::run(
      [] {
        gort::debug::detail::options opt;
        opt.max_connections = 2;
        auto dbg = gort::debug::detail::serve_with("127.0.0.1:0", opt);
        http_client a(address_of(dbg)), b(address_of(dbg));
        EXPECT_EQ(a.get("/debug/gort/stats").status, 200);
        EXPECT_EQ(b.get("/debug/gort/stats").status, 200);
        http_client c(address_of(dbg));
        EXPECT_TRUE(c.closed_by_server());
        EXPECT_EQ(a.get("/debug/gort/stats").status, 200);
      },
      raising(2));
}

// Many clients at once, each on its own connection, at 1, 2 and 4 workers:
// every answer is whole and right.
TEST(DebugServer, StressConcurrentClients) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::run_at_each_worker_count(
      [seed](unsigned workers) {
        auto dbg = gort::debug::serve("127.0.0.1:0");
        constexpr int k_clients = 24, k_requests = 15;
        std::atomic<int> ok{0};
        gort::wait_group wg;
        wg.add(k_clients);
        for (int i = 0; i < k_clients; ++i) {
          gort::go([&, i] {
            http_client c(address_of(dbg));
            for (int j = 0; j < k_requests; ++j) {
              const std::uint64_t pick = (seed + std::uint64_t(i) * 31 + std::uint64_t(j)) % 3;
              if (pick == 0) {
                http_response r = c.get("/debug/gort/stats");
                if (r.status == 200 && nlohmann::json::parse(r.body)["workers"] == workers) ++ok;
              } else if (pick == 1) {
                http_response r = c.get("/debug/gort/fibers");
                if (r.status == 200 && r.body.rfind("goroutine ", 0) == 0) ++ok;
              } else {
                if (c.get("/debug/gort/nope").status == 404) ++ok;
              }
            }
            wg.done();
          });
        }
        wg.wait();
        EXPECT_EQ(ok.load(), k_clients * k_requests);
      },
      raising(1));
}

TEST(DebugServer, CloseStopsListeningAndEndsConnections) {
  gort::run(
      [] {
        const std::size_t before = gort::num_fibers();
        auto dbg = gort::debug::serve("127.0.0.1:0");
        const std::string addr = address_of(dbg);
        http_client c(addr);
        EXPECT_EQ(c.get("/debug/gort/stats").status, 200);
        EXPECT_EQ(gort::num_fibers(), before) << "the server's fibers are counted";
        dbg.close();
        dbg.close();  // idempotent
        EXPECT_TRUE(c.closed_by_server());
        // The listening socket goes once the accept fiber has woken and left.
        bool refused = false;
        for (auto give_up = std::chrono::steady_clock::now() + 15s;
             !refused && std::chrono::steady_clock::now() < give_up;) {
          try {
            gort::net::dial(addr);
            gort::sleep_for(1ms);
          } catch (const std::system_error&) {
            refused = true;
          }
        }
        EXPECT_TRUE(refused);
        const std::uint16_t port = dbg.port();
        gort::debug::server moved = std::move(dbg);
        EXPECT_EQ(moved.port(), port);
        EXPECT_EQ(dbg.port(), 0);  // NOLINT(bugprone-use-after-move): a moved-from server is empty
      },
      raising(2));
  gort::debug::server none;
  EXPECT_EQ(none.port(), 0);
  none.close();
}

TEST(DebugServer, BadAddressAndOutsideRunThrow) {
  EXPECT_THROW(gort::debug::serve("127.0.0.1:0"), std::logic_error);
  gort::run(
      [] {
        try {
          gort::debug::serve("nonsense");
          ADD_FAILURE() << "no exception";
        } catch (const std::invalid_argument& e) {
          EXPECT_NE(std::string(e.what()).find("\"nonsense\""), std::string::npos) << e.what();
        }
        auto dbg = gort::debug::serve("127.0.0.1:0");
        EXPECT_THROW(gort::debug::serve(address_of(dbg)), std::system_error);  // EADDRINUSE
      },
      raising(2));
}

// ---- the deadlock rule ----------------------------------------------------

// However the server is busy (parked in accept, a client stalled mid-request
// whose timeout is pending, an idle keep-alive client, a trace being
// recorded), a program whose own fibers are all blocked for good is
// deadlocked, and reported at once, not when the server's timers fire.
TEST(DebugServer, NeverHidesADeadlock) {
  gort_test::for_each_worker_count([](unsigned w) {
    for (int variant = 0; variant < 4; ++variant) {
      SCOPED_TRACE("variant " + std::to_string(variant));
      const auto start = std::chrono::steady_clock::now();
      std::string report = deadlock_report_of(
          [variant] {
            auto dbg = gort::debug::serve("127.0.0.1:0");
            std::unique_ptr<http_client> client;
            if (variant == 1) {
              client = std::make_unique<http_client>(address_of(dbg));
              client->send("GET /debug/gort/stats HTTP/1.1\r\nHo");  // stalls: a 10 s deadline
            } else if (variant == 2) {
              client = std::make_unique<http_client>(address_of(dbg));
              EXPECT_EQ(client->get("/debug/gort/stats").status, 200);  // then idle: 2 min
            } else if (variant == 3) {
              gort::go([addr = address_of(dbg)] {
                gort::detail::mark_system_fiber();  // a client that is not the program's
                http_client(addr).get("/debug/gort/trace?seconds=60");
              });
              gort_test::wait_blocked("sleep", 1);  // the capture's window
            }
            if (variant == 1 || variant == 2) gort_test::wait_blocked("IO wait", 2);
            gort::chan<int> never;
            never.recv();
          },
          w);
      EXPECT_LT(std::chrono::steady_clock::now() - start, 8s) << "reported only when a timer fired";
      EXPECT_EQ(report.rfind("fatal error: all goroutines are asleep - deadlock!", 0), 0u) << report;
      EXPECT_NE(report.find("goroutine 1 [chan receive]:"), std::string::npos) << report;
      EXPECT_NE(report.find("[IO wait, system]:"), std::string::npos) << report;
    }
  });
}

// ---- without sockets (what a fuzzer drives) ---------------------------------

TEST(DebugHttp, HandleBytesWithoutARuntime) {
  using gort::debug::detail::handle_bytes;
  auto x = handle_bytes("GET /debug/gort/stats HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(x.written.rfind("HTTP/1.1 503 ", 0), 0u) << x.written;
  EXPECT_FALSE(x.closed_early);
  x = handle_bytes("GET /debug/gort/trace?seconds=5 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(x.written.rfind("HTTP/1.1 503 ", 0), 0u) << x.written;
  x = handle_bytes("GET /debug/gort/trace?seconds=0 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(x.written.rfind("HTTP/1.1 400 ", 0), 0u) << x.written;
  x = handle_bytes("GET /debug/gort/ HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n");
  EXPECT_EQ(x.written.rfind("HTTP/1.1 200 OK\r\nContent-Type: text/html", 0), 0u);
  EXPECT_NE(x.written.find("HTTP/1.1 404 "), std::string::npos);
  x = handle_bytes("\x16\x03\x01 not http");
  EXPECT_EQ(x.written.rfind("HTTP/1.1 400 ", 0), 0u) << x.written;
  EXPECT_TRUE(x.closed_early);
  x = handle_bytes("");
  EXPECT_EQ(x.written, "");
}

// The answer does not depend on how the bytes were split.
TEST(DebugHttp, ByteAtATimeEqualsAllAtOnce) {
  using gort::debug::detail::handle_bytes;
  const std::string input =
      "GET /debug/gort/ HTTP/1.1\r\nHost: a\r\n\r\nHEAD /debug/gort/ HTTP/1.1\r\n\r\n"
      "GET /debug/gort/trace?seconds=99 HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\nConnection: close\r\n\r\n";
  const auto whole = handle_bytes(input);
  for (std::size_t chunk : {1, 2, 7, 100}) {
    const auto pieces = handle_bytes(input, chunk);
    EXPECT_EQ(pieces.written, whole.written) << chunk;
    EXPECT_EQ(pieces.closed_early, whole.closed_early) << chunk;
  }
  EXPECT_TRUE(whole.closed_early);
}

TEST(DebugHttp, TraceSecondsParsing) {
  using gort::debug::detail::trace_seconds;
  EXPECT_EQ(trace_seconds("seconds=1"), 1);
  EXPECT_EQ(trace_seconds("seconds=60"), 60);
  EXPECT_EQ(trace_seconds("a=b&seconds=07"), 7);
  EXPECT_EQ(trace_seconds("seconds=%33%30"), 30);
  EXPECT_EQ(trace_seconds("seconds=5&seconds=99"), 5);
  for (const char* bad :
       {"", "seconds=0", "seconds=61", "seconds=+5", "seconds=5x", "seconds", "x=1", "seconds=%3"})
    EXPECT_EQ(trace_seconds(bad), std::nullopt) << bad;
}
