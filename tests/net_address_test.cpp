// gort::net addresses: IPv4, IPv6, ":port", port 0, and malformed ones.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <system_error>

#include "gort/gort.hpp"
#include "net_util.hpp"

namespace {

TEST(NetAddress, MalformedAddressesThrowInvalidArgumentQuotingThem) {
  gort::run(
      [] {
        for (const char* bad : {"", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000",
                                "127.0.0.1:-1", "127.0.0.1:+80", "[::1", "[::1]", "[::1]80", "::1:80",
                                "[]:80", "[not-an-ip]:80", "a b:80", "1.2.3.4:123456"}) {
          SCOPED_TRACE(bad);
          for (int dial = 0; dial < 2; ++dial) {
            try {
              if (dial) {
                gort::net::dial(bad);
              } else {
                gort::net::listen(bad);
              }
              ADD_FAILURE() << "accepted";
            } catch (const std::invalid_argument& e) {
              EXPECT_NE(std::string(e.what()).find('"' + std::string(bad) + '"'), std::string::npos)
                  << e.what();
            }
          }
        }
      },
      gort_test::cfg(1));
}

TEST(NetAddress, AllInterfacesAndLoopbacks) {
  gort::run(
      [] {
        auto any = gort::net::listen(":0");
        ASSERT_NE(any.port(), 0);
        std::string port = std::to_string(any.port());
        gort::go([&any] {
          for (int i = 0; i < 2; ++i) {
            auto c = any.accept();
            c.write("hi");
          }
        });
        // ":port" listens on every interface: reachable over IPv4 loopback, and
        // dial's empty host means the local machine.
        auto a = gort::net::dial("127.0.0.1:" + port);
        EXPECT_EQ(gort_test::read_n(a, 2), "hi");
        auto b = gort::net::dial(":" + port);
        EXPECT_EQ(gort_test::read_n(b, 2), "hi");
      },
      gort_test::cfg(2));
}

TEST(NetAddress, Ipv6Loopback) {
  gort::run(
      [] {
        gort::net::listener ln;
        try {
          ln = gort::net::listen("[::1]:0");
        } catch (const std::system_error& e) {
          GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
        }
        gort::go([&ln] { ln.accept().write("six"); });
        auto c = gort::net::dial("[::1]:" + std::to_string(ln.port()));
        EXPECT_EQ(gort_test::read_all(c), "six");
      },
      gort_test::cfg(2));
}

TEST(NetAddress, HostNameIsResolved) {
  gort::run(
      [] {
        auto ln = gort::net::listen("127.0.0.1:0");
        gort::go([&ln] { ln.accept().write("named"); });
        gort::net::conn c;
        try {
          c = gort::net::dial("localhost:" + std::to_string(ln.port()));
        } catch (const std::system_error& e) {
          GTEST_SKIP() << "localhost does not resolve to 127.0.0.1 here: " << e.what();
        }
        EXPECT_EQ(gort_test::read_all(c), "named");
      },
      gort_test::cfg(2));
}

TEST(NetAddress, PortInUse) {
  gort::run(
      [] {
        auto a = gort::net::listen("127.0.0.1:0");
        try {
          auto b = gort::net::listen("127.0.0.1:" + std::to_string(a.port()));
          ADD_FAILURE() << "two listeners on one port";
        } catch (const std::system_error& e) {
          EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
        }
      },
      gort_test::cfg(1));
}

}  // namespace
