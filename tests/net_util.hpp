// Helpers shared by the net_* and http_* tests. wait_blocked comes from
// test_util.hpp.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gort/gort.hpp"
#include "test_util.hpp"  // wait_blocked

namespace gort_test {

// Reads until end of stream.
inline std::string read_all(gort::net::conn& c) {
  std::string out;
  char buf[16384];
  while (std::size_t n = c.read(std::span<char>(buf))) out.append(buf, n);
  return out;
}

// Reads exactly n bytes (fewer only at end of stream).
inline std::string read_n(gort::net::conn& c, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    std::size_t r = c.read(std::span<char>(out.data() + got, n - got));
    if (r == 0) break;
    got += r;
  }
  out.resize(got);
  return out;
}

// The address to dial for a listener on the loopback interface.
inline std::string address_of(const gort::net::listener& ln) {
  return "127.0.0.1:" + std::to_string(ln.port());
}

// A connection dialled to `ln` and the one `ln` accepted for it.
struct conn_pair {
  gort::net::conn client;
  gort::net::conn server;
};
inline conn_pair connect_to(gort::net::listener& ln) {
  gort::net::conn client = gort::net::dial(address_of(ln));
  return {std::move(client), ln.accept()};
}

// A listener on a free loopback port and a connect_to() pair on it. The
// listener is a base so that it exists before the pair is made from it.
struct loopback_listener {
  gort::net::listener ln = gort::net::listen("127.0.0.1:0");
};
struct loopback_pair : loopback_listener, conn_pair {
  loopback_pair() : conn_pair(connect_to(ln)) {}
};

// A pattern that detects reordering and loss.
inline std::string pattern(std::size_t n, unsigned salt = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = char((i * 131 + salt + i / 4096) & 0xff);
  return s;
}

// Raises the soft descriptor limit to at least `want` (or the hard limit).
// Returns the limit now in force.
inline rlim_t raise_fd_limit(rlim_t want) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min(want, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

// The net tests' configuration: a deadlock throws instead of aborting. The
// default worker count is for run_at_each_worker_count, which sets its own.
inline gort::config cfg(unsigned workers = 0) {
  gort::config c;
  c.workers = workers;
  c.on_deadlock = gort::deadlock_policy::raise;
  return c;
}

}  // namespace gort_test
