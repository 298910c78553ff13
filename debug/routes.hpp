// The debug server's endpoints (the paths of <gort/debug.hpp>).
#pragma once

#include <optional>
#include <string_view>

#include "debug/http.hpp"

namespace gort::debug::detail {

// Any fiber (the trace endpoint parks for its window); also outside run(),
// where the endpoints that need a runtime answer 503.
response route(const request& req);

// The `seconds` of a trace request's query ("seconds=5"): 1..60, else nullopt.
std::optional<int> trace_seconds(std::string_view query);

// The dashboard page, assembled at build time (dashboard_page.cpp).
std::string_view dashboard_page() noexcept;

}  // namespace gort::debug::detail
