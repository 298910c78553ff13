// Channel handles are shared references: a lambda that captured one by value
// (not mutable) can send, receive and close, as a Go closure can.
#include <gtest/gtest.h>

#include "gort/gort.hpp"

TEST(ChanHandle, ConstCapturedHandlesSendReceiveAndClose) {
  int sum = gort::run(
      [] {
        gort::chan<int> ch(4);
        gort::send_chan<int> out = ch;
        gort::recv_chan<int> in = ch;
        gort::go([out] {
          for (int i = 1; i <= 10; ++i) out.send(i);
          out.close();
        });
        auto reader = gort::spawn([in] {
          int s = 0;
          for (int v : in) s += v;
          return s;
        });
        const gort::chan<int> c2;
        gort::go([c2] { c2.send(5); });
        EXPECT_EQ(c2.recv(), 5);
        EXPECT_FALSE(c2.try_recv());
        EXPECT_EQ(ch.capacity(), 4u);
        EXPECT_TRUE(bool(in));
        return reader.join();
      },
      {.workers = 2});
  EXPECT_EQ(sum, 55);
}
