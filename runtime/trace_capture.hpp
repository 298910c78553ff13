// Live trace captures: what the runtime offers gort::debug's
// /debug/gort/trace (exported to the layers above; runtime/trace.hpp has the
// recorder behind it).
#pragma once

#include <chrono>
#include <string>

namespace gort::detail {

enum class capture_status {
  ok,
  busy,    // another capture is in progress (one at a time)
  failed,  // not called from a fiber, or the rings could not be allocated
};

// A fiber of a running runtime: records every worker for the next `window`
// (the calling fiber sleeps meanwhile, as a service fiber's sleep if it is
// one) and sets `json` to the Chrome trace of that window. With GORT_TRACE
// set, the flight recorder's rings are read; otherwise recording is on for
// the window only.
capture_status capture_trace(std::chrono::nanoseconds window, std::string& json);

}  // namespace gort::detail
