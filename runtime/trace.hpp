// trace: execution traces in the Chrome Trace Event format (chrome://tracing,
// Perfetto): one track per worker, a slice per fiber run (named by fiber id
// and creation site), instant events for parks (with the wait reason), steals
// and timer wake-ups.
//
// Each worker records into its own ring of the last k_events events while its
// trace pointer is set: for the whole run with GORT_TRACE=FILE (a flight
// recorder: the file is written when run() returns, and also on a deadlock,
// a panic, a fatal error, a stack overflow or SIGQUIT), and for the window of
// a live capture (capture_trace, gort::debug's /debug/gort/trace).
//
// Invariants:
//   - A ring is written only by the machine that owns its worker, on g0 or in
//     a runtime section (one writer at a time; ownership passes as
//     runtime/worker.hpp says), and may be read at any moment by others
//     (crash writers, live captures), through a seqlock: the writer bumps
//     count_ (release) after an event is complete, with a release fence
//     between that bump and its next event's stores; a reader keeps a copied
//     event only if count_, re-read after the copy, shows that its slot was
//     not being reused meanwhile. Every field of an event is accessed
//     atomically (std::atomic_ref, relaxed).
//   - Rings are created before their first use and destroyed with the
//     runtime; a worker's trace pointer only ever toggles between null and
//     that worker's ring, so a pointer loaded once stays usable.
//   - With tracing off, the cost is one null-pointer test per switch.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gort/detail/wait_reason.hpp"
#include "runtime/trace_capture.hpp"

namespace gort::detail {

struct fiber;
class worker;
class trace_writer;

class worker_trace {
 public:
  static constexpr std::size_t k_events = std::size_t(1) << 20;  // per worker, by default

  // Reserves a ring of `events` (rounded up to a power of two; one slot is
  // the writer's, so it keeps events - 1); its pages are touched as it fills.
  explicit worker_trace(std::size_t events = k_events);

  // The machine that owns this ring's worker only.
  void run_begin(const fiber& f, std::int64_t ts) noexcept;
  void run_end(std::int64_t ts) noexcept;
  void park(const fiber& f, wait_reason why, std::int64_t ts) noexcept;
  void instant(const char* what, std::uint64_t fiber_id, std::int64_t ts) noexcept;
  // A handoff: `from` switches out (parking when `parks`), `to` switches in.
  void handoff(const fiber& from, const fiber& to, bool parks, std::int64_t ts) noexcept;
  // On g0 before running `f`: records a steal if the worker's steal count
  // moved since the last call.
  void note_steals(std::uint64_t steals, std::uint64_t fiber_id, std::int64_t ts) noexcept;

  // Any thread: forget the last steal count (tracing is being turned on).
  void reset_steals() noexcept { steals_seen_.store(k_no_steals, std::memory_order_relaxed); }
  // Any thread: events recorded so far.
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_acquire); }

  // Any thread; async-signal-safe when `out` is. Writes this worker's events
  // that overlap [from, to] as JSON objects for track `tid` (timestamps
  // relative to t0), each preceded by a comma unless `first`; with
  // `running_at` > 0 also the slice still open then. `since` is count() when
  // the window began: what the ring lost of it is noted in the file.
  void write_json(trace_writer& out, unsigned tid, std::int64_t t0, std::int64_t from, std::int64_t to,
                  std::uint64_t since, std::int64_t running_at, bool& first) const noexcept;

 private:
  static constexpr std::uint64_t k_no_steals = UINT64_MAX;
  struct event {  // trivial, so the ring's pages stay untouched until used
    std::int64_t ts;
    std::int64_t dur;  // slices: duration; -1: an instant
    std::uint64_t fiber_id;
    const char* name;  // instants: what happened; slices: null
    const char* file;  // slices: where the fiber was created
    std::uint32_t line;
    std::uint32_t reason;  // a wait_reason
  };
  void push(const event& e) noexcept;
  bool copy(std::uint64_t i, event& e) const noexcept;

  const std::uint64_t mask_;  // slots - 1
  std::unique_ptr<event[]> ring_;
  std::atomic<std::uint64_t> count_{0};  // events pushed; slot = index & mask_
  // The slice being run (owner writes; crash writers read): open_fiber_ is 0
  // when none, stored last (release) when a slice opens.
  std::atomic<std::uint64_t> open_fiber_{0};
  std::atomic<std::int64_t> open_ts_{0};
  std::atomic<const char*> open_file_{nullptr};
  std::atomic<std::uint32_t> open_line_{0};
  std::atomic<std::uint64_t> steals_seen_{k_no_steals};
};

// What one run() records; a member of the runtime.
class trace_recorder {
 public:
  trace_recorder();
  ~trace_recorder();

  // run(), before the workers start. `path`: GORT_TRACE's value, empty when
  // unset; then rings are made only when a capture first asks.
  void init(const std::vector<std::unique_ptr<worker>>& workers, const std::string& path, std::int64_t t0);
  // run(), after the workers were joined and leftover fibers unwound: writes
  // the GORT_TRACE file (a message on stderr if that fails).
  void write_at_exit();
  // Any thread, also a signal handler, just before the process dies: writes
  // the GORT_TRACE file from the rings as they are (nothing without
  // GORT_TRACE). Only the first caller writes; a concurrent one waits for it.
  void write_on_crash() noexcept;

  // A fiber of this runtime: capture_trace (runtime/trace_capture.hpp).
  capture_status capture(std::chrono::nanoseconds window, std::string& json);

 private:
  void set_recording(bool on) noexcept;
  bool write_file(char* buf, std::size_t size, std::int64_t running_at) noexcept;

  std::vector<worker*> workers_;
  std::vector<std::unique_ptr<worker_trace>> rings_;  // empty until first needed
  std::string path_;                    // GORT_TRACE, empty when unset (then recording only during captures)
  std::int64_t t0_ = 0;                 // run()'s start: time zero of the GORT_TRACE file
  std::atomic<bool> capturing_{false};  // a capture owns rings_ (creation) and the switches
  std::atomic<int> crash_state_{0};     // write_on_crash: 0 idle, 1 writing, 2 written
};

// The running runtime's write_on_crash(), if any. Async-signal-safe.
void write_trace_on_crash() noexcept;

}  // namespace gort::detail
