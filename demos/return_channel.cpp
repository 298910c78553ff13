// return_channel: a function that makes a channel, starts a fiber that reads
// it and returns it; the caller sends. In Go:
//
//   func doSomething() chan<- int {
//       ch := make(chan int)
//       go func() { for i := range ch { log.Println(i) } }()
//       return ch
//   }
//   func main() { ch := doSomething(); ch <- 1; ch <- 4; time.Sleep(...) }
//
// do_something returns the send-only view (chan<- int): all a caller can do
// is send and close; receiving from it does not compile. Go's main sleeps so
// as not to exit before the last print; here main closes the channel, which
// ends the reader's range loop, and waits for the reader on a wait_group.
// The second part: direction-restricted parameters, send_chan<int> is
// `chan<- int` and recv_chan<int> is `<-chan int`.
// Prints 1 and 4, then the second part's heading and `received 2`.
#include <cstdio>

#include "gort/gort.hpp"

// The reader fiber marks `done` once the channel is closed and drained.
gort::send_chan<int> do_something(gort::wait_group& done) {
  gort::chan<int> ch;
  done.add(1);
  gort::go([ch, &done] {
    for (int i : ch) std::printf("%d\n", i);  // for i := range ch { log.Println(i) }
    done.done();
  });
  return ch;  // callers may only send (and close)
}

template <class C>
concept can_receive = requires(C c) {
  c.recv();
};
static_assert(!can_receive<gort::send_chan<int>>, "a send-only view cannot receive");

void sending(gort::send_chan<int> ch) { ch.send(2); }                                  // func(ch chan<- int)
void receiving(gort::recv_chan<int> ch) { std::printf("received %d\n", *ch.recv()); }  // func(ch <-chan int)

int main() {
  return gort::run([] {
    gort::wait_group reader;
    gort::send_chan<int> ch = do_something(reader);
    ch.send(1);  // ch <- 1
    ch.send(4);  // ch <- 4
    ch.close();  // ends the reader's loop once it has taken both
    reader.wait();

    std::printf("-- send-only and receive-only parameters:\n");
    gort::chan<int> both;  // converts to either view
    gort::go(sending, both);
    receiving(both);
  });
}
