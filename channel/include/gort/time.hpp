// gort time: Go's time.After and time.Ticker on the runtime's timers.
// Reference: docs/api.md, "select and time".
#pragma once

#include <chrono>
#include <memory>

#include "gort/chan.hpp"

namespace gort {

namespace detail {
struct ticker_state;
}

// time.After: a channel that receives the time once, `d` from now. Pending, it
// counts as a timer for deadlock detection. Dropping every handle before it
// fires cancels it. Any thread while run() is active (outside run() the
// channel never fires).
recv_chan<std::chrono::steady_clock::time_point> after(std::chrono::nanoseconds d);

// time.Ticker: its channel receives the time every `period`. The channel
// holds one tick; ticks a slow receiver missed are dropped. Move-only; the
// destructor stops it.
class ticker {
 public:
  // Throws std::invalid_argument for a non-positive period (as Go panics).
  explicit ticker(std::chrono::nanoseconds period);
  ticker(ticker&&) noexcept;
  ticker& operator=(ticker&&) noexcept;
  ~ticker();

  // The ticks. Valid (and the same channel) after stop(); it simply gets no
  // more ticks.
  recv_chan<std::chrono::steady_clock::time_point> c() const;
  // Any thread. No more ticks after it returns. Idempotent.
  void stop() noexcept;

 private:
  std::unique_ptr<detail::ticker_state> s_;
};

}  // namespace gort
