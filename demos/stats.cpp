// stats: runs a small workload (a three-stage pipeline plus a burst of short
// fibers) and prints the scheduler statistics before and after, as a table
// and as JSON (the data behind gort::debug's GET /debug/gort/stats).
#include <cstdio>
#include <string>

#include "gort/gort.hpp"

namespace {

void print_table(const char* title, const gort::sched_stats& s) {
  std::printf("== %s ==\n", title);
  std::printf(
      "workers %u  spawned %llu  exited %llu  live %zu  runnable %zu  blocked %zu  global queue %zu\n",
      s.workers, (unsigned long long)s.spawned, (unsigned long long)s.exited, s.live, s.runnable, s.blocked,
      s.global_queue);
  std::printf("switches %llu  steals %llu  migrations %llu\n", (unsigned long long)s.switches,
              (unsigned long long)s.steals, (unsigned long long)s.migrations);
  for (const auto& [reason, n] : s.blocked_by_reason)
    std::printf("  blocked on %-22s %zu\n", reason.c_str(), n);
  std::printf("%-7s %10s %8s %10s %8s %8s %10s %6s %10s %10s\n", "worker", "switches", "steals", "attempts",
              "parks", "wakeups", "migrations", "queue", "busy ms", "idle ms");
  for (std::size_t i = 0; i < s.per_worker.size(); ++i) {
    const auto& w = s.per_worker[i];
    std::printf("%-7zu %10llu %8llu %10llu %8llu %8llu %10llu %6zu %10.1f %10.1f\n", i,
                (unsigned long long)w.switches, (unsigned long long)w.steals,
                (unsigned long long)w.steal_attempts, (unsigned long long)w.parks,
                (unsigned long long)w.wakeups, (unsigned long long)w.migrations, w.run_queue,
                double(w.busy.count()) / 1e6, double(w.idle.count()) / 1e6);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned workers = argc > 1 ? unsigned(std::stoul(argv[1])) : 2;
  return gort::run(
      [] {
        print_table("before", gort::stats());

        // A pipeline: numbers -> squares -> sum.
        gort::chan<long> numbers, squares;
        gort::go([numbers]() mutable {
          for (long i = 1; i <= 10000; ++i) numbers.send(i);
          numbers.close();
        });
        gort::go([numbers, squares]() mutable {
          for (long v : numbers) squares.send(v * v);
          squares.close();
        });
        // A burst of short fibers while the pipeline runs.
        gort::wait_group burst;
        for (int i = 0; i < 10000; ++i) {
          burst.add();
          gort::go([&burst] { burst.done(); });
        }
        long sum = 0;
        for (long v : squares) sum += v;
        burst.wait();
        std::printf("pipeline sum of squares 1..10000 = %ld\n", sum);

        auto after = gort::stats();
        print_table("after", after);
        std::printf("== json ==\n%s\n", after.to_json().c_str());
        return 0;
      },
      {.workers = workers});
}
