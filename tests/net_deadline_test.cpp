// gort::net::conn's separate read and write deadlines, deadlines set or
// changed while a fiber is parked in read or write, and the local and remote
// addresses (docs/api.md, "Network and blocking calls").
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <system_error>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using gort_test::cfg;

namespace {

class NetDeadline : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(workers, NetDeadline, ::testing::ValuesIn(gort_test::k_worker_counts));

// Shrinks both socket buffers so that a few hundred KiB fill them.
void small_buffers(gort::net::conn& writer, gort::net::conn& reader) {
  int size = 4096;
  ::setsockopt(writer.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(reader.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

// A write far larger than both socket buffers: it parks until the peer
// reads or the write deadline passes.
const std::string& big_payload() {
  static const std::string s = gort_test::pattern(8 << 20);
  return s;
}

// Runs `op` and returns "ok", "timeout" or the error's text.
template <class F>
std::string outcome(F&& op) {
  try {
    op();
    return "ok";
  } catch (const gort::net::timeout_error&) {
    return "timeout";
  } catch (const std::system_error& e) {
    return e.what();
  }
}

TEST_P(NetDeadline, ReadAndWriteDeadlinesAreIndependent) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        char b[8];
        const auto past = clock_type::now() - 1ms;
        p.server.set_read_deadline(past);
        EXPECT_EQ(outcome([&] { p.server.read(std::span<char>(b)); }), "timeout");
        EXPECT_EQ(outcome([&] { p.server.write("w"); }), "ok");  // writes unaffected
        EXPECT_EQ(gort_test::read_n(p.client, 1), "w");
        p.server.set_read_deadline(clock_type::time_point::max());
        p.server.set_write_deadline(past);
        EXPECT_EQ(outcome([&] { p.server.write("w"); }), "timeout");
        p.client.write("r");
        EXPECT_EQ(outcome([&] { p.server.read(std::span<char>(b)); }), "ok");  // reads unaffected
        p.server.set_deadline(past);                                           // both
        EXPECT_EQ(outcome([&] { p.server.read(std::span<char>(b)); }), "timeout");
        EXPECT_EQ(outcome([&] { p.server.write("w"); }), "timeout");
        p.server.set_deadline(clock_type::time_point::max());
        p.client.write("r");
        EXPECT_EQ(outcome([&] { p.server.read(std::span<char>(b)); }), "ok");
        EXPECT_EQ(outcome([&] { p.server.write("w"); }), "ok");
      },
      cfg(GetParam()));
}

TEST_P(NetDeadline, DeadlineSetWhileParkedInReadApplies) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        // No deadline when the read parks; one is set afterwards.
        auto t = gort::spawn([&] {
          char b[8];
          return outcome([&] { p.server.read(std::span<char>(b)); });
        });
        gort_test::wait_blocked("IO wait", 1);
        const auto t0 = clock_type::now();
        p.server.set_read_deadline(t0 + 30ms);
        EXPECT_EQ(t.join(), "timeout");
        EXPECT_GE(clock_type::now() - t0, 25ms);
        // A far deadline, then one in the past: the parked read fails at once.
        p.server.set_read_deadline(clock_type::now() + 1h);
        t = gort::spawn([&] {
          char b[8];
          return outcome([&] { p.server.read(std::span<char>(b)); });
        });
        gort_test::wait_blocked("IO wait", 1);
        p.server.set_read_deadline(clock_type::now() - 1ms);
        EXPECT_EQ(t.join(), "timeout");
      },
      cfg(GetParam()));
}

TEST_P(NetDeadline, DeadlineExtendedWhileParkedDoesNotFire) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        // The read parks with deadline D; the deadline is cleared before D;
        // data comes after D. If the clearing finished before D, the read
        // must return the data. On a machine so slow that it did not,
        // retry with a longer D (the outcome then proves nothing).
        for (auto window = 50ms;; window *= 2) {
          ASSERT_LE(window, 10s) << "never managed to clear the deadline in time";
          const auto d = clock_type::now() + window;
          p.server.set_read_deadline(d);
          auto t = gort::spawn([&] {
            char b[8];
            std::size_t n = 0;
            std::string r = outcome([&] { n = p.server.read(std::span<char>(b)); });
            return r == "ok" ? std::string(b, n) : r;
          });
          gort_test::wait_blocked("IO wait", 1);
          p.server.set_read_deadline(clock_type::time_point::max());
          const bool in_time = clock_type::now() < d;
          if (in_time) gort::sleep_until(d + 20ms);  // past the old deadline
          p.client.write("data");
          std::string got = t.join();
          if (in_time) {
            EXPECT_EQ(got, "data");
            break;
          }
          // Cleared too late to prove anything; either outcome is right.
          if (got == "timeout") {
            EXPECT_EQ(gort_test::read_n(p.server, 4), "data");
          }
        }
      },
      cfg(GetParam()));
}

TEST_P(NetDeadline, WriteDeadlineSetWhileParkedInWriteApplies) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        small_buffers(p.server, p.client);
        // A reader and a writer parked on the same conn at once; a read
        // deadline wakes only the reader, a write deadline only the writer.
        auto writer = gort::spawn([&] { return outcome([&] { p.server.write(big_payload()); }); });
        auto reader = gort::spawn([&] {
          char b[8];
          return outcome([&] { p.server.read(std::span<char>(b)); });
        });
        gort_test::wait_blocked("IO wait", 2);
        p.server.set_read_deadline(clock_type::now());
        EXPECT_EQ(reader.join(), "timeout");
        gort_test::wait_blocked("IO wait", 1);  // the writer still waits
        const auto t0 = clock_type::now();
        p.server.set_write_deadline(t0 + 20ms);
        EXPECT_EQ(writer.join(), "timeout");
        EXPECT_GE(clock_type::now() - t0, 15ms);
      },
      cfg(GetParam()));
}

// Deadlines set while the reader is anywhere in read(): copying data,
// between its deadline check and its park, or parked. Each round's deadline
// (past or a few hundred microseconds ahead) must end that round's read with
// exactly one timeout, and no byte may be lost. A deadline that missed a
// parked reader would leave it waiting: the round then fails after 10 s.
TEST_P(NetDeadline, StressDeadlinesSetAroundThePark) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  constexpr int k_rounds = 300;
  gort::run(
      [seed] {
        std::mt19937_64 rng(seed);
        gort_test::loopback_pair p;
        gort::chan<int> timed_out, go_on;
        auto reader = gort::spawn([&] {
          std::string got;
          char b[256];
          try {
            for (;;) {
              try {
                std::size_t n = p.server.read(std::span<char>(b));
                if (n == 0) return got;
                got.append(b, n);
              } catch (const gort::net::timeout_error&) {
                timed_out.send(1);
                go_on.recv();  // the deadline is cleared now
              }
            }
          } catch (const std::system_error& e) {  // closed after a failed round
            return "error: " + std::string(e.what());
          }
        });
        std::string sent;
        for (int r = 0; r < k_rounds; ++r) {
          std::string chunk = gort_test::pattern(1 + rng() % 300, unsigned(r));
          sent += chunk;
          p.client.write(chunk);
          for (int k = int(rng() % 4); k > 0; --k) gort::yield();
          p.server.set_read_deadline(rng() % 2 ? clock_type::now() - 1ns
                                               : clock_type::now() + std::chrono::microseconds(rng() % 500));
          bool timed = false;
          gort::select(gort::recv_case(timed_out, [&](std::optional<int> v) { timed = v.has_value(); }),
                       gort::recv_case(gort::after(10s), [](auto) {}));
          if (!timed) {
            ADD_FAILURE() << "round " << r << ": the read never timed out";
            p.server.close();
            break;
          }
          p.server.set_read_deadline(clock_type::time_point::max());
          go_on.send(1);
        }
        p.client.close_write();
        std::string got = reader.join();
        EXPECT_EQ(got.size(), sent.size());
        EXPECT_TRUE(got == sent);
      },
      cfg(GetParam()));
}

TEST_P(NetDeadline, AddressesIpv4) {
  gort::run(
      [] {
        gort_test::loopback_pair p;
        const std::string listen_addr = "127.0.0.1:" + std::to_string(p.ln.port());
        EXPECT_EQ(p.client.remote_address(), listen_addr);
        EXPECT_EQ(p.server.local_address(), listen_addr);
        EXPECT_TRUE(std::regex_match(p.client.local_address(), std::regex(R"(127\.0\.0\.1:[1-9][0-9]*)")))
            << p.client.local_address();
        EXPECT_EQ(p.server.remote_address(), p.client.local_address());
        p.client.close();  // known from the connection's start: still there
        EXPECT_EQ(p.client.remote_address(), listen_addr);
        gort::net::conn none;
        EXPECT_EQ(none.local_address(), "");
        EXPECT_EQ(none.remote_address(), "");
        gort::net::conn moved = std::move(p.server);
        EXPECT_EQ(moved.local_address(), listen_addr);
      },
      cfg(GetParam()));
}

TEST_P(NetDeadline, AddressesIpv6AndDualStack) {
  gort::run(
      [] {
        // An IPv4 client of a dual-stack listener shows as IPv4, as in Go.
        auto any = gort::net::listen(":0");
        auto c4 = gort::net::dial("127.0.0.1:" + std::to_string(any.port()));
        auto s4 = any.accept();
        EXPECT_EQ(s4.local_address(), "127.0.0.1:" + std::to_string(any.port()));
        EXPECT_EQ(s4.remote_address(), c4.local_address());
        gort::net::listener ln;
        try {
          ln = gort::net::listen("[::1]:0");
        } catch (const std::system_error& e) {
          GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
        }
        const std::string listen_addr = "[::1]:" + std::to_string(ln.port());
        auto c = gort::net::dial(listen_addr);
        auto s = ln.accept();
        EXPECT_EQ(c.remote_address(), listen_addr);
        EXPECT_EQ(s.local_address(), listen_addr);
        EXPECT_TRUE(std::regex_match(c.local_address(), std::regex(R"(\[::1\]:[1-9][0-9]*)")))
            << c.local_address();
        EXPECT_EQ(s.remote_address(), c.local_address());
      },
      cfg(GetParam()));
}

}  // namespace
