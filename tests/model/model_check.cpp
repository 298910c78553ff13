// model_check: runs seeded random programs on gort at several worker counts
// and under GORT_SCHED_SEED, and checks every trace against the model
// (model.hpp has the design). A failure prints the seed, the configuration,
// a minimised program and one failing trace of it.
//
//   model_check [--seed S] [--programs N] [--seconds T] [--configs LIST] [--timeout S]
//       S: the first program's seed (default $GORT_TEST_SEED, else random);
//       program i has seed S+i. Stops after N programs or T seconds,
//       whichever comes first. LIST: comma-separated run configurations,
//       default 1,2,4,s1 (N = N workers; sN = N workers under
//       GORT_SCHED_SEED, derived from the program's seed). A run that has
//       not returned after --timeout seconds (default 20) is a hang.
//   model_check --show S [--configs LIST]
//       program S, then each configuration's trace and verdict.
//   model_check --corpus DIR N
//       writes programs 1..N as fuzz inputs (fuzz/api_fuzz.cpp decodes them).
//
// The programs run in a child process, so that a hang (the watchdog is
// alarm(): SIGALRM ends the child), a crash or a fatal error of gort is
// caught like a rejected trace, and the parent shrinks the program in
// further children. Exit status: 0 all traces explained; 1 a failure; 2 a
// usage error.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "executor.hpp"
#include "model.hpp"

namespace {

using namespace gort_model;
using clock_type = std::chrono::steady_clock;

struct options {
  std::uint64_t seed = 0;
  std::uint64_t programs = 2000;
  double seconds = 50;
  unsigned timeout = 20;
  double shrink_seconds = 180;
  std::vector<std::string> configs = {"1", "2", "4", "s1"};
};

// Shared with the batch children: what they were doing (for the parent to
// read after one died) and what they counted.
struct progress {
  std::atomic<std::uint64_t> index{0};     // program in flight
  std::atomic<int> config{0};              // configuration in flight
  std::atomic<std::uint64_t> finished{0};  // programs checked, over all children
  std::atomic<std::uint64_t> runs{0}, deadlocks{0}, inconclusive{0}, states{0}, max_states{0};
};

[[noreturn]] void usage(const std::string& msg) {
  std::fprintf(stderr,
               "model_check: %s\nusage: model_check [--seed S] [--programs N] [--seconds T] "
               "[--configs 1,2,4,s1] [--timeout S]\n       model_check --show S [--configs ...]\n"
               "       model_check --corpus DIR N\n",
               msg.c_str());
  std::exit(2);
}

std::uint64_t parse_number(const std::string& flag, const std::string& v) {
  std::size_t used = 0;
  std::uint64_t n = 0;
  try {
    n = std::stoull(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || v[0] == '-') usage("bad value for " + flag + ": '" + v + "'");
  return n;
}

// "4" -> 4 workers; "s1" -> 1 worker under GORT_SCHED_SEED.
run_config config_of(const std::string& name, std::uint64_t program_seed, std::uint64_t attempt) {
  run_config c;
  const bool seeded = !name.empty() && name[0] == 's';
  c.workers = unsigned(parse_number("--configs", seeded ? name.substr(1) : name));
  if (c.workers == 0 || c.workers > 64) usage("bad configuration '" + name + "' (workers 1..64)");
  if (seeded) c.sched_seed = program_seed * 1000003 + attempt;
  return c;
}

// Runs p under config `name` with the watchdog armed; true if the trace was
// explained (or the search inconclusive, which `inconclusive` counts).
bool run_and_check(const program& p, const run_config& c, unsigned timeout, bool verbose,
                   verdict* out = nullptr) {
  alarm(timeout);
  trace t = execute(p, c);
  alarm(0);
  verdict v = check(p, t);
  if (out) *out = v;
  if (v.ok || v.inconclusive) return true;
  if (verbose)
    std::fprintf(stderr, "model: trace not explained (%s):\n%s%s  why: %s\n", to_string(c).c_str(),
                 to_string(p).c_str(), to_string(p, t).c_str(), v.why.c_str());
  return false;
}

// Programs a batch child checks before a fresh child takes over: keeps what
// a run leaves behind in the process (memory, mappings) bounded.
constexpr std::uint64_t k_batch_programs = 500;

// A batch child: programs o.seed+from, ... until `count` are done or
// `deadline`. Exits 0, or 1 at the first rejected trace (after printing it).
[[noreturn]] void batch(const options& o, progress* pr, std::uint64_t from, std::uint64_t count,
                        clock_type::time_point deadline) {
  for (std::uint64_t i = from; i < from + count && clock_type::now() < deadline; ++i) {
    const std::uint64_t seed = o.seed + i;
    const program p = generate(seed);
    pr->index.store(i);
    for (std::size_t ci = 0; ci < o.configs.size(); ++ci) {
      pr->config.store(int(ci));
      const run_config c = config_of(o.configs[ci], seed, 0);
      alarm(o.timeout);
      trace t = execute(p, c);
      alarm(0);
      const verdict v = check(p, t);
      ++pr->runs;
      pr->deadlocks += t.deadlock;
      pr->states += v.states;
      if (v.states > pr->max_states) pr->max_states = v.states;
      if (v.inconclusive) {
        ++pr->inconclusive;
        std::fprintf(stderr, "model: note: program seed %" PRIu64 " (%s): search inconclusive (%s)\n", seed,
                     o.configs[ci].c_str(), v.why.c_str());
      } else if (!v.ok) {
        std::fprintf(stderr, "model: trace not explained (%s):\n%s%s  why: %s\n", to_string(c).c_str(),
                     to_string(p).c_str(), to_string(p, t).c_str(), v.why.c_str());
        std::fflush(stderr);
        _exit(1);
      }
    }
    ++pr->finished;
  }
  std::fflush(nullptr);
  _exit(0);
}

// How a child ended: 0 clean; 1 a rejected trace; 2 a hang; 3 a crash or a
// fatal error.
int outcome_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == 1 ? 1 : 3;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) return 2;
  return 3;
}

const char* outcome_name(int k) {
  static const char* names[] = {"passed", "trace not explained by the model", "hang (watchdog)",
                                "crash or fatal error"};
  return names[k];
}

// Runs `body` in a child; returns its outcome_of. stdout/stderr are kept
// only when `loud`.
template <class F>
int in_child(bool loud, F body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    if (!loud) {
      std::freopen("/dev/null", "w", stdout);
      std::freopen("/dev/null", "w", stderr);
    }
    body();
    std::fflush(nullptr);
    _exit(0);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return outcome_of(status);
}

// Tries p several times under every configuration, the failing one first,
// varying the schedule seeds; the child exits 1 (or hangs, or crashes) at
// the first failure.
int reproduce(const program& p, const options& o, std::size_t first_config, std::uint64_t seed, bool loud) {
  return in_child(loud, [&] {
    for (std::uint64_t a = 0; a < 16; ++a) {
      for (std::size_t k = 0; k < o.configs.size(); ++k) {
        const std::size_t ci = (first_config + k) % o.configs.size();
        if (!run_and_check(p, config_of(o.configs[ci], seed, a), o.timeout, loud)) {
          std::fflush(nullptr);
          _exit(1);
        }
      }
    }
  });
}

int report_failure(const options& o, std::uint64_t index, int config, int kind) {
  const std::uint64_t seed = o.seed + index;
  std::fprintf(stderr,
               "\nmodel: FAILED: %s on program seed %" PRIu64 " at %s\n  replay: model_check --show %" PRIu64
               "\n",
               outcome_name(kind), seed, o.configs[std::size_t(config)].c_str(), seed);
  program p = generate(seed);
  const int again = reproduce(p, o, std::size_t(config), seed, false);
  if (again != kind) {
    std::fprintf(stderr, "model: it did not happen again in 64 more runs (%s); the program:\n%s",
                 outcome_name(again), to_string(p).c_str());
    return 1;
  }
  const auto until = clock_type::now() + std::chrono::duration<double>(o.shrink_seconds);
  std::size_t tries = 0;
  p = shrink(p, [&](const program& q) {
    if (clock_type::now() > until) return false;
    ++tries;
    return reproduce(q, o, std::size_t(config), seed, false) == kind;
  });
  std::fprintf(stderr, "model: minimised (%zu candidates tried) to %zu operations:\n%s", tries, p.op_count(),
               to_string(p).c_str());
  std::fprintf(stderr, "model: a failing run of the minimised program:\n");
  const int last = reproduce(p, o, std::size_t(config), seed, true);
  if (last != 1) std::fprintf(stderr, "model: (%s: no trace to show)\n", outcome_name(last));
  return 1;
}

int show(const options& o, std::uint64_t seed) {
  const program p = generate(seed);
  std::printf("program seed %" PRIu64 ":\n%s", seed, to_string(p).c_str());
  int failures = 0;
  for (const std::string& name : o.configs) {
    const run_config c = config_of(name, seed, 0);
    alarm(o.timeout);
    trace t = execute(p, c);
    alarm(0);
    verdict v = check(p, t);
    std::printf("-- %s: %s (%zu model states)\n%s", to_string(c).c_str(),
                v.ok             ? "explained"
                : v.inconclusive ? "inconclusive"
                                 : "NOT EXPLAINED",
                v.states, to_string(p, t).c_str());
    if (!v.ok && !v.inconclusive) {
      std::printf("  why: %s\n", v.why.c_str());
      ++failures;
    }
  }
  return failures ? 1 : 0;
}

int write_corpus(const std::string& dir, std::uint64_t n) {
  for (std::uint64_t i = 1; i <= n; ++i) {
    const std::vector<std::uint8_t> bytes = encode(generate(i));
    const std::string path = dir + "/program-" + std::to_string(i);
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "model_check: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  o.seed = std::random_device{}();
  if (const char* s = std::getenv("GORT_TEST_SEED")) o.seed = parse_number("GORT_TEST_SEED", s);
  std::string show_seed, corpus_dir, corpus_n;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage("missing value for '" + flag + "'");
    const std::string v = argv[++i];
    if (flag == "--seed")
      o.seed = parse_number(flag, v);
    else if (flag == "--programs")
      o.programs = parse_number(flag, v);
    else if (flag == "--seconds")
      o.seconds = double(parse_number(flag, v));
    else if (flag == "--timeout")
      o.timeout = unsigned(parse_number(flag, v));
    else if (flag == "--shrink-seconds")
      o.shrink_seconds = double(parse_number(flag, v));
    else if (flag == "--show")
      show_seed = v;
    else if (flag == "--corpus" && i + 1 < argc)
      corpus_dir = v, corpus_n = argv[++i];
    else if (flag == "--configs") {
      o.configs.clear();
      for (std::size_t at = 0; at <= v.size();) {
        std::size_t comma = v.find(',', at);
        if (comma == std::string::npos) comma = v.size();
        o.configs.push_back(v.substr(at, comma - at));
        (void)config_of(o.configs.back(), 0, 0);  // rejects a bad one now
        at = comma + 1;
      }
    } else
      usage("unknown flag '" + flag + "'");
  }
  if (o.timeout == 0) usage("bad value for --timeout: '0'");
  if (!corpus_dir.empty()) return write_corpus(corpus_dir, parse_number("--corpus", corpus_n));
  if (!show_seed.empty()) return show(o, parse_number("--show", show_seed));

  std::printf("model: seed %" PRIu64 " (rerun with GORT_TEST_SEED=%" PRIu64 "), up to %" PRIu64
              " programs in %.0f s, configurations",
              o.seed, o.seed, o.programs, o.seconds);
  for (const std::string& c : o.configs) std::printf(" %s", c.c_str());
  std::printf("\n");
  auto* pr = static_cast<progress*>(
      mmap(nullptr, sizeof(progress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (pr == MAP_FAILED) {
    std::perror("model_check: mmap");
    return 1;
  }
  new (pr) progress();
  const auto start = clock_type::now();
  const auto deadline =
      start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
  while (pr->finished < o.programs && clock_type::now() < deadline) {
    const std::uint64_t from = pr->finished;
    const std::uint64_t count = std::min(k_batch_programs, o.programs - from);
    const int kind = in_child(true, [&] { batch(o, pr, from, count, deadline); });
    if (kind != 0) return report_failure(o, pr->index.load(), pr->config.load(), kind);
  }
  const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  const std::uint64_t n = pr->finished, runs = pr->runs, dl = pr->deadlocks;
  std::printf("model: %" PRIu64 " programs (seeds %" PRIu64 "..%" PRIu64 "), %" PRIu64
              " runs in %.1f s: %" PRIu64 " completed, %" PRIu64 " deadlocked; %" PRIu64
              " model states (at most %" PRIu64 " for one run), %" PRIu64 " searches inconclusive\n",
              n, o.seed, o.seed + n - (n > 0), runs, secs, runs - dl, dl, pr->states.load(),
              pr->max_states.load(), pr->inconclusive.load());
  std::printf("%" PRIu64 " passed, 0 failed\n", runs);
  return 0;
}
