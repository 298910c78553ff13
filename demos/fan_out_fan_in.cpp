// fan_out_fan_in: one source channel read by several workers (fan-out: each
// value goes to exactly one of them), their results merged into one sink
// channel (fan-in), closed once every worker is done. Each worker's share
// varies from run to run; the total does not: 1+2+...+1000 = 500500.
#include <cstdio>
#include <vector>

#include "gort/gort.hpp"

int main() {
  return gort::run([] {
    constexpr int n_values = 1000, n_workers = 4;
    gort::chan<int> jobs(16);
    gort::chan<int> results(16);
    std::vector<int> share(n_workers);

    gort::go([jobs]() mutable {  // the source
      for (int i = 1; i <= n_values; ++i) jobs.send(i);
      jobs.close();
    });

    gort::wait_group wg;
    for (int w = 0; w < n_workers; ++w) {  // fan-out
      wg.add(1);
      gort::go(
          [&, w](gort::recv_chan<int> in, gort::send_chan<int> out) {
            for (int v : in) {
              ++share[w];
              out.send(v);  // a real worker would transform v here
            }
            wg.done();
          },
          jobs, results);
    }
    gort::go([&wg, results]() mutable {  // close the sink after the last worker
      wg.wait();
      results.close();
    });

    long total = 0;
    int count = 0;
    for (int v : results) {  // fan-in: one reader of the merged results
      total += v;
      ++count;
    }
    for (int w = 0; w < n_workers; ++w) std::printf("worker %d handled %d values\n", w, share[w]);
    std::printf("total %ld from %d values\n", total, count);
  });
}
