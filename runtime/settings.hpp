// settings: every GORT_* environment variable gort reads, declared once, in
// one table (in the manner of Go's dbgvars in runtime1.go): its name, what it
// accepts, its default, a one-line doc, and its parser.
//
// run() reads the table once, before anything starts (read_settings()). A
// value that does not parse is one std::invalid_argument naming the variable
// and quoting the value; an empty value counts as unset, as in Go.
// docs/README.md has the same table (a test keeps the two in step).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gort::detail {

enum class deadlock_mode : std::uint8_t {
  global,   // Go's check: every fiber blocked, nothing can wake one
  partial,  // also a monitor that reports cycles of fibers waiting for mutexes
};

// The parsed values; a default-constructed one is "nothing set".
struct settings {
  unsigned maxprocs = 0;                          // GORT_MAXPROCS; 0: unset
  long schedtrace_ms = 0;                         // GORT_SCHEDTRACE; 0: off
  std::string trace_path;                         // GORT_TRACE; empty: off
  deadlock_mode deadlock = deadlock_mode::global;  // GORT_DEADLOCK
  bool leakcheck = false;                         // GORT_LEAKCHECK
  std::optional<std::uint64_t> sched_seed;        // GORT_SCHED_SEED
  unsigned maxthreads = 0;                        // GORT_MAXTHREADS; 0: unset
  long stallreport_ms = 0;                        // GORT_STALLREPORT; 0: unset
  bool traceback_system = false;                  // GORT_TRACEBACK=system
};

// One row of the table.
struct setting {
  std::string_view name;     // "GORT_MAXPROCS"
  std::string_view accepts;  // what a value must be, as error messages say it
  std::string_view unset;    // what happens when it is unset
  std::string_view doc;      // one line
  // Stores a non-empty `value` into `out`; false if it does not parse.
  bool (*parse)(std::string_view value, settings& out);
};

// The table, in documentation order.
std::span<const setting> all_settings() noexcept;

// Any thread: reads every variable of the table from the environment.
// Throws std::invalid_argument("gort::run: GORT_X=\"v\" is not <accepts>").
settings read_settings();

}  // namespace gort::detail
