// A program that deadlocks on purpose, for the gdb extension test: main and
// two fibers end up parked forever.
#include "gort/gort.hpp"

namespace {
__attribute__((noinline)) void wait_forever_in_child(gort::wait_group& wg) {
  wg.wait();
  asm volatile("");  // not a tail call: keep this frame visible in gort-bt
}
}  // namespace

int main() {
  return gort::run(
      [] {
        gort::wait_group never;
        never.add();
        gort::go([&] { wait_forever_in_child(never); });
        gort::go([] {
          gort::wait_group w;
          w.add();
          w.wait();
        });
        never.wait();
        return 0;
      },
      {.workers = 2});
}
