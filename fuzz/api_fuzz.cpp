// libFuzzer target `api`: the fuzz input is decoded into a model-checker
// program (tests/model/program.hpp: fibers of channel, select, mutex,
// semaphore and wait_group operations), run on gort at 1 worker under a
// GORT_SCHED_SEED taken from the input (reproducible) and at 2 workers, and
// each trace checked against the model (tests/model/model.hpp). A trace the
// model cannot explain aborts with the program, the trace and the reason;
// crashes, sanitizer reports, leaks and hangs are libFuzzer's to catch.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "executor.hpp"
#include "model.hpp"

namespace {

// FNV-1a of the input: the schedule seed of its 1-worker run.
std::uint64_t seed_of(std::span<const std::uint8_t> in) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::uint8_t b : in) h = (h ^ b) * 0x100000001b3ull;
  return h >> 1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gort_model;
  const std::span<const std::uint8_t> in(data, size);
  const program p = decode(in);
  for (const run_config& c : {run_config{1, seed_of(in)}, run_config{2, std::nullopt}}) {
    const trace t = execute(p, c);
    const verdict v = check(p, t);
    if (!v.ok && !v.inconclusive) {
      std::fprintf(stderr, "api_fuzz: trace not explained (%s):\n%s%s  why: %s\n", to_string(c).c_str(),
                   to_string(p).c_str(), to_string(p, t).c_str(), v.why.c_str());
      std::abort();
    }
  }
  return 0;
}
