// Scheduler behaviour: parallelism, fairness, migration safety, unwinding at
// exit, idle cost. Each runs at 1, 2 and 4 workers where it makes sense.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cfenv>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gort/gort.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;

// Go's TestGoroutineParallelism: P fibers that spin until all P have started
// can only finish if they really run at the same time on P workers. P = 2
// and 4 (the sweep's "workers=" trace names P; a single fiber proves nothing),
// each on P + 1 workers.
TEST(Sched, GoroutineParallelism) {
  gort_test::for_each_worker_count(
      [&](unsigned p) {
        for (int round = 0; round < 5; ++round) {
          std::atomic<unsigned> arrived{0};
          gort::run(
              [&] {
                gort::wait_group wg;
                for (unsigned i = 0; i < p; ++i) {
                  wg.add();
                  gort::go([&] {
                    arrived.fetch_add(1);
                    while (arrived.load() < p) {}  // never yields: needs its own worker
                    wg.done();
                  });
                }
                wg.wait();
              },
              {.workers = p + 1});  // +1: the main fiber keeps one worker parked in wait
          EXPECT_EQ(arrived.load(), p);
        }
      },
      2);
}

namespace {
// At 2 and 4 workers (at 1 the spinning main fiber holds the only worker),
// 5 rounds each: main calls start(ran), which must lead some fiber to set
// `ran`, then spins without yielding until it is set. If that fiber waits for
// main to block, main gives up after 20 s and the test fails.
template <class Start>
void expect_runs_while_main_computes(Start start) {
  gort_test::for_each_worker_count(
      [&](unsigned w) {
        for (int round = 0; round < 5; ++round) {
          std::atomic<bool> ran{false};
          bool waited_out = false;
          gort::run(
              [&] {
                start(ran);
                const auto give_up = std::chrono::steady_clock::now() + 20s;
                while (!ran.load() && !waited_out) waited_out = std::chrono::steady_clock::now() > give_up;
              },
              {.workers = w});
          EXPECT_FALSE(waited_out) << "workers=" << w << " round " << round;
          EXPECT_TRUE(ran.load());
        }
      },
      2);
}
}  // namespace

// `go f(); compute();` with idle workers: f runs on one of them while the
// spawner computes (as in Go), not only once the spawner blocks.
TEST(Sched, SpawnedFiberRunsWhileSpawnerComputes) {
  expect_runs_while_main_computes([](std::atomic<bool>& ran) {
    gort::sleep_for(5ms);  // the other workers go idle
    gort::go([&ran] { ran.store(true); });
  });
}

// The same for a fiber woken by a channel operation whose sender then keeps
// computing (a pipeline stage that sends, then works on the next item): an
// idle worker takes the woken receiver (the idle poller looks at busy
// workers' runnext slots every millisecond), as Go's idle Ps would.
TEST(Sched, WokenFiberRunsWhileWakerComputes) {
  expect_runs_while_main_computes([](std::atomic<bool>& ran) {
    gort::chan<int> c;
    gort::go([c, &ran] {
      c.recv();
      ran.store(true);
    });
    gort::sleep_for(5ms);  // the receiver parks; the other workers go idle
    c.send(1);             // readies it into this worker's runnext
  });
}

// PingPongHog-like: two fibers that wake each other through runnext (each
// readies the other, then parks) must not starve a fiber in the local queue
// nor one in the inject queue (pushed by a foreign thread).
TEST(Sched, RunnextHandoffDoesNotStarveLocalOrGlobal) {
  gort_test::for_each_worker_count([&](unsigned w) {
    gort::run(
        [] {
          std::atomic<bool> stop{false};
          std::atomic<long> handoffs{0};
          gort::wait_group turn[2], finished;
          turn[0].add();
          turn[1].add();
          finished.add(2);
          for (int me = 0; me < 2; ++me) {
            gort::go([&, me] {
              for (;;) {
                turn[me].wait();
                turn[me].add();
                bool last = stop.load();
                handoffs.fetch_add(1);
                turn[1 - me].done();  // readies the other into our runnext
                if (last) break;
              }
              finished.done();
            });
          }
          turn[0].done();  // start the rally
          std::atomic<bool> local_ran{false}, global_ran{false};
          gort::go([&] { local_ran = true; });
          std::thread t([&] { gort::go([&] { global_ran = true; }); });
          t.join();
          while (!(local_ran.load() && global_ran.load())) gort::yield();
          stop = true;
          finished.wait();
          EXPECT_TRUE(local_ran.load());
          EXPECT_TRUE(global_ran.load());
          EXPECT_GT(handoffs.load(), 0);
        },
        {.workers = w});
  });
}

// A fiber may resume on another worker after any switch. What it reads
// through thread-local storage must then be the new thread's: gort's own
// state (fiber_id), a TLS variable read through a non-inlined accessor, and
// errno read right after a syscall in the same frame. At 2 and 4 workers:
// at 1 there is no other worker to migrate to.
thread_local int tls_marker = 0;
__attribute__((noinline)) int* tls_address() {
  asm volatile("");
  return &tls_marker;
}
__attribute__((noinline)) long current_tid() { return syscall(SYS_gettid); }

TEST(Sched, TlsAndErrnoAfterMigration) {
  gort_test::for_each_worker_count(
      [&](unsigned w) {
        std::atomic<long> migrations{0};
        // Rounds repeat (bounded) until a migration was seen: on a loaded machine
        // one round may run entirely on one worker. Each gort::run starts new
        // worker threads, and glibc may hand a new thread an old one's stack and
        // TLS block, or an old tid, so the thread -> TLS map is per round.
        for (int round = 0; round < 100 && migrations.load() == 0; ++round) {
          SCOPED_TRACE("workers=" + std::to_string(w) + " round=" + std::to_string(round));
          std::mutex m;
          std::map<long, int*> tls_of_thread;
          bool consistent = true;
          gort::run(
              [&] {
                gort::wait_group wg;
                for (int f = 0; f < 8; ++f) {
                  wg.add();
                  gort::go([&] {
                    const std::uint64_t id = gort::fiber_id();
                    for (int i = 0; i < 2000; ++i) {
                      long before = current_tid();
                      gort::yield();
                      long after = current_tid();
                      if (before != after) migrations.fetch_add(1);
                      EXPECT_EQ(gort::fiber_id(), id);
                      errno = 0;
                      EXPECT_EQ(::close(-1), -1);
                      EXPECT_EQ(errno, EBADF);
                      int* t = tls_address();
                      std::lock_guard g(m);
                      auto [it, fresh] = tls_of_thread.emplace(after, t);
                      if (it->second != t) consistent = false;
                    }
                    wg.done();
                  });
                }
                wg.wait();
              },
              {.workers = w});
          EXPECT_TRUE(consistent) << "a TLS address was read from another thread";
          // Distinct threads of one run (all alive together) have distinct TLS blocks.
          std::set<int*> addrs;
          for (auto& [tid, a] : tls_of_thread) addrs.insert(a);
          EXPECT_EQ(addrs.size(), tls_of_thread.size());
        }
        // Meaningful only if fibers migrated; 8 yielding fibers on several
        // workers do, through stealing.
        EXPECT_GT(migrations.load(), 0) << "workers=" << w;
      },
      2);
}

namespace {
struct raii_counter {
  std::atomic<int>* n;
  explicit raii_counter(std::atomic<int>* p) : n(p) {}
  ~raii_counter() { n->fetch_add(1); }
};
}  // namespace

TEST(Sched, LeftoverFibersAreUnwoundAtExit) {
  gort_test::for_each_worker_count([&](unsigned w) {
    std::atomic<int> destroyed{0};
    std::atomic<int> started{0};
    gort::run(
        [&] {
          // Nobody calls done: these fibers block forever. Static: what leftover
          // fibers wait on must outlive run(), which unwinds them after main returned.
          static gort::wait_group never;
          never.add();
          for (int i = 0; i < 50; ++i) {
            gort::go([&] {
              raii_counter c(&destroyed);
              started.fetch_add(1);
              never.wait();
              ADD_FAILURE() << "a leftover fiber resumed normally";
            });
          }
          for (int i = 0; i < 10; ++i) {
            gort::go([&] {
              raii_counter c(&destroyed);
              started.fetch_add(1);
              gort::sleep_for(1h);
            });
          }
          while (started.load() < 60) gort::yield();
          // Fibers that never started: only their captures are destroyed.
          auto cap = std::make_shared<raii_counter>(&destroyed);
          for (int i = 0; i < 5; ++i) gort::go([cap] {});
          cap.reset();
        },
        {.workers = w, .on_deadlock = gort::deadlock_policy::raise});
    // 60 stack frames unwound + the shared capture's object exactly once
    // (whether or not its 5 fibers started, every copy of cap is destroyed).
    EXPECT_EQ(destroyed.load(), 61) << "workers=" << w;
  });
}

namespace {
// 1/3 in the current rounding mode, in SSE (the MXCSR's mode; volatile keeps
// the compiler from folding it).
double third() {
  volatile double one = 1.0, three = 3.0;
  return one / three;
}
}  // namespace

// Each fiber's floating-point environment (the SSE and x87 rounding modes)
// is its own: it travels through its switches (handoffs between fibers, g0,
// migrations) and never leaks into the fiber that runs next; run()'s thread
// gets its own back.
TEST(Sched, FloatingPointEnvironmentTravelsWithItsFiber) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  constexpr int modes[] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
  gort_test::for_each_worker_count([&](unsigned w) {
    constexpr int fibers = 8, rounds = 2000;
    std::atomic<int> wrong{0};
    gort::run(
        [&] {
          // A ring: fiber i receives from ring[i] and sends to ring[i + 1],
          // so every receive parks and most switches are handoffs.
          std::vector<gort::chan<int>> ring;
          for (int i = 0; i < fibers; ++i) ring.emplace_back(0);
          gort::wait_group wg;
          wg.add(fibers);
          for (int i = 0; i < fibers; ++i) {
            const int mode = modes[(std::uint64_t(i) + seed) % 4];
            gort::go([&, i, mode] {
              if (std::fesetround(mode) != 0) wrong.fetch_add(1);
              const double mine = third();
              std::uint64_t r = seed + std::uint64_t(i);
              for (int k = 0; k < rounds; ++k) {
                if (i == 0) ring[1].send(k);  // fiber 0 starts each lap
                if (ring[i].recv() != std::optional<int>(k)) wrong.fetch_add(1);
                if (i != 0) ring[(i + 1) % fibers].send(k);
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                if ((r >> 60) == 0) gort::yield();
                if (std::fegetround() != mode || third() != mine) wrong.fetch_add(1);
              }
              wg.done();
            });
          }
          wg.wait();
        },
        {.workers = w});
    EXPECT_EQ(wrong.load(), 0) << "workers=" << w;
    EXPECT_EQ(std::fegetround(), FE_TONEAREST) << "workers=" << w;
  });
}

TEST(Sched, IdleRuntimeUsesNoCpu) {
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  gort::run([] { gort::sleep_for(500ms); }, {.workers = 4});
  getrusage(RUSAGE_SELF, &after);
  auto cpu = [](const rusage& r) {
    return double(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           double(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
  };
  // 4 idle workers for 0.5 s: a spinning runtime would burn ~2 s. Generous bound.
  EXPECT_LT(cpu(after) - cpu(before), 0.1);
}

TEST(Sched, ManyFibersAcrossWorkersAllRun) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort_test::for_each_worker_count([&](unsigned w) {
    std::atomic<long> sum{0};
    gort::run(
        [&] {
          gort::wait_group wg;
          // A tree of spawns: fibers spawning fibers, some yielding, some sleeping.
          std::function<void(int, std::uint64_t)> node = [&](int depth, std::uint64_t r) {
            sum.fetch_add(1);
            if (depth < 6) {
              for (int k = 0; k < 4; ++k) {
                wg.add();
                gort::go([&, depth, r, k] { node(depth + 1, r * 31 + std::uint64_t(k)); });
              }
            }
            if (r % 7 == 0) gort::yield();
            if (r % 97 == 0) gort::sleep_for(100us);
            wg.done();
          };
          wg.add();
          gort::go([&] { node(0, seed); });
          wg.wait();
        },
        {.workers = w});
    EXPECT_EQ(sum.load(), (1 + 4 + 16 + 64 + 256 + 1024 + 4096)) << "workers=" << w;
  });
}
