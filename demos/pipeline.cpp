// pipeline: source -> square -> sink, each stage a fiber, each link a
// channel. A stage ranges over its input and closes its output when the
// input is closed, so the end of the data flows down the pipeline.
// Prints the squares of 1..5 and their sum, 55.
#include <cstdio>

#include "gort/gort.hpp"

// Stage 1: emits 1..n, then closes.
gort::recv_chan<int> source(int n) {
  gort::chan<int> out;
  gort::go([out, n]() mutable {
    for (int i = 1; i <= n; ++i) out.send(i);
    out.close();
  });
  return out;
}

// Stage 2: squares every value it receives.
gort::recv_chan<int> square(gort::recv_chan<int> in) {
  gort::chan<int> out;
  gort::go([in, out]() mutable {
    for (int v : in) out.send(v * v);
    out.close();
  });
  return out;
}

// Stage 3: prints and sums; returns when the pipeline has drained.
int sink(gort::recv_chan<int> in) {
  int sum = 0;
  for (int v : in) {
    std::printf("%d ", v);
    sum += v;
  }
  std::printf("\n");
  return sum;
}

int main() {
  return gort::run([] { std::printf("sum %d\n", sink(square(source(5)))); });
}
