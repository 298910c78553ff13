// gort::net under a context: dial(ctx, ...) with a context cancelled before,
// cancelled during, and expiring during a connect that the kernel keeps
// pending (a listener whose accept queue is full drops the SYN), and the
// read/write overloads that close the conn when the context is done. The
// errors carry the context's code. At 1, 2 and 4 workers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "net_util.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {


const std::error_code k_canceled = gort::context_errc::canceled;
const std::error_code k_deadline = gort::context_errc::deadline_exceeded;

// A listening socket with a backlog of 0 that never accepts, its queue
// filled by one connection: the kernel drops further SYNs, so a dial to it
// stays in progress (for minutes of SYN retries).
class full_backlog {
 public:
  full_backlog() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 0) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("full_backlog: cannot listen");
    address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    filler_ = gort::net::dial(address_);  // queued, never accepted: the queue is full now
  }
  ~full_backlog() { ::close(fd_); }
  const std::string& address() const { return address_; }

 private:
  int fd_ = -1;
  std::string address_;
  gort::net::conn filler_;
};

// What dial(ctx, address) threw (its code), or a default code if it connected.
std::error_code dial_error(const gort::context& ctx, const std::string& address) {
  try {
    gort::net::dial(ctx, address);
  } catch (const std::system_error& e) {
    return e.code();
  }
  return {};
}

}  // namespace

TEST(NetContext, DialWithADoneContextFailsAtOnce) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::net::listener l = gort::net::listen("127.0.0.1:0");
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      cancel();
      EXPECT_EQ(dial_error(ctx, "127.0.0.1:" + std::to_string(l.port())), k_canceled);
      // Not done: connects, and the conn outlives the context's cancel.
      auto [live, cancel_live] = gort::with_timeout(gort::background(), 1h);
      gort::net::conn c = gort::net::dial(live, "127.0.0.1:" + std::to_string(l.port()));
      gort::net::conn s = l.accept();
      cancel_live();
      c.write("still open");
      EXPECT_EQ(gort_test::read_n(s, 10), "still open");
    });
  });
}

TEST(NetContext, CancelAbortsAConnectInProgress) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      full_backlog target;
      auto [ctx, cancel] = gort::with_cancel(gort::background());
      gort::chan<std::error_code> result(1);
      gort::go([ctx = ctx, result, &target] { result.send(dial_error(ctx, target.address())); });
      gort_test::wait_blocked("IO wait", 1);  // the connect is parked
      cancel();
      std::error_code ec;
      gort::select(gort::recv_case(result, [&](std::optional<std::error_code> v) { ec = *v; }),
                   gort::recv_case(gort::after(10s)));
      EXPECT_EQ(ec, k_canceled) << ec.message();
    });
  });
}

TEST(NetContext, DeadlineAbortsAConnectInProgress) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      full_backlog target;
      auto t0 = clock_type::now();
      auto [ctx, cancel] = gort::with_timeout(gort::background(), 50ms);
      std::error_code ec = dial_error(ctx, target.address());
      EXPECT_EQ(ec, k_deadline) << ec.message();
      EXPECT_GE(clock_type::now() - t0, 50ms);
      EXPECT_LT(clock_type::now() - t0, 10s);
    });
  });
}

// The read/write pattern: a parked read or write wakes when the context is
// done, throws its code, and the conn is closed; a call that completes
// leaves the conn alone.
TEST(NetContext, ReadAndWriteGiveUpWhenTheContextIsDone) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::net::listener l = gort::net::listen("127.0.0.1:0");
      gort::net::conn c = gort::net::dial("127.0.0.1:" + std::to_string(l.port()));
      gort::net::conn s = l.accept();
      char buf[64];

      auto [ok_ctx, cancel_ok] = gort::with_cancel(gort::background());
      c.write("hi");
      EXPECT_EQ(gort::net::read(ok_ctx, s, std::span<char>(buf)), 2u);
      cancel_ok();
      s.write("ok");  // the cancel after the read left s open
      EXPECT_EQ(gort_test::read_n(c, 2), "ok");

      auto [ctx, cancel] = gort::with_cancel(gort::background());
      gort::chan<std::error_code> result(1);
      gort::go([ctx = ctx, &s, result] {
        char b[8];
        try {
          gort::net::read(ctx, s, std::span<char>(b));
          result.send(std::error_code());
        } catch (const std::system_error& e) {
          result.send(e.code());
        }
      });
      gort_test::wait_blocked("IO wait", 1);
      cancel();
      EXPECT_EQ(*result.recv(), k_canceled);
      EXPECT_THROW(s.read(std::span<char>(buf)), std::system_error) << "closed by the cancel";
      EXPECT_EQ(gort_test::read_all(c), "") << "the peer sees the close";
      try {
        gort::net::read(ctx, c, std::span<char>(buf));
        ADD_FAILURE() << "read under a done context";
      } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), k_canceled);
      }
    });
  });
}

TEST(NetContext, WriteBlockedOnAFullBufferExpires) {
  gort_test::for_each_worker_count([&](unsigned workers_) {
    auto run = [&](auto&& fn) { gort::run(fn, {.workers = workers_}); };
    run([] {
      gort::net::listener l = gort::net::listen("127.0.0.1:0");
      gort::net::conn c = gort::net::dial("127.0.0.1:" + std::to_string(l.port()));
      gort::net::conn s = l.accept();  // never read: c's writes fill the buffers
      const std::string big(64 << 20, 'x');
      auto t0 = clock_type::now();
      auto [ctx, cancel] = gort::with_timeout(gort::background(), 30ms);
      try {
        gort::net::write(ctx, c, big);
        ADD_FAILURE() << "64 MiB fitted in the socket buffers";
      } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), k_deadline) << e.what();
      }
      EXPECT_GE(clock_type::now() - t0, 30ms);
    });
  });
}
