// Runs a model-checker program on gort (public API only) and records what
// happened: each operation's outcome, its logical start and end times, the
// mutexes' acquisition numbers, a deadlock, and the objects' final state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "program.hpp"

namespace gort_model {

struct run_config {
  unsigned workers = 1;
  std::optional<std::uint64_t> sched_seed;  // GORT_SCHED_SEED for the run
};

std::string to_string(const run_config& c);

// Any thread outside gort::run. Runs `p` in a fresh gort::run with `c` and
// deadlock_policy::raise. Never throws for what the program does: a
// deadlock, an exception or a harness check that failed are in the trace.
// A run that never returns is the caller's to catch (a watchdog).
trace execute(const program& p, const run_config& c);

}  // namespace gort_model
