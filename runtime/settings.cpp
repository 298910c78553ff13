// The table of GORT_* variables; see settings.hpp.
#include "runtime/settings.hpp"

#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace gort::detail {

namespace {

constexpr unsigned k_max_workers = 1024;

// The whole of `s` as a number of type T; nullopt otherwise.
template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool parse_maxprocs(std::string_view s, settings& out) {
  auto n = number<unsigned>(s);
  if (!n || *n == 0 || *n > k_max_workers) return false;
  out.maxprocs = *n;
  return true;
}

bool parse_schedtrace(std::string_view s, settings& out) {
  auto ms = number<long>(s);
  if (!ms || *ms <= 0) return false;
  out.schedtrace_ms = *ms;
  return true;
}

bool parse_trace(std::string_view s, settings& out) {
  out.trace_path = std::string(s);
  return true;
}

bool parse_deadlock(std::string_view s, settings& out) {
  if (s == "global") {
    out.deadlock = deadlock_mode::global;
  } else if (s == "partial") {
    out.deadlock = deadlock_mode::partial;
  } else {
    return false;
  }
  return true;
}

bool parse_leakcheck(std::string_view s, settings& out) {
  if (s != "0" && s != "1") return false;
  out.leakcheck = s == "1";
  return true;
}

bool parse_sched_seed(std::string_view s, settings& out) {
  auto v = number<std::uint64_t>(s);
  if (!v) return false;
  out.sched_seed = *v;
  return true;
}

bool parse_maxthreads(std::string_view s, settings& out) {
  auto n = number<unsigned>(s);
  if (!n || *n == 0) return false;
  out.maxthreads = *n;
  return true;
}

bool parse_stallreport(std::string_view s, settings& out) {
  auto ms = number<long>(s);
  if (!ms || *ms <= 0) return false;
  out.stallreport_ms = *ms;
  return true;
}

bool parse_traceback(std::string_view s, settings& out) {
  if (s != "all" && s != "system") return false;
  out.traceback_system = s == "system";
  return true;
}

constexpr setting k_table[] = {
    {"GORT_MAXPROCS", "a positive number up to 1024", "the number of CPUs",
     "worker threads when config::workers is 0 (Go's GOMAXPROCS)", &parse_maxprocs},
    {"GORT_SCHEDTRACE", "a positive number of milliseconds", "off",
     "print one SCHED line of scheduler state to stderr every MS milliseconds (Go's schedtrace)",
     &parse_schedtrace},
    {"GORT_TRACE", "a file name", "off",
     "write a Chrome trace (chrome://tracing, Perfetto) of the run's last events to this file at exit, "
     "also on a deadlock, panic, fatal error or SIGQUIT",
     &parse_trace},
    {"GORT_DEADLOCK", "global or partial", "global",
     "partial: also report cycles of fibers waiting for each other's mutexes while others run",
     &parse_deadlock},
    {"GORT_LEAKCHECK", "0 or 1", "0", "1: list the fibers still blocked when run() returns",
     &parse_leakcheck},
    {"GORT_SCHED_SEED", "a number", "off",
     "yield at random synchronisation points from this seed (1 worker: a reproducible interleaving)",
     &parse_sched_seed},
    {"GORT_MAXTHREADS", "a positive number", "10000",
     "OS threads that may run fibers or blocking calls when config::max_threads is 0 (Go's SetMaxThreads)",
     &parse_maxthreads},
    {"GORT_STALLREPORT", "a positive number of milliseconds", "off",
     "report each fiber that holds its thread longer than MS milliseconds (when config::stall_report is 0)",
     &parse_stallreport},
    {"GORT_TRACEBACK", "all or system", "all",
     "system: call stacks in reports also show gort's own and the C++ library's frames (Go's GOTRACEBACK)",
     &parse_traceback},
};

}  // namespace

std::span<const setting> all_settings() noexcept { return k_table; }

settings read_settings() {
  settings out;
  for (const setting& s : k_table) {
    const char* env = std::getenv(std::string(s.name).c_str());
    if (!env || !*env) continue;
    if (!s.parse(env, out))
      throw std::invalid_argument("gort::run: " + std::string(s.name) + "=\"" + env + "\" is not " +
                                  std::string(s.accepts));
  }
  return out;
}

}  // namespace gort::detail
