// methods: a method as a goroutine, Go's `go ms.doIt()`. gort::go takes a
// member function pointer and the object, as std::thread does:
// gort::go(&my_struct::do_it, &ms). The struct holds its counter and the
// channels it talks over.
#include <cstdio>

#include "gort/gort.hpp"

struct my_struct {
  int counter = 0;
  gort::chan<int> in;    // values to add
  gort::chan<int> done;  // the final counter

  void do_it() {
    for (int v : in) counter += v;  // until `in` is closed
    done.send(counter);
  }
};

int main() {
  return gort::run([] {
    my_struct ms;
    gort::go(&my_struct::do_it, &ms);  // go ms.doIt()
    for (int i = 1; i <= 10; ++i) ms.in.send(i);
    ms.in.close();
    std::printf("counter %d\n", *ms.done.recv());
  });
}
