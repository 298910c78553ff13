// Seeded stress of gort::net streams at 1, 2 and 4 workers: every byte
// arrives once and in order, and every read wakes for the data or the end
// of stream it waits for. The readers mix reads that fill their buffer with
// short ones; the writers race the reader's park (nothing, a yield or a
// short sleep between pieces) and end their streams, half or fully closed,
// while data is in flight; the round trips leave each server read waiting
// on an empty queue, as an HTTP connection does. A lost wake-up would leave
// a reader waiting: every read has a 10 s deadline, which fails the test
// instead of hanging it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using gort_test::cfg;

namespace {

class NetStress : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(workers, NetStress, ::testing::ValuesIn(gort_test::k_worker_counts));

// Buffer sizes a reader picks from: some smaller than most pieces (reads
// that fill the buffer), some larger (short reads).
constexpr std::size_t k_read_sizes[] = {1, 7, 64, 500, 4096, 65536};

// A pause between two pieces: none, a yield, or a sleep of up to 200 us.
void pause_between_pieces(std::mt19937_64& rng) {
  switch (rng() % 3) {
    case 0: break;
    case 1: gort::yield(); break;
    default: gort::sleep_for(std::chrono::microseconds(rng() % 200)); break;
  }
}

// One read of a random size, with a deadline 10 s away.
std::size_t read_some(gort::net::conn& c, std::vector<char>& buf, std::mt19937_64& rng) {
  c.set_read_deadline(std::chrono::steady_clock::now() + 10s);
  return c.read(std::span<char>(buf.data(), k_read_sizes[rng() % std::size(k_read_sizes)]));
}

// Runs body(rng, ln) as a gort program with the test's worker count: `rng`
// seeded from the test's seed (printed on failure), `ln` a loopback listener.
template <class F>
void run_seeded(unsigned workers, F body) {
  const std::uint64_t seed = gort_test::test_seed();
  SCOPED_TRACE(gort_test::seed_note(seed));
  gort::run(
      [&] {
        std::mt19937_64 rng(seed);
        gort::net::listener ln = gort::net::listen("127.0.0.1:0");
        body(rng, ln);
      },
      cfg(workers));
}

// One direction: a writer sends a pattern in random pieces and ends with a
// half or a full close; the reader reads with random buffer sizes to the end.
TEST_P(NetStress, ShortAndFullReadsLoseNothing) {
  run_seeded(GetParam(), [](std::mt19937_64& rng, gort::net::listener& ln) {
    constexpr unsigned k_conns = 16;
    std::vector<std::string> sent;
    std::vector<gort::task<std::string>> readers;
    for (unsigned i = 0; i < k_conns; ++i) {
      sent.push_back(gort_test::pattern(1 + rng() % 60'000, i));
      auto [client, server] = gort_test::connect_to(ln);
      const std::uint64_t s = rng();
      gort::go([s, data = sent.back(), c = std::move(client)]() mutable {
        std::mt19937_64 r(s);
        for (std::size_t at = 0; at < data.size();) {
          const std::size_t n = std::min<std::size_t>(data.size() - at, 1 + r() % 4096);
          c.write(std::string_view(data).substr(at, n));
          at += n;
          pause_between_pieces(r);
        }
        if (r() % 2)
          c.close_write();
        else
          c.close();
      });
      readers.push_back(gort::spawn([s, c = std::move(server)]() mutable {
        std::mt19937_64 r(s + 1);
        std::vector<char> buf(65536);
        std::string got;
        while (std::size_t n = read_some(c, buf, r)) got.append(buf.data(), n);
        return got;
      }));
    }
    for (unsigned i = 0; i < k_conns; ++i) {
      const std::string got = readers[i].join();
      EXPECT_EQ(got.size(), sent[i].size()) << "connection " << i;
      EXPECT_TRUE(got == sent[i]) << "connection " << i;
    }
  });
}

// Request and response, as an HTTP connection does: the client writes a
// message, the server echoes what it reads (each read short or full), the
// client reads the echo back; every round trip leaves the server's next read
// waiting on an empty queue.
TEST_P(NetStress, RoundTripsLoseNothing) {
  run_seeded(GetParam(), [](std::mt19937_64& rng, gort::net::listener& ln) {
    constexpr unsigned k_conns = 8;
    constexpr int k_round_trips = 300;
    std::vector<gort::task<int>> clients;
    for (unsigned i = 0; i < k_conns; ++i) {
      auto [client, server] = gort_test::connect_to(ln);
      const std::uint64_t s = rng();
      gort::go([s, c = std::move(server)]() mutable {  // echoes until the end of the stream
        std::mt19937_64 r(s);
        std::vector<char> buf(65536);
        while (std::size_t n = read_some(c, buf, r)) c.write(std::string_view(buf.data(), n));
      });
      clients.push_back(gort::spawn([s, i, c = std::move(client)]() mutable {
        std::mt19937_64 r(s + 1);
        std::vector<char> buf(65536);
        int good = 0;
        for (int k = 0; k < k_round_trips; ++k) {
          const std::string msg = gort_test::pattern(1 + r() % 3000, i * k_round_trips + unsigned(k));
          c.write(msg);
          std::string back;
          while (back.size() < msg.size()) {
            const std::size_t n = read_some(c, buf, r);
            if (n == 0) break;
            back.append(buf.data(), n);
          }
          good += back == msg;
          pause_between_pieces(r);
        }
        c.close();
        return good;
      }));
    }
    for (unsigned i = 0; i < k_conns; ++i) EXPECT_EQ(clients[i].join(), k_round_trips) << "connection " << i;
  });
}

}  // namespace
