// Fault suite: run() torn down with fibers parked in
// every wait reason (LeakSanitizer checks that unwinding frees everything in
// the asan build), and exceptions thrown through deep fiber stacks.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

#include "gort/gort.hpp"
#include "runtime/netpoll.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

namespace {
struct counted {
  static inline std::atomic<int> alive{0};
  std::unique_ptr<int> heap = std::make_unique<int>(1);  // leaks if not unwound
  counted() { ++alive; }
  ~counted() { --alive; }
};

// The primitives live beyond run(): leftover fibers are unwound after main
// returned, and they must not touch anything on main's stack.
struct primitives {
  gort::chan<int> unbuffered, full{1}, nil{nullptr};
  gort::mutex m;
  gort::shared_mutex rw;
  gort::wait_group wg;
  gort::condition_variable cv;
  gort::mutex cv_m;
  gort::semaphore sem{0};
  gort::chan<int> never;
  int fds[2] = {-1, -1};
};
}  // namespace

TEST(Teardown, FibersParkedInEveryWaitReasonAreUnwound) {
  gort_test::for_each_worker_count([&](unsigned w) {
    // Outlives run(): destroyed only after the leftover fibers were unwound.
    auto owner = std::make_unique<primitives>();
    static primitives* pp;
    pp = owner.get();
    primitives& p = *owner;
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p.fds), 0);
    p.wg.add();
    gort::run(
        [] {
          primitives& p = *pp;
          p.full.send(0);
          p.m.lock();
          p.rw.lock();
          auto park = [](auto fn) {
            gort::go([fn]() mutable {
              counted c;
              fn();
            });
          };
          park([] { pp->unbuffered.send(1); });  // chan send
          park([] { pp->unbuffered.recv(); });   // chan receive (may pair with the send)
          park([] { pp->full.send(2); });        // chan send (full buffer)
          park([] { pp->never.recv(); });        // chan receive
          park([] { pp->nil.send(3); });         // chan send (nil chan)
          park([] { pp->nil.recv(); });          // chan receive (nil chan)
          park([] { gort::select(gort::recv_case(pp->never, [](std::optional<int>) {})); });  // select
          park([] { gort::select(); });        // select (no cases)
          park([] { gort::sleep_for(1h); });   // sleep
          park([] { pp->m.lock(); });          // sync.Mutex.Lock
          park([] { pp->rw.lock(); });         // sync.RWMutex.Lock
          park([] { pp->rw.lock_shared(); });  // sync.RWMutex.RLock
          park([] { pp->wg.wait(); });         // sync.WaitGroup.Wait
          park([] {                            // sync.Cond.Wait
            std::unique_lock l(pp->cv_m);
            pp->cv.wait(l);
          });
          park([] { pp->sem.acquire(); });  // semacquire
          park([] {                         // task join
            auto t = gort::spawn([] { pp->never.recv(); });
            t.join();
          });
          park([] {  // IO wait
            auto* pd = gort::detail::io_register(pp->fds[0]);
            struct unreg {
              gort::detail::poll_desc* pd;
              ~unreg() { gort::detail::io_unregister(pd); }
            } u{pd};
            gort::detail::io_wait(pd, gort::detail::io_mode::read, -1);
          });
          // Let them all park (bounded), then return with them still blocked.
          for (int i = 0; i < 4000 && gort::stats().blocked < 16; ++i) gort::sleep_for(500us);
          EXPECT_GE(gort::stats().blocked, 16u);
        },
        {.workers = w, .on_deadlock = gort::deadlock_policy::raise});
    EXPECT_EQ(counted::alive.load(), 0) << "workers=" << w;  // every frame unwound
    ::close(p.fds[0]);
    ::close(p.fds[1]);
    p.m.unlock();  // main locked them; destroyed unlocked
    p.rw.unlock();
  });
}

namespace {
int deep(int n) {
  if (n == 0) throw std::runtime_error("from the bottom");
  counted c;
  return deep(n - 1) + *c.heap;
}
}  // namespace

TEST(Teardown, ExceptionsThroughDeepFiberStacks) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          std::vector<gort::task<int>> tasks;
          for (int i = 0; i < 50; ++i)
            tasks.push_back(gort::spawn([i] {
              gort::yield();
              return deep(200 + i);
            }));
          int thrown = 0;
          for (auto& t : tasks) {
            try {
              t.join();
            } catch (const std::runtime_error& e) {
              EXPECT_STREQ(e.what(), "from the bottom");
              ++thrown;
            }
          }
          EXPECT_EQ(thrown, 50);
        },
        {.workers = w});
    EXPECT_EQ(counted::alive.load(), 0);
  });
}
