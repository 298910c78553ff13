// deadlock: an unbuffered send in main with nobody to receive. Every fiber is
// blocked and nothing can wake one, so gort prints Go's report and exits 2:
//
//   fatal error: all goroutines are asleep - deadlock!
//
//   goroutine 1 [chan send]:
//   	.../demos/deadlock.cpp:15
#include <cstdio>

#include "gort/gort.hpp"

int main() {
  return gort::run([] {
    gort::chan<int> ch;  // unbuffered
    ch.send(1);          // blocks forever: the receive below never starts
    std::printf("%d\n", *ch.recv());
  });
}
