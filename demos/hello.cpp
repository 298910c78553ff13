// hello: Go's `go helloWorld()`. A fiber starts with gort::go, but nothing
// waits for it: when the main fiber returns, run() returns and the program
// ends, so "hello world" is lost. The fix: make main wait (a wait_group).
#include <cstdio>

#include "gort/gort.hpp"

void hello() { std::printf("hello world\n"); }

int main() {
  std::printf("-- main does not wait:\n");
  // One worker, as on a one-core machine: main never blocks, so the new
  // fiber never gets the worker before main returns. run() then unwinds it.
  gort::run(
      [] {
        std::printf("Start\n");
        gort::go(hello);  // go hello()
        std::printf("End\n");
      },
      {.workers = 1});

  std::printf("-- main waits for the fiber (wait_group):\n");
  return gort::run([] {
    std::printf("Start\n");
    gort::wait_group wg;  // var wg sync.WaitGroup
    wg.add(1);
    gort::go([&wg] {
      hello();
      wg.done();
    });
    wg.wait();  // parks main until hello() ran
    std::printf("End\n");
  });
}
