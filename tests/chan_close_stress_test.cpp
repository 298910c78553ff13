// Fault suite: thousands of fibers closing channels
// while others are blocked sending and receiving on them. Every value sent
// successfully is received exactly once; every sender either delivers or
// throws closed_channel_error; every receiver ends with nullopt; nothing hangs.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "test_util.hpp"

namespace {
constexpr int k_channels = 400;
constexpr int k_senders = 2;    // per channel
constexpr int k_receivers = 2;  // per channel
constexpr int k_sends = 3;      // per sender, until its first refusal
// Sender s of a channel sends s * k_sends + i for i = 0, 1, ...: every value
// on a channel is distinct.
constexpr int value_of(int s, int i) { return s * k_sends + i; }
}  // namespace

TEST(ChanCloseStress, CloseWhileBlocked) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));  // outside run(): fibers migrate
  gort_test::for_each_worker_count([&](unsigned w) {
    std::atomic<long> sent{0}, received{0}, refused{0}, ended{0};
    // What each sender delivered and each receiver got, in order; written by
    // that fiber only, read after wg.wait() (and run()) ordered them.
    std::vector<std::vector<int>> delivered(k_channels * k_senders), got(k_channels * k_receivers);
    std::vector<char> was_refused(k_channels * k_senders, 0);
    gort::run(
        [&] {
          // (k_senders + k_receivers + 1 closer) fibers per channel: 2,000 live fibers
          std::mt19937_64 rng(seed + w);
          gort::wait_group wg;
          for (int c = 0; c < k_channels; ++c) {
            gort::chan<int> ch(std::size_t(rng() % 3));  // unbuffered, 1 or 2 slots
            const int yields = int(rng() % 4);
            for (int s = 0; s < k_senders; ++s) {
              wg.add();
              const int me = c * k_senders + s;
              gort::go([&, ch, s, me]() mutable {
                for (int i = 0; i < k_sends; ++i) {
                  try {
                    ch.send(value_of(s, i));
                    delivered[me].push_back(value_of(s, i));
                    sent.fetch_add(1);
                  } catch (const gort::closed_channel_error&) {
                    was_refused[me] = 1;
                    refused.fetch_add(1);
                    break;
                  }
                }
                wg.done();
              });
            }
            for (int r = 0; r < k_receivers; ++r) {
              wg.add();
              const int me = c * k_receivers + r;
              gort::go([&, ch, me]() mutable {
                while (auto v = ch.recv()) {
                  got[me].push_back(*v);
                  received.fetch_add(1);
                }
                ended.fetch_add(1);
                wg.done();
              });
            }
            wg.add();
            gort::go([&, ch, yields]() mutable {
              for (int y = 0; y < yields; ++y) gort::yield();
              ch.close();
              wg.done();
            });
          }
          wg.wait();
        },
        {.workers = w});
    EXPECT_EQ(sent.load(), received.load());
    EXPECT_EQ(ended.load(), long(k_channels) * k_receivers);
    // A sender stops only at its first refusal: the refused senders are
    // exactly those that delivered fewer than k_sends values, and each
    // delivered a prefix of its values.
    long short_senders = 0;
    int bad_senders = 0;
    for (int me = 0; me < k_channels * k_senders; ++me) {
      const std::vector<int>& d = delivered[me];
      const bool short_of = d.size() < std::size_t(k_sends);
      short_senders += short_of;
      bool prefix = true;
      for (std::size_t i = 0; i < d.size(); ++i) prefix = prefix && d[i] == value_of(me % k_senders, int(i));
      if ((was_refused[me] != 0) != short_of || !prefix) {
        if (++bad_senders == 1)
          ADD_FAILURE() << "channel " << me / k_senders << " sender " << me % k_senders << ": delivered "
                        << d.size() << " values, refused=" << int(was_refused[me]);
      }
    }
    EXPECT_EQ(bad_senders, 0);
    EXPECT_EQ(refused.load(), short_senders);
    EXPECT_LE(refused.load(), long(k_channels) * k_senders);
    // Per channel, the values received are exactly the values delivered (as
    // multisets: a duplicate cannot hide behind a loss), and each receiver got
    // each sender's values in the order they were sent (FIFO).
    int bad_channels = 0;
    for (int c = 0; c < k_channels; ++c) {
      std::vector<int> in, out;
      for (int s = 0; s < k_senders; ++s) {
        const auto& d = delivered[c * k_senders + s];
        in.insert(in.end(), d.begin(), d.end());
      }
      bool fifo = true;
      for (int r = 0; r < k_receivers; ++r) {
        const auto& g = got[c * k_receivers + r];
        out.insert(out.end(), g.begin(), g.end());
        std::vector<int> last(k_senders, -1);
        for (int v : g) {
          if (v < 0 || v >= k_senders * k_sends) {
            fifo = false;
            continue;
          }
          int& l = last[v / k_sends];
          fifo = fifo && v > l;
          l = v;
        }
      }
      std::sort(in.begin(), in.end());
      std::sort(out.begin(), out.end());
      if (in != out || !fifo) {
        if (++bad_channels == 1)
          ADD_FAILURE() << "channel " << c << ": " << in.size() << " values delivered, " << out.size()
                        << " received" << (fifo ? "" : ", out of order or unknown values");
      }
    }
    EXPECT_EQ(bad_channels, 0);
  });
}
