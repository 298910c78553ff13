// The package test's deadlock: prints where its fibers will block and where
// the second one was created, then blocks both forever. The test checks that
// the report on stderr names these lines of this file (so that a consumer
// built by another compiler reads the library's locations right).
#include <gort/gort.hpp>

#include <cstdio>

int main() {
  return gort::run([] {
    gort::chan<int> never;
    std::printf("block %s:%d\n", __FILE__, __LINE__ + 4);
    std::printf("created %s:%d\n", __FILE__, __LINE__ + 2);
    std::fflush(stdout);
    gort::go([never] { (void)never.recv(); });
    (void)never.recv();
  });
}
