// debug_dashboard: a program whose scheduler has something to show, served
// live by gort::debug. Open the URL it prints in a browser.
//
// The workload changes every few seconds, going round three phases (calm,
// busy, contended) so the charts move:
//   - a pipeline of stages passing numbers down unbuffered channels, in rounds;
//   - bursts of short-lived fibers that compute a little and exit;
//   - sleepers that nap for a second or a few;
//   - a mutex hot spot: fibers taking turns on one gort::mutex;
//   - a few fibers waiting for good on a channel nobody sends to.
// It stays well under a core or two: everything paces itself with sleeps.
//
// Flags: --addr HOST:PORT (default 127.0.0.1:6060; port 0 picks one),
// --workers N (default: $GORT_MAXPROCS or the number of CPUs),
// --seconds S (stop after S seconds; default: run until killed).
// Prints "dashboard: http://HOST:PORT/debug/gort/" once it serves.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "gort/debug.hpp"
#include "gort/gort.hpp"

using namespace std::chrono_literals;

namespace {

constexpr const char* k_usage = "debug_dashboard [--addr HOST:PORT] [--workers N] [--seconds S]";

struct options {
  std::string addr = "127.0.0.1:6060";
  unsigned workers = 0;
  long seconds = 0;  // 0: until killed
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "debug_dashboard: %s\nusage: %s\n", msg.c_str(), k_usage);
  std::exit(2);
}

long number(const std::string& flag, const std::string& value, long max) {
  char* end = nullptr;
  long n = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < 1 || n > max)
    usage_error("bad value for " + flag + ": '" + value + "' (want 1.." + std::to_string(max) + ")");
  return n;
}

options parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg != "--addr" && arg != "--workers" && arg != "--seconds")
      usage_error("unknown flag '" + arg + "'");
    if (i + 1 >= argc) usage_error("missing value for " + arg);
    std::string value = argv[++i];
    if (arg == "--addr") o.addr = value;
    if (arg == "--workers") o.workers = unsigned(number(arg, value, 1024));
    if (arg == "--seconds") o.seconds = number(arg, value, 86400);
  }
  return o;
}

// 0 calm, 1 busy, 2 contended: changes every 8 seconds.
std::atomic<int> g_phase{0};

// A little CPU work that the compiler cannot drop.
unsigned long spin(int n) {
  volatile unsigned long x = 1;
  for (int i = 0; i < n; ++i) x = x * 6364136223846793005ul + 1442695040888963407ul;
  return x;
}

// Stages passing numbers down; a round every 100 ms, longer when busy.
void pipeline(int stages) {
  gort::chan<int> head;
  gort::chan<int> in = head;
  for (int s = 0; s < stages; ++s) {
    gort::chan<int> out;
    gort::go([in, out]() mutable {
      while (auto v = in.recv()) {
        spin(200);
        out.send(*v + 1);
      }
    });
    in = out;
  }
  gort::go([in]() mutable {
    while (in.recv()) {}
  });
  for (;;) {
    const int n = g_phase.load() == 1 ? 2000 : 300;
    for (int i = 0; i < n; ++i) head.send(i);
    gort::sleep_for(100ms);
  }
}

// Bursts of short-lived fibers.
void bursts() {
  for (;;) {
    const int n = g_phase.load() == 1 ? 1500 : 200;
    gort::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
      gort::go([&wg] {
        spin(2000);
        gort::yield();
        spin(2000);
        wg.done();
      });
    wg.wait();
    gort::sleep_for(g_phase.load() == 1 ? 300ms : 1500ms);
  }
}

// Fibers that nap.
void sleeper(int i) {
  for (;;) gort::sleep_for(std::chrono::milliseconds(1000 + 700 * (i % 5)));
}

// Fibers taking turns on one mutex; many more of them while contended.
// (Static: fibers still parked on it are unwound after main returns.)
gort::mutex g_hot;
long g_hot_count = 0;  // guarded by g_hot

void hot_spot(int i) {
  for (;;) {
    if (g_phase.load() == 2 || i < 2) {
      std::lock_guard g(g_hot);
      ++g_hot_count;
      spin(3000);
      // Holding it across a slow step (while contended): the others queue up.
      if (g_phase.load() == 2) gort::sleep_for(1ms);
    }
    gort::sleep_for(5ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse_args(argc, argv);
  gort::config cfg;
  cfg.workers = opt.workers;
  return gort::run(
      [&]() -> int {
        gort::debug::server dbg;
        try {
          dbg = gort::debug::serve(opt.addr);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "debug_dashboard: cannot serve on %s: %s\n", opt.addr.c_str(), e.what());
          return 2;
        }
        const std::string host = opt.addr.substr(0, opt.addr.rfind(':'));
        std::printf("dashboard: http://%s:%u/debug/gort/\n", host.empty() ? "localhost" : host.c_str(),
                    unsigned(dbg.port()));
        std::fflush(stdout);

        gort::go(pipeline, 8);
        gort::go(bursts);
        for (int i = 0; i < 40; ++i) gort::go(sleeper, i);
        for (int i = 0; i < 16; ++i) gort::go(hot_spot, i);
        gort::chan<int> never;
        for (int i = 0; i < 5; ++i)
          gort::go([never]() mutable { never.recv(); });  // blocked for good: "chan receive"

        const auto start = std::chrono::steady_clock::now();
        for (long tick = 0;; ++tick) {
          g_phase.store(int(tick / 8 % 3));
          gort::sleep_for(1s);
          if (opt.seconds > 0 &&
              std::chrono::steady_clock::now() - start >= std::chrono::seconds(opt.seconds))
            return 0;
        }
      },
      cfg);
}
