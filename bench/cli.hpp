// The command line of gort-bench and of its C++ peers (bench/boostfiber,
// bench/asio); bench/go parses the same one:
//
//   <program> <workload> [--workers N] [--size N]
//
// --workers: the worker threads (1..1024, default 1). --size: the workload's
// size, default its benchmark size (scripts/bench.sh never passes it; the
// `bench` tests run small instances with it). What the size counts, per
// workload, in every program alike:
//
//   spawn     fibers spawned                   (1,000,000)
//   yield     yields per fiber                 (1,000,000)
//   skynet    leaves, a power of 10            (1,000,000)
//   pingpong  round trips                      (1,000,000)
//   sieve     primes                           (1,000)
//   mpmc      values per producer              (2,500,000)
//   mutex     increments per fiber             (100,000)
//   balance   tasks                            (100,000)
//   idle      milliseconds idle                (1,000)
//
// Header-only and independent of gort, so that the peers share it. Called by
// each program's main() once, before any workload runs.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace gort_bench {

struct cli_args {
  std::string workload;
  unsigned workers = 1;
  std::uint64_t size = 0;  // 0: the workload's default
};

// The --size given on the command line, else `dflt`. Read by the workloads
// (after parse_cli has returned).
inline std::uint64_t g_requested_size = 0;
inline std::uint64_t size_or(std::uint64_t dflt) { return g_requested_size ? g_requested_size : dflt; }

namespace detail {

inline int cli_usage(const char* prog, const std::vector<std::string>& workloads) {
  std::fprintf(stderr, "usage: %s <workload> [--workers N] [--size N]\nworkloads:", prog);
  for (auto& name : workloads) std::fprintf(stderr, " %s", name.c_str());
  std::fprintf(stderr, "\n");
  return 2;
}

// A whole decimal number in [lo, hi], else false.
inline bool parse_number(const char* s, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
  if (*s < '0' || *s > '9') return false;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (*end != '\0' || v < lo || v > hi) return false;
  out = v;
  return true;
}

inline bool is_power_of_10(std::uint64_t v) {
  while (v >= 10 && v % 10 == 0) v /= 10;
  return v == 1;
}

}  // namespace detail

// Parses argv into `out` (and g_requested_size). Returns 0, or the exit status
// after printing what is wrong, quoting the bad value, and the usage.
// `workloads`: the names the program implements (sorted, for the usage line
// that scripts/bench.py reads).
inline int parse_cli(const char* prog, int argc, char** argv, const std::vector<std::string>& workloads,
                     cli_args& out) {
  if (argc < 2) return detail::cli_usage(prog, workloads);
  out.workload = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    std::uint64_t v = 0;
    if (a == "--workers" && i + 1 < argc) {
      if (!detail::parse_number(argv[++i], 1, 1024, v)) {
        std::fprintf(stderr, "%s: --workers \"%s\" is not a number from 1 to 1024\n", prog, argv[i]);
        return 2;
      }
      out.workers = unsigned(v);
    } else if (a == "--size" && i + 1 < argc) {
      if (!detail::parse_number(argv[++i], 1, 1'000'000'000, v)) {
        std::fprintf(stderr, "%s: --size \"%s\" is not a number from 1 to 1000000000\n", prog, argv[i]);
        return 2;
      }
      out.size = v;
    } else {
      std::fprintf(stderr, "%s: unknown argument \"%s\"\n", prog, a.c_str());
      return detail::cli_usage(prog, workloads);
    }
  }
  bool known = false;
  for (auto& name : workloads) known = known || name == out.workload;
  if (!known) {
    std::fprintf(stderr, "%s: unknown workload \"%s\"\n", prog, out.workload.c_str());
    return detail::cli_usage(prog, workloads);
  }
  if (out.workload == "skynet" && out.size != 0 && !detail::is_power_of_10(out.size)) {
    std::fprintf(stderr, "%s: --size \"%llu\" for skynet is not a power of 10\n", prog,
                 static_cast<unsigned long long>(out.size));
    return 2;
  }
  g_requested_size = out.size;
  return 0;
}

}  // namespace gort_bench
