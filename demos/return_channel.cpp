// return_channel: a function that returns a channel served by its own fiber
// (Go's `func doSomething() <-chan int`), and direction-restricted parameters:
// send_chan<int> is `chan<- int`, recv_chan<int> is `<-chan int`. A view
// cannot do the other direction: that is a compile error, as in Go.
// Prints 1 and 4.
#include <cstdio>

#include "gort/gort.hpp"

gort::recv_chan<int> do_something() {
  gort::chan<int> ch;
  gort::go([ch]() mutable { ch.send(1); });  // the fiber owns the sending side
  return ch;                                 // callers may only receive
}

void sending(gort::send_chan<int> ch) { ch.send(4); }                         // func(ch chan<- int)
void receiving(gort::recv_chan<int> ch) { std::printf("%d\n", *ch.recv()); }  // func(ch <-chan int)

int main() {
  return gort::run([] {
    gort::recv_chan<int> ch = do_something();
    std::printf("%d\n", *ch.recv());

    gort::chan<int> both;  // converts to either view
    gort::go(sending, both);
    receiving(both);
  });
}
