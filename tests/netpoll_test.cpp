// The netpoller under the net API: parking on descriptors, deadlines,
// eviction, and idle workers waiting in epoll (runtime/netpoll.hpp).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "runtime/netpoll.hpp"
#include "scheduler/futex.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort::detail::io_mode;
using gort::detail::io_result;

namespace {
struct socket_pair {
  int fd[2];
  socket_pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0); }
  ~socket_pair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

// Reads one byte from fd, parking on the poller while there is none.
char read_byte(int fd, gort::detail::poll_desc* pd) {
  for (;;) {
    char c;
    ssize_t n = ::read(fd, &c, 1);
    if (n == 1) return c;
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_EQ(gort::detail::io_wait(pd, io_mode::read, -1), io_result::ready);
  }
}
}  // namespace

TEST(Netpoll, ReaderParksUntilDataArrives) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          socket_pair sp;
          auto* pd = gort::detail::io_register(sp.fd[0]);
          std::atomic<bool> other_ran{false};
          auto reader = gort::spawn([&] { return read_byte(sp.fd[0], pd); });
          gort_test::wait_blocked("IO wait", 1);  // the reader is parked on the poller
          gort::go([&] { other_ran = true; });
          auto give_up = std::chrono::steady_clock::now() + 15s;
          while (!other_ran.load() && std::chrono::steady_clock::now() < give_up) gort::sleep_for(1ms);
          EXPECT_TRUE(other_ran.load());  // the read parked only its fiber
          char c = 'x';
          ASSERT_EQ(::write(sp.fd[1], &c, 1), 1);
          EXPECT_EQ(reader.join(), 'x');
          gort::detail::io_unregister(pd);
        },
        {.workers = w});
  });
}

TEST(Netpoll, DeadlineTimesOut) {
  gort::run(
      [] {
        socket_pair sp;
        auto* pd = gort::detail::io_register(sp.fd[0]);
        auto t0 = std::chrono::steady_clock::now();
        auto r = gort::detail::io_wait(pd, io_mode::read, gort::detail::now_ns() + 20'000'000);
        EXPECT_EQ(r, io_result::timeout);
        EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
        EXPECT_EQ(gort::detail::io_wait(pd, io_mode::read, gort::detail::now_ns() - 1), io_result::timeout);
        gort::detail::io_unregister(pd);
      },
      {.workers = 2});
}

TEST(Netpoll, EvictWakesWaiterWithClosed) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          socket_pair sp;
          auto* pd = gort::detail::io_register(sp.fd[0]);
          auto waiter = gort::spawn([&] { return gort::detail::io_wait(pd, io_mode::read, -1); });
          gort::sleep_for(5ms);
          gort::detail::io_evict(pd);
          EXPECT_EQ(waiter.join(), io_result::closed);
          EXPECT_EQ(gort::detail::io_wait(pd, io_mode::read, -1), io_result::closed);
          gort::detail::io_unregister(pd);
        },
        {.workers = w});
  });
}

TEST(Netpoll, WritableRightAwayAndEdgesAreNotLost) {
  gort::run(
      [] {
        socket_pair sp;
        auto* pd = gort::detail::io_register(sp.fd[1]);
        // A fresh socket is writable: the first edge was remembered.
        EXPECT_EQ(gort::detail::io_wait(pd, io_mode::write, gort::detail::now_ns() + 1'000'000'000),
                  io_result::ready);
        gort::detail::io_unregister(pd);
      },
      {.workers = 1});
}

TEST(Netpoll, ParkedReaderIsNotADeadlockAndPingPongWorks) {
  gort_test::for_each_worker_count([&](unsigned w) {
    int rounds = gort::run(
        [] {
          socket_pair sp;
          auto* a = gort::detail::io_register(sp.fd[0]);
          auto* b = gort::detail::io_register(sp.fd[1]);
          auto echo = gort::spawn([&] {
            for (int i = 0; i < 200; ++i) {
              char c = read_byte(sp.fd[1], b);
              EXPECT_EQ(::write(sp.fd[1], &c, 1), 1);
            }
          });
          int n = 0;
          for (int i = 0; i < 200; ++i) {
            char c = char(i);
            EXPECT_EQ(::write(sp.fd[0], &c, 1), 1);
            if (read_byte(sp.fd[0], a) == c) ++n;
          }
          echo.join();
          gort::detail::io_unregister(a);
          gort::detail::io_unregister(b);
          return n;
        },
        {.workers = w, .on_deadlock = gort::deadlock_policy::raise});
    EXPECT_EQ(rounds, 200);
  });
}

TEST(Netpoll, PlainThreadWakesParkedFiberThroughSocket) {
  gort::run(
      [] {
        socket_pair sp;
        auto* pd = gort::detail::io_register(sp.fd[0]);
        std::thread t([&] {
          std::this_thread::sleep_for(10ms);
          char c = 'q';
          EXPECT_EQ(::write(sp.fd[1], &c, 1), 1);
        });
        // Main parks in the poller while every worker is idle: the idle poller
        // must wake from epoll for the thread's write.
        EXPECT_EQ(read_byte(sp.fd[0], pd), 'q');
        t.join();
        gort::detail::io_unregister(pd);
      },
      {.workers = 2});
}

// Idle costs nothing with the network too: a runtime that served a burst of
// round trips over loopback and then has nothing to do, with its sockets
// open and a reader parked, sleeps in epoll_wait and on its futexes (a
// worker that kept looking at the network would burn the whole 300 ms).
TEST(Netpoll, AWorkerThatServedIoSleepsOnceTheNetworkGoesQuiet) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          gort_test::loopback_pair p;
          auto echo = gort::spawn([&p] {
            char b[64];
            while (std::size_t n = p.server.read(std::span<char>(b))) p.server.write(std::string_view(b, n));
          });
          char b[1];
          for (int i = 0; i < 500; ++i) {
            p.client.write("x");
            ASSERT_EQ(p.client.read(std::span<char>(b)), 1u);
          }
          gort_test::wait_blocked("IO wait", 1);  // the echo fiber, in read
          const auto before = gort_test::process_cpu();
          gort::sleep_for(300ms);
          const auto used = gort_test::process_cpu() - before;
          EXPECT_LT(used, 30ms) << std::chrono::duration_cast<std::chrono::microseconds>(used).count()
                                << " us";
          p.client.close_write();
          echo.join();
        },
        gort_test::cfg(w));
  });
}

// Every worker busy switching (no idle worker holds the poller role): the
// busy workers still look at the network now and then, so a fiber parked on
// a socket is woken by a plain thread's write, and the spinners stop only
// because it was. The write comes after many yields, so after the busy
// workers' first looks at the network found nothing.
TEST(Netpoll, BusyWorkersStillSeeTheNetwork) {
  gort_test::run_at_each_worker_count([](unsigned workers) {
    socket_pair sp;
    auto* pd = gort::detail::io_register(sp.fd[0]);
    std::atomic<bool> got{false};
    std::atomic<long> yields{0};
    gort::wait_group spinners;
    for (unsigned i = 0; i < workers + 1; ++i) {
      spinners.add(1);
      gort::go([&] {
        while (!got.load(std::memory_order_acquire)) {
          yields.fetch_add(1, std::memory_order_relaxed);
          gort::yield();
        }
        spinners.done();
      });
    }
    gort::go([&] {
      EXPECT_EQ(read_byte(sp.fd[0], pd), 'b');
      got.store(true, std::memory_order_release);
    });
    std::thread t([&] {
      while (yields.load(std::memory_order_relaxed) < 200'000) std::this_thread::yield();
      char c = 'b';
      EXPECT_EQ(::write(sp.fd[1], &c, 1), 1);
    });
    spinners.wait();
    t.join();
    gort::detail::io_unregister(pd);
  });
}
