// gort::net::accept_backoff: Go's net/http Server.Serve accept loop policy
// (see gort/net.hpp).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>

#include "gort/net.hpp"
#include "gort/runtime.hpp"

namespace gort::net {

namespace {
constexpr std::chrono::milliseconds k_first_pause{5};
constexpr std::chrono::milliseconds k_max_pause{1000};

void report_to_stderr(const std::system_error& e, std::chrono::milliseconds retry_in) {
  std::fprintf(stderr, "gort::net: accept error: %s; retrying in %lldms\n", e.what(),
               static_cast<long long>(retry_in.count()));
}
}  // namespace

accept_backoff::accept_backoff() : report_(&report_to_stderr) {}
accept_backoff::accept_backoff(report_fn report) : report_(std::move(report)) {}

std::chrono::milliseconds accept_backoff::next_pause(std::chrono::milliseconds previous) noexcept {
  if (previous <= std::chrono::milliseconds::zero()) return k_first_pause;
  return previous >= k_max_pause / 2 ? k_max_pause : previous * 2;
}

bool accept_backoff::temporary(int err) noexcept {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

// The accepting fiber (or thread) only.
conn accept_backoff::accept(listener& l, location where) {
  for (;;) {
    try {
      conn c = l.accept(where);
      pause_ = std::chrono::milliseconds::zero();
      return c;
    } catch (const std::system_error& e) {
      if (e.code().category() != std::generic_category() || !temporary(e.code().value())) throw;
      pause_ = next_pause(pause_);
      if (report_) report_(e, pause_);
    }
    gort::sleep_for(pause_, where);
  }
}

}  // namespace gort::net
