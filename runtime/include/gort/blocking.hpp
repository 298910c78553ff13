// gort::blocking: run a blocking call on a helper thread while the calling
// fiber parks. Reference: docs/api.md, "Network and blocking calls".
//
// When to use it: for anything that blocks its OS thread and is not a gort
// socket, channel, sync primitive or sleep. A fiber that calls such a function
// directly stalls its worker and every fiber queued behind it (brpc #705,
// tokio #4730). Typical cases:
//   - file I/O: open/read/write/fsync on regular files, std::fstream, stat;
//   - name resolution: getaddrinfo, gethostbyname (gort::net uses blocking()
//     itself for host names);
//   - any blocking library call: a database client, a compression of a large
//     buffer, waitpid, a C library that does its own I/O.
// Do not use it for CPU work that is short (it costs a thread hand-off, a few
// microseconds) or for gort sockets (they already park only the fiber).
//
//   std::string text = gort::blocking([&] { return read_whole_file(path); });
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "gort/location.hpp"

namespace gort {

namespace detail {
// A type-erased blocking call; lives on the caller's stack until it finished.
struct blocking_job {
  void (*invoke)(blocking_job*) noexcept;  // runs the call, keeps its result or exception
};
// Any thread. From a fiber: hands `job` to the helper pool and parks ("blocking
// call") until it ran. From a plain thread (or while the runtime unwinds at
// exit): runs it inline. Returns once job.invoke has returned.
void run_blocking(blocking_job& job, const location& where);

template <class F>
struct blocking_closure final : blocking_job {
  using result = std::invoke_result_t<F>;
  // What holds the result: nothing for void, a pointer for references.
  using slot =
      std::conditional_t<std::is_void_v<result>, bool,
                         std::conditional_t<std::is_reference_v<result>, std::remove_reference_t<result>*,
                                            std::optional<result>>>;

  explicit blocking_closure(F&& fn) : blocking_job{&run}, f(std::forward<F>(fn)) {}
  static void run(blocking_job* p) noexcept {
    auto* c = static_cast<blocking_closure*>(p);
    try {
      if constexpr (std::is_void_v<result>) {
        std::invoke(std::forward<F>(c->f));
      } else if constexpr (std::is_reference_v<result>) {
        c->value = &std::invoke(std::forward<F>(c->f));
      } else {
        c->value.emplace(std::invoke(std::forward<F>(c->f)));
      }
    } catch (...) {
      c->error = std::current_exception();
    }
  }
  result take() {
    if (error) std::rethrow_exception(error);
    if constexpr (std::is_reference_v<result>) {
      return static_cast<result>(*value);
    } else if constexpr (!std::is_void_v<result>) {
      return std::move(*value);
    }
  }

  F&& f;
  slot value{};
  std::exception_ptr error;
};
}  // namespace detail

// Runs std::invoke(f) on a helper thread and parks the calling fiber (wait
// reason "blocking call") until it returned; returns its result or rethrows
// its exception. Other fibers keep running on the worker meanwhile. `f` is
// invoked in place (not copied), so it may capture the caller's locals by
// reference. From a plain OS thread it just calls f inline.
//
// Helper threads: a process-wide pool of plain std::threads, started on
// demand up to 64; further calls queue until one is free. A helper idle for
// about 10 s exits; the pool outlives run() and is joined at process exit.
// While a call is in flight the deadlock check counts its fiber as alive.
// At exit, run() waits for the calls of fibers it unwinds to finish.
template <class F>
std::invoke_result_t<F> blocking(F&& f, location where = location::current()) {
  detail::blocking_closure<F> job(std::forward<F>(f));
  detail::run_blocking(job, where);
  return job.take();
}

}  // namespace gort
