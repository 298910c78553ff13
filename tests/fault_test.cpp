// Fault injection (tests/fault/fault.hpp): the C library calls gort makes
// fail on purpose, and each failure has the outcome docs/api.md documents.
//   - A fiber stack's mmap: "fatal error: cannot allocate a fiber stack ...",
//     exit 2.
//   - A thread the runtime needs (a handoff's new machine): Go's "failed to
//     create new OS thread" report, "fatal error: newosproc", exit 2; a
//     blocking() helper that cannot start: std::system_error to the caller.
//   - accept EMFILE: std::system_error from listener::accept;
//     net::accept_backoff reports, pauses 5, 10, 20 ms ... and accepts.
//   - epoll_ctl when a socket registers, recv and send: std::system_error to
//     the caller, the descriptor closed, nothing leaked (the asan preset runs
//     this file too, with LeakSanitizer).
//   - A failed read of /proc by the monitor: stuck fibers are still handed
//     off.
//   - SIGPIPE at its default action: a write to a closed peer throws, the
//     program lives.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "fault/fault.hpp"
#include "gort/gort.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

namespace {

using namespace std::chrono_literals;
using gort_fault::call;
using gort_test::address_of;

// Sockets open in this process now: what this file's calls could leak
// (listen, dial and accept make them; epoll_ctl, recv and send failures
// must close them). Other descriptors come and go on their own: the
// monitor reads /proc/self/task/<tid>/stat while it decides whether a
// fiber is blocked, and glibc reads /sys/devices/system/cpu/online when a
// new thread's first malloc picks an arena (a handoff starts threads), so a
// count of every descriptor would depend on when it looked.
std::size_t open_sockets() {
  std::size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      char target[256];
      const std::string link = std::string("/proc/self/fd/") + e->d_name;
      const ssize_t len = readlink(link.c_str(), target, sizeof target - 1);
      if (len < 0) continue;  // closed since the listing
      if (std::string_view(target, std::size_t(len)).starts_with("socket:")) ++n;
    }
    closedir(d);
  }
  return n;
}

// The errno a call threw with, or 0 if it did not throw.
template <class F>
int errno_thrown(F&& f, std::string* what = nullptr) {
  try {
    f();
  } catch (const std::system_error& e) {
    if (what) *what = e.what();
    return e.code().value();
  }
  return 0;
}

class Fault : public ::testing::TestWithParam<unsigned> {
 protected:
  gort::config cfg() const { return {.workers = GetParam()}; }
  gort_fault::scoped_clear disarm_at_the_end_;
};
INSTANTIATE_TEST_SUITE_P(workers, Fault, ::testing::ValuesIn(gort_test::k_worker_counts));

// ---- stacks and threads ------------------------------------------------------

TEST(FaultDeathTest, StackMmapFailureIsFatal) {
  gort_test::threadsafe_death_tests();
  for (unsigned w : {1u, 4u}) {
    SCOPED_TRACE("workers=" + std::to_string(w));
    EXPECT_EXIT(gort::run(
                    [] {
                      // Mid-run: main has its stack; the next mapping fails.
                      gort_fault::inject(call::mmap, {.error = ENOMEM, .mmap_flags = MAP_STACK});
                      gort::chan<int> never;
                      for (int i = 0; i < 1000; ++i) gort::go([never]() mutable { never.recv(); });
                      gort::sleep_for(30s);
                    },
                    {.workers = w}),
                testing::ExitedWithCode(2),
                "fatal error: cannot allocate a fiber stack: mmap of [0-9]+ bytes: Cannot allocate memory\n");
  }
}

TEST(FaultDeathTest, ThreadCreationFailingAtAHandoffIsFatal) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(gort::run(
                  [] {
                    gort_fault::inject(call::thread_start, {.error = EAGAIN});
                    gort::go([] {});      // waits for the worker main holds
                    ::usleep(2'000'000);  // blocked in the kernel: the monitor hands the worker off
                  },
                  {.workers = 1}),
              testing::ExitedWithCode(2),
              "runtime: failed to create new OS thread \\(have [0-9]+ already; errno=11\\)\n"
              "runtime: may need to increase max user processes \\(ulimit -u\\)\n"
              "fatal error: newosproc\n");
}

// The threads run() starts (the monitor; at 4 workers the other workers'
// machines too): the first that cannot start is fatal, with Go's report.
TEST(FaultDeathTest, ThreadCreationFailingAtRunStartIsFatal) {
  gort_test::threadsafe_death_tests();
  for (unsigned w : {1u, 4u}) {
    SCOPED_TRACE("workers=" + std::to_string(w));
    EXPECT_EXIT(
        {
          gort_fault::inject(call::thread_start, {.error = EAGAIN});
          gort::run([] {}, {.workers = w});
          std::exit(0);
        },
        testing::ExitedWithCode(2),
        "runtime: failed to create new OS thread \\(have [0-9]+ already; errno=11\\)\n"
        "runtime: may need to increase max user processes \\(ulimit -u\\)\n"
        "fatal error: newosproc\n");
  }
}

// A fresh process: the blocking() pool has no helper yet.
TEST(FaultDeathTest, BlockingHelperThatCannotStartThrowsToTheCaller) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(
      {
        bool ok = false;
        gort::run(
            [&] {
              gort_fault::inject(call::thread_start, {.error = EAGAIN});
              const int e = errno_thrown([] { gort::blocking([] { return 1; }); });
              gort_fault::clear();
              // Nothing stuck: the next call gets a helper, and the run ends
              // (no call counted in flight keeps the deadlock check quiet).
              ok = e == EAGAIN && gort::blocking([] { return 7; }) == 7;
            },
            {.workers = 1});
        std::exit(ok ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

// The monitor reads /proc/self/task/<tid>/stat to tell a thread blocked in
// the kernel; when that read fails, a stuck fiber is still handed off (as a
// computing one, after 100 ms of wall time at most).
TEST_P(Fault, MonitorHandsOffEvenWhenItsProcReadsFail) {
  gort::run(
      [] {
        gort_fault::inject(call::read, {.times = 1u << 30, .error = EIO});
        std::atomic<bool> other_ran{false};
        gort::go([&] { other_ran = true; });
        const auto start = std::chrono::steady_clock::now();
        while (!other_ran && std::chrono::steady_clock::now() - start < 20s) ::usleep(1000);
        EXPECT_TRUE(other_ran.load()) << "the fiber waiting for main's worker never ran";
        gort_fault::clear();
      },
      cfg());
}

// ---- accept ----------------------------------------------------------------------

TEST_P(Fault, AcceptEmfileIsThrownAndTheConnectionWaits) {
  gort::run(
      [] {
        gort::net::listener ln = gort::net::listen("127.0.0.1:0");
        gort_fault::inject(call::accept, {.error = EMFILE, .fd = ln.native_handle()});
        gort::task<gort::net::conn> client = gort::spawn([a = address_of(ln)] { return gort::net::dial(a); });
        std::string what;
        EXPECT_EQ(errno_thrown([&] { ln.accept(); }, &what), EMFILE);
        EXPECT_EQ(what, "accept: Too many open files");
        gort::net::conn server = ln.accept();  // the connection waited in the queue
        gort::net::conn c = client.join();
        c.write("ping");
        EXPECT_EQ(gort_test::read_n(server, 4), "ping");
      },
      cfg());
}

TEST_P(Fault, AcceptBackoffReportsPausesAndAccepts) {
  gort::run(
      [] {
        gort::net::listener ln = gort::net::listen("127.0.0.1:0");
        std::vector<std::pair<int, std::chrono::milliseconds>> reports;
        gort::net::accept_backoff backoff([&](const std::system_error& e, std::chrono::milliseconds pause) {
          reports.emplace_back(e.code().value(), pause);
        });
        gort_fault::inject(call::accept, {.times = 3, .error = EMFILE, .fd = ln.native_handle()});
        gort::task<gort::net::conn> client = gort::spawn([a = address_of(ln)] { return gort::net::dial(a); });
        const auto start = std::chrono::steady_clock::now();
        gort::net::conn server = backoff.accept(ln);
        const auto waited = std::chrono::steady_clock::now() - start;
        ASSERT_EQ(reports.size(), 3u);
        for (std::size_t i = 0; i < 3; ++i) {
          EXPECT_EQ(reports[i].first, EMFILE);
          EXPECT_EQ(reports[i].second, std::chrono::milliseconds(5 << i));
        }
        EXPECT_GE(waited, 35ms);  // 5 + 10 + 20
        gort::net::conn c = client.join();
        c.write("x");
        EXPECT_EQ(gort_test::read_n(server, 1), "x");

        // A success starts the pauses again at 5 ms; ENFILE is retried too.
        reports.clear();
        gort_fault::inject(call::accept, {.error = ENFILE, .fd = ln.native_handle()});
        client = gort::spawn([a = address_of(ln)] { return gort::net::dial(a); });
        server = backoff.accept(ln);
        ASSERT_EQ(reports.size(), 1u);
        EXPECT_EQ(reports[0], std::make_pair(ENFILE, std::chrono::milliseconds(5)));
        client.join();

        // Other errors are the caller's; a closed listener ends the loop.
        gort_fault::inject(call::accept, {.error = EPERM, .fd = ln.native_handle()});
        EXPECT_EQ(errno_thrown([&] { backoff.accept(ln); }), EPERM);
        ln.close();
        EXPECT_EQ(errno_thrown([&] { backoff.accept(ln); }), EBADF);
      },
      cfg());
}

TEST(FaultAcceptBackoff, PausesDoubleFrom5msTo1s) {
  using ms = std::chrono::milliseconds;
  std::vector<ms> seen;
  ms p{0};
  for (int i = 0; i < 10; ++i) seen.push_back(p = gort::net::accept_backoff::next_pause(p));
  const std::vector<ms> want{ms(5),   ms(10),  ms(20),  ms(40),   ms(80),
                             ms(160), ms(320), ms(640), ms(1000), ms(1000)};
  EXPECT_EQ(seen, want);
  for (int e : {EMFILE, ENFILE, ENOBUFS, ENOMEM}) EXPECT_TRUE(gort::net::accept_backoff::temporary(e)) << e;
  for (int e : {EBADF, EINVAL, EPERM, ECONNABORTED})
    EXPECT_FALSE(gort::net::accept_backoff::temporary(e)) << e;
}

// ---- registration, recv and send ------------------------------------------------

TEST_P(Fault, EpollCtlFailingAtRegistrationThrowsAndLeaksNothing) {
  gort::run(
      [] {
        gort::net::listener ln = gort::net::listen("127.0.0.1:0");  // the poller's own descriptors exist now
        const std::size_t sockets = open_sockets();
        std::string what;

        gort_fault::inject(call::epoll_ctl, {.error = ENOMEM});
        EXPECT_EQ(errno_thrown([] { gort::net::listen("127.0.0.1:0"); }, &what), ENOMEM);
        EXPECT_NE(what.find("epoll_ctl"), std::string::npos) << what;
        EXPECT_EQ(open_sockets(), sockets);

        gort_fault::inject(call::epoll_ctl, {.error = ENOSPC});  // dial registers before it connects
        EXPECT_EQ(errno_thrown([&] { gort::net::dial(address_of(ln)); }), ENOSPC);
        EXPECT_EQ(open_sockets(), sockets);

        // The accepted socket cannot register: accept throws, the socket is
        // closed (the client reads end of stream), the listener serves on.
        gort::net::conn client = gort::net::dial(address_of(ln));
        gort_fault::inject(call::epoll_ctl, {.error = ENOMEM});
        EXPECT_EQ(errno_thrown([&] { ln.accept(); }), ENOMEM);
        EXPECT_EQ(gort_test::read_all(client), "");
        client.close();
        EXPECT_EQ(open_sockets(), sockets);

        gort::net::conn again = gort::net::dial(address_of(ln));
        gort::net::conn server = ln.accept();
        again.write("ok");
        EXPECT_EQ(gort_test::read_n(server, 2), "ok");
      },
      cfg());
}

TEST_P(Fault, RecvAndSendFailuresThrowToTheCaller) {
  gort::run(
      [] {
        gort::net::listener ln = gort::net::listen("127.0.0.1:0");
        gort::net::conn client = gort::net::dial(address_of(ln));
        gort::net::conn server = ln.accept();
        const std::size_t sockets = open_sockets();
        std::string what;

        gort_fault::inject(call::recv, {.error = ECONNRESET, .fd = server.native_handle()});
        EXPECT_EQ(errno_thrown(
                      [&] {
                        char b[8];
                        server.read(std::span<char>(b));
                      },
                      &what),
                  ECONNRESET);
        EXPECT_EQ(what, "read: Connection reset by peer");

        gort_fault::inject(call::send, {.error = EPIPE, .fd = client.native_handle()});
        EXPECT_EQ(errno_thrown([&] { client.write("lost"); }, &what), EPIPE);
        EXPECT_EQ(what, "write: Broken pipe");

        // A write that fails after part of it went out: the prefix arrived,
        // the caller got the error.
        // (More than the socket buffers hold: the write takes several sends.)
        const std::string big = gort_test::pattern(16 << 20);
        gort::task<std::string> reader = gort::spawn([&] { return gort_test::read_n(server, big.size()); });
        gort_fault::inject(call::send, {.nth = 2, .error = ENOBUFS, .fd = client.native_handle()});
        EXPECT_EQ(errno_thrown([&] { client.write(big); }), ENOBUFS);
        client.close();
        const std::string got = reader.join();
        EXPECT_LT(got.size(), big.size());
        EXPECT_EQ(got, big.substr(0, got.size()));

        server.close();
        EXPECT_EQ(open_sockets(), sockets - 2);
      },
      cfg());
}

// A read that came back short emptied the socket's queue, so the next read
// waits for the poller's next edge instead of calling recv (which could only
// say EAGAIN); recv calls are counted with a rule that fails nothing. Each
// write below reaches a reader already parked in "IO wait", so its edge
// wakes that reader and none is left over to make a wait return at once.
// A short read also stops before the end of the stream and before urgent
// data, whose edges the wake-up may have consumed: the reader then reads
// on instead of waiting (a 10 s deadline turns a wait that never ends into
// a failure).
TEST_P(Fault, AReadAfterAShortReadWaitsForTheNextEdgeInsteadOfCallingRecv) {
  gort::run(
      [] {
        gort::net::listener ln = gort::net::listen("127.0.0.1:0");
        auto once_parked = [] { gort_test::wait_blocked("IO wait", 1); };  // the reader
        auto read_once = [](gort::net::conn& c) {
          char b[8];
          return std::string(b, c.read(std::span<char>(b)));
        };
        gort_test::conn_pair pair = gort_test::connect_to(ln);
        // Named references, not a structured binding: clang 14 cannot capture one.
        gort::net::conn &client = pair.client, &server = pair.server;
        const int fd = server.native_handle();
        gort::chan<int> step;
        auto reader = gort::spawn([&] {
          EXPECT_EQ(read_once(server), "ab");  // 2 of 8 bytes: the queue is empty
          gort_fault::inject(call::recv, {.nth = gort_fault::k_never, .fd = fd});
          server.set_read_deadline(std::chrono::steady_clock::now() + 50ms);
          EXPECT_THROW(read_once(server), gort::net::timeout_error);
          EXPECT_EQ(gort_fault::calls(call::recv), 0u);  // it waited for an edge; none came

          server.set_read_deadline(std::chrono::steady_clock::now() + 10s);
          step.send(1);
          EXPECT_EQ(read_once(server), "cd");  // after the timeout: recv, EAGAIN, wait, recv
          gort_fault::inject(call::recv, {.nth = gort_fault::k_never, .fd = fd});
          step.send(2);
          EXPECT_EQ(read_once(server), "ef");  // waited first, then one recv
          EXPECT_EQ(gort_fault::calls(call::recv), 1u);
          step.send(3);
          EXPECT_EQ(read_once(server), "gh");  // stops before the end of the stream
          EXPECT_EQ(read_once(server), "");
        });
        once_parked();
        client.write("ab");
        EXPECT_EQ(step.recv(), 1);
        once_parked();
        client.write("cd");
        EXPECT_EQ(step.recv(), 2);
        once_parked();
        client.write("ef");
        EXPECT_EQ(step.recv(), 3);
        once_parked();
        client.write("gh");
        client.close();
        reader.join();

        // Urgent data: a read stops before it, and the one after skips it.
        gort_test::conn_pair pair2 = gort_test::connect_to(ln);
        gort::net::conn &client2 = pair2.client, &server2 = pair2.server;
        server2.set_read_deadline(std::chrono::steady_clock::now() + 10s);
        auto reader2 = gort::spawn([&] {
          EXPECT_EQ(read_once(server2), "ij");
          EXPECT_EQ(read_once(server2), "kl");
        });
        once_parked();
        client2.write("ij");
        ASSERT_EQ(::send(client2.native_handle(), "!", 1, MSG_OOB), 1);
        client2.write("kl");
        reader2.join();
      },
      cfg());
}

// ---- SIGPIPE -------------------------------------------------------------------------

// A write to a connection whose peer has gone throws EPIPE or ECONNRESET;
// with SIGPIPE at its default action (terminate) the process still lives.
TEST(FaultDeathTest, WritingToAClosedPeerNeverRaisesSigpipe) {
  gort_test::threadsafe_death_tests();
  EXPECT_EXIT(
      {
        signal(SIGPIPE, SIG_DFL);
        int errors = 0;
        for (unsigned w : gort_test::k_worker_counts) {
          gort::run(
              [&] {
                gort::net::listener ln = gort::net::listen("127.0.0.1:0");
                gort::net::conn client = gort::net::dial(address_of(ln));
                gort::net::conn server = ln.accept();
                client.close();
                const std::string chunk(64 << 10, 'x');
                for (int i = 0; i < 1000; ++i) {
                  const int e = errno_thrown([&] { server.write(chunk); });
                  if (e == 0) continue;
                  if (e == EPIPE || e == ECONNRESET) ++errors;
                  break;
                }
              },
              {.workers = w});
        }
        std::exit(errors == 3 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

}  // namespace
