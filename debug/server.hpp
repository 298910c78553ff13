// The debug server's tunables (serve() uses the defaults; tests shorten the
// timeouts).
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

#include "debug/http.hpp"
#include "gort/debug.hpp"

namespace gort::debug::detail {

struct options {
  // A request must be whole this long after its first byte arrived.
  std::chrono::milliseconds request_timeout{10'000};
  // A keep-alive connection with no request in progress is closed after this.
  std::chrono::milliseconds idle_timeout{120'000};
  // Each piece of an answer (256 KiB at most) must be taken this fast.
  std::chrono::milliseconds write_timeout{10'000};
  // Connections over this many are closed as soon as they are accepted.
  std::size_t max_connections = 64;
  struct limits limits;
};

// serve() with `opt`.
server serve_with(std::string_view address, const options& opt);

}  // namespace gort::debug::detail
