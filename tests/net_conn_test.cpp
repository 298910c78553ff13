// gort::net connections: data integrity, concurrency, parking, deadlines,
// close, errors (docs/api.md, "Network and blocking calls").
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <system_error>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort_test::cfg;

namespace {

// Echoes everything it reads on one accepted connection, then closes it.
void echo_one(gort::net::conn c) {
  char buf[8192];
  while (std::size_t n = c.read(std::span<char>(buf))) c.write(std::string_view(buf, n));
}

TEST(NetConn, Echo1MiB) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto ln = gort::net::listen("127.0.0.1:0");
        ASSERT_NE(ln.port(), 0);
        gort::go([&ln] { echo_one(ln.accept()); });
        auto c = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
        const std::string data = gort_test::pattern(1 << 20);
        // Write from one fiber while this one reads: neither side's buffers
        // need to hold the whole MiB.
        auto writer = gort::spawn([&] {
          c.write(data);
          c.close_write();
        });
        std::string back = gort_test::read_all(c);
        writer.join();
        ASSERT_EQ(back.size(), data.size());
        EXPECT_TRUE(back == data);
      },
      cfg());
}

constexpr int k_conns = 1000;

TEST(NetConnLoad, ThousandConcurrentConnections) {
  if (gort_test::raise_fd_limit(2 * k_conns + 100) < rlim_t(2 * k_conns + 100))
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit too low for " << k_conns << " connections";
  gort::run(
      [] {
        auto ln = gort::net::listen("127.0.0.1:0");
        std::atomic<int> served{0};
        gort::go([&] {
          for (;;) {
            gort::net::conn c;
            try {
              c = ln.accept();
            } catch (const std::system_error&) {
              return;  // closed at the end
            }
            gort::go(
                [&served](gort::net::conn c) {
                  echo_one(std::move(c));
                  served.fetch_add(1);
                },
                std::move(c));
          }
        });
        std::string addr = "127.0.0.1:" + std::to_string(ln.port());
        std::atomic<int> ok{0};
        gort::wait_group all_connected, done;
        all_connected.add(k_conns);
        done.add(k_conns);
        for (int i = 0; i < k_conns; ++i) {
          gort::go([&, i] {
            auto c = gort::net::dial(addr);
            all_connected.done();
            all_connected.wait();  // all 1,000 are open at once
            std::string msg = "hello from " + std::to_string(i);
            c.write(msg);
            if (gort_test::read_n(c, msg.size()) == msg) ok.fetch_add(1);
            done.done();
          });
        }
        done.wait();
        EXPECT_EQ(ok.load(), k_conns);
        ln.close();
      },
      cfg(2));
}

TEST(NetConnPark, ReadParksOnlyItsFiber) {
  gort::run(
      [] {
        auto ln = gort::net::listen("127.0.0.1:0");
        auto client = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
        auto server = ln.accept();
        std::atomic<bool> got{false};
        auto reader = gort::spawn([&] {
          char b[16];
          std::size_t n = server.read(std::span<char>(b));
          got = true;
          return std::string(b, n);
        });
        gort_test::wait_blocked("IO wait", 1);
        // One worker: this fiber runs, so the reader parked only itself.
        for (int i = 0; i < 1000; ++i) gort::yield();
        EXPECT_FALSE(got.load());
        client.write("ping");
        EXPECT_EQ(reader.join(), "ping");
      },
      cfg(1));
}

TEST(NetConn, DeadlineThrowsTimeoutError) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto ln = gort::net::listen("127.0.0.1:0");
        auto client = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
        auto server = ln.accept();
        auto t0 = std::chrono::steady_clock::now();
        server.set_deadline(t0 + 50ms);
        char b[8];
        try {
          server.read(std::span<char>(b));
          ADD_FAILURE() << "read returned before the deadline";
        } catch (const gort::net::timeout_error& e) {
          EXPECT_EQ(e.code(), std::errc::timed_out);
          EXPECT_GE(std::chrono::steady_clock::now() - t0, 45ms);
        }
        // A passed deadline fails at once, even with data waiting.
        client.write("x");
        EXPECT_THROW(server.read(std::span<char>(b)), gort::net::timeout_error);
        EXPECT_THROW(server.write("y"), gort::net::timeout_error);
        // Clearing it makes the socket usable again.
        server.set_deadline(std::chrono::steady_clock::time_point::max());
        EXPECT_EQ(server.read(std::span<char>(b)), 1u);
        static_assert(std::is_base_of_v<std::system_error, gort::net::timeout_error>);
      },
      cfg());
}

TEST(NetConn, CloseWakesAccept) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto ln = gort::net::listen("127.0.0.1:0");
        auto acceptor = gort::spawn([&] {
          try {
            ln.accept();
          } catch (const std::system_error& e) {
            return e.code().value();
          }
          return 0;
        });
        gort_test::wait_blocked("IO wait", 1);
        ln.close();
        EXPECT_EQ(acceptor.join(), EBADF);
        EXPECT_THROW(ln.accept(), std::system_error);
        ln.close();  // idempotent
      },
      cfg());
}

TEST(NetConn, CloseWakesReaderAndWriter) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto ln = gort::net::listen("127.0.0.1:0");
        auto client = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
        auto server = ln.accept();
        int small = 4096;
        setsockopt(server.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        auto code_of = [](auto fn) {
          try {
            fn();
          } catch (const std::system_error& e) {
            return e.code().value();
          }
          return 0;
        };
        auto reader = gort::spawn([&] {
          return code_of([&] {
            char b[8];
            server.read(std::span<char>(b));
          });
        });
        auto writer =
            gort::spawn([&] { return code_of([&] { server.write(gort_test::pattern(8 << 20)); }); });
        gort_test::wait_blocked("IO wait", 2);  // both directions parked
        server.close();
        EXPECT_EQ(reader.join(), EBADF);
        EXPECT_EQ(writer.join(), EBADF);
        // Once closed, every later operation fails with EBADF too.
        EXPECT_EQ(code_of([&] {
                    char b[8];
                    server.read(std::span<char>(b));
                  }),
                  EBADF);
        EXPECT_EQ(code_of([&] { server.write("x"); }), EBADF);
        server.close();  // idempotent
      },
      cfg());
}

TEST(NetConnErrors, RefusedDial) {
  gort::run(
      [] {
        auto ln = gort::net::listen("127.0.0.1:0");
        std::string addr = "127.0.0.1:" + std::to_string(ln.port());
        ln.close();
        try {
          gort::net::dial(addr);
          ADD_FAILURE() << "dial to a closed port succeeded";
        } catch (const std::system_error& e) {
          EXPECT_EQ(e.code(), std::errc::connection_refused) << e.what();
          EXPECT_NE(std::string(e.what()).find(addr), std::string::npos) << e.what();
        }
      },
      cfg(2));
}

TEST(NetConn, PeerReset) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto ln = gort::net::listen("127.0.0.1:0");
        auto client = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
        auto server = ln.accept();
        client.write("x");  // unread data at close makes the kernel send RST
        linger lg{1, 0};
        setsockopt(client.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        client.close();
        char b[8];
        try {
          // The byte may come first; then the reset.
          while (server.read(std::span<char>(b)) > 0) {}
          ADD_FAILURE() << "read saw end of stream instead of a reset";
        } catch (const std::system_error& e) {
          EXPECT_EQ(e.code(), std::errc::connection_reset) << e.what();
        }
        EXPECT_THROW(client.read(std::span<char>(b)), std::system_error);  // closed: EBADF
      },
      cfg());
}

TEST(NetConn, HalfClose) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto ln = gort::net::listen("127.0.0.1:0");
        gort::go([&ln] {
          auto c = ln.accept();
          std::string req = gort_test::read_all(c);  // until the client's close_write
          c.write("got " + std::to_string(req.size()));
        });
        auto c = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
        c.write("12345");
        c.close_write();
        EXPECT_EQ(gort_test::read_all(c), "got 5");
        EXPECT_THROW(c.write("more"), std::system_error);  // EPIPE, not SIGPIPE
      },
      cfg());
}

TEST(NetConn, PartialWritesWithSmallSendBuffer) {
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto ln = gort::net::listen("127.0.0.1:0");
        auto client = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
        auto server = ln.accept();
        // (Below 32 KiB, loopback TCP itself crawls: ~2 MB/s, with or without gort.)
        int small = 32 << 10;
        setsockopt(client.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        const std::string data = gort_test::pattern(4 << 20, 7);  // more than the receiver buffers
        auto writer = gort::spawn([&] { client.write(data); });
        gort_test::wait_blocked("IO wait", 1);  // the writer filled the buffers and parked
        std::string got = gort_test::read_n(server, data.size());
        writer.join();
        EXPECT_TRUE(got == data);
      },
      cfg());
}

TEST(NetConnMisc, MovedFromAndDefaultConnThrowEbadf) {
  gort::run(
      [] {
        gort::net::conn c;
        EXPECT_FALSE(c);
        EXPECT_EQ(c.native_handle(), -1);
        try {
          c.write("x");
          ADD_FAILURE();
        } catch (const std::system_error& e) {
          EXPECT_EQ(e.code().value(), EBADF);
        }
        c.close();
        auto ln = gort::net::listen("127.0.0.1:0");
        auto a = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
        gort::net::conn b = std::move(a);
        EXPECT_TRUE(b);
        EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from state is specified
      },
      cfg(1));
}

TEST(NetConnMisc, PlainThreadBlocksInsteadOfParking) {
  gort::run(
      [] {
        auto ln = gort::net::listen("127.0.0.1:0");
        gort::go([&ln] { echo_one(ln.accept()); });
        std::string got;
        {
          gort::thread t([&] {
            auto c = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
            c.write("from a thread");
            got = gort_test::read_n(c, 13);
          });
        }
        EXPECT_EQ(got, "from a thread");
      },
      cfg(2));
}

}  // namespace
