// channels: make(chan int, 1). A buffered channel with room for one value:
// main can send and then receive by itself, and prints 1. With an unbuffered
// channel a send waits for a receiver, so the value must come from another
// fiber (sending and receiving in main alone is the `deadlock` demo).
// Last, select: waiting on several channels at once, with a default case
// (non-blocking) or a time.After timeout.
#include <chrono>
#include <cstdio>
#include <optional>

#include "gort/gort.hpp"

int main() {
  return gort::run([] {
    gort::chan<int> buffered(1);  // make(chan int, 1)
    buffered.send(1);             // fits in the buffer: does not block
    std::printf("buffered: %d\n", *buffered.recv());

    gort::chan<int> unbuffered;                                // make(chan int)
    gort::go([unbuffered]() mutable { unbuffered.send(1); });  // blocks until main receives
    std::printf("unbuffered: %d\n", *unbuffered.recv());

    gort::chan<int> quiet;  // nobody ever sends on it
    auto got = [](std::optional<int> v) { std::printf("received %d\n", *v); };
    gort::select(gort::recv_case(quiet, got),  // select { case v := <-quiet: ...
                 gort::default_case([] { std::printf("select: nothing ready, default case\n"); }));
    gort::select(gort::recv_case(quiet, got),  // case <-time.After(50 * time.Millisecond):
                 gort::recv_case(gort::after(std::chrono::milliseconds(50)),
                                 [](auto) { std::printf("select: timed out after 50ms\n"); }));
  });
}
