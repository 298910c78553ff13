// trace: GORT_TRACE=FILE execution traces in the Chrome Trace Event format
// (chrome://tracing, Perfetto): one track per worker, a slice per fiber run
// (named by fiber id and creation site), instant events for parks (with the
// wait reason), steals and timer wake-ups.
//
// Invariants:
//   - Each worker appends only to its own buffer (no sharing on the hot path);
//     buffers are read only after every worker thread has been joined.
//   - A buffer holds at most k_max_events; later events are counted as
//     dropped and the file says so, so the overhead stays bounded.
//   - With tracing off, the cost is one null-pointer test per switch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gort/detail/wait_reason.hpp"

namespace gort::detail {

struct fiber;

class worker_trace {
 public:
  static constexpr std::size_t k_max_events = 1 << 20;

  // The owning worker only.
  void run_begin(const fiber& f, std::int64_t ts) noexcept;
  void run_end(std::int64_t ts) noexcept;
  void park(const fiber& f, wait_reason why, std::int64_t ts) noexcept;
  void instant(const char* what, std::uint64_t fiber_id, std::int64_t ts) noexcept;

  // After the workers are joined: appends this worker's events as JSON
  // objects (comma-separated, each preceded by a comma if `first` is false).
  void write_json(std::string& out, unsigned tid, std::int64_t t0, bool& first) const;

 private:
  struct event {
    std::int64_t ts;
    std::int64_t dur;  // slices: duration; -1 for instants
    std::uint64_t fiber_id;
    const char* name;  // instants: what happened; slices: null
    const char* file;  // slices: where the fiber was created
    unsigned line;
    wait_reason reason;
  };
  bool full() noexcept;
  std::vector<event> events_;
  std::size_t open_ = SIZE_MAX;  // index of the slice being run
  std::uint64_t dropped_ = 0;
};

// Writes the whole trace to `path`; returns false (and leaves errno) on failure.
bool write_trace_file(const std::string& path, const std::vector<const worker_trace*>& workers,
                      std::int64_t t0);

}  // namespace gort::detail
