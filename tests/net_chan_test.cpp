// Sockets and channels in one program, as the HTTP chapter's servers use them:
// an accept loop hands connections to worker fibers over a channel. Besides
// the behaviour, this links the channel and net halves of libgort.a into one
// executable (each defined a gort::detail::throw_closed once: a duplicate
// symbol no single-half test could see).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <system_error>

#include "gort/gort.hpp"
#include "net_util.hpp"
#include "test_util.hpp"

TEST(NetChan, AcceptLoopHandsConnectionsToWorkers) {
  constexpr int k_clients = 20;
  gort_test::run_at_each_worker_count(
      [](unsigned) {
        auto ln = gort::net::listen("127.0.0.1:0");
        gort::chan<gort::net::conn> conns(4);
        gort::wait_group served;
        served.add(3);
        for (int i = 0; i < 3; ++i) {
          gort::go([conns, &served] {
            for (gort::net::conn c : conns) {
              std::string line = gort_test::read_all(c);
              c.write("got " + line);
            }
            served.done();
          });
        }
        gort::go([&ln, conns] {
          for (int i = 0; i < k_clients; ++i) conns.send(ln.accept());
          conns.close();
        });
        for (int i = 0; i < k_clients; ++i) {
          auto c = gort::net::dial("127.0.0.1:" + std::to_string(ln.port()));
          c.write("client " + std::to_string(i));
          c.close_write();
          EXPECT_EQ(gort_test::read_all(c), "got client " + std::to_string(i));
        }
        served.wait();
        // Both halves report closed objects with their own errors.
        EXPECT_THROW(conns.send(gort::net::conn{}), gort::closed_channel_error);
        ln.close();
        EXPECT_THROW(ln.accept(), std::system_error);
      },
      gort_test::cfg());
}
