// Scheduler statistics, fiber dumps. Reference: docs/api.md, "Statistics,
// tracing and environment variables".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace gort {

// One worker's counters since run() started.
struct worker_stats {
  std::uint64_t switches = 0;        // fibers resumed on this worker
  std::uint64_t steals = 0;          // successful steals by this worker
  std::uint64_t steal_attempts = 0;  // victims it tried
  std::uint64_t parks = 0;           // fibers that parked on this worker
  std::uint64_t wakeups = 0;         // times the worker thread woke from sleep
  std::size_t run_queue = 0;         // fibers queued on it now (runnext included)
  std::chrono::nanoseconds busy{0};  // time not asleep
  std::chrono::nanoseconds idle{0};  // time asleep waiting for work or timers
  // Fibers resumed on this worker that last ran on another one (their stacks
  // came across from another core's cache).
  std::uint64_t migrations = 0;
  // Times this worker's queue moved away from a fiber that held its thread
  // too long (to another OS thread).
  std::uint64_t handoffs = 0;
};

struct sched_stats {
  unsigned workers = 0;
  // OS threads counted against config::max_threads now (workers, threads held
  // by stuck fibers, spares, gort::blocking helpers).
  unsigned threads = 0;
  std::uint64_t spawned = 0;  // fibers created, the main one included
  std::uint64_t exited = 0;
  std::uint64_t switches = 0;
  std::uint64_t steals = 0;
  std::size_t live = 0;      // spawned - exited
  // Running on an OS thread now: on a worker, or still holding a thread
  // whose worker moved away (a stuck fiber). The caller of stats() counts.
  std::size_t running = 0;
  std::size_t runnable = 0;  // queued to run (local queues and the global queue)
  std::size_t blocked = 0;   // parked
  std::size_t global_queue = 0;
  std::map<std::string, std::size_t> blocked_by_reason;  // wait reason -> fibers
  std::vector<worker_stats> per_worker;
  std::uint64_t migrations = 0;  // sum of per_worker migrations
  std::uint64_t handoffs = 0;    // sum of per_worker handoffs

  // The statistics as one JSON object (fields as above; durations in ns).
  std::string to_json() const;
};

// A snapshot of the running runtime's statistics. Any thread, while run() is
// active; throws std::logic_error otherwise.
sched_stats stats();

// Writes every live fiber (id, state or wait reason, where it blocked, who
// created it) in the format of Go's goroutine dump. Any thread while run()
// is active; writes nothing otherwise.
void dump_fibers(std::ostream& os);

}  // namespace gort
