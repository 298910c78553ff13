// gort::errgroup: run functions in fibers, wait for all of them, keep the
// first failure and cancel the rest (golang.org/x/sync/errgroup.Group).
// Reference: docs/api.md, "Context, errgroup and signals".
//
//   gort::errgroup g(ctx);
//   g.set_limit(4);
//   for (auto& url : urls) g.go([&, url] { fetch(g.ctx(), url); });
//   g.wait();   // rethrows the first exception a function threw
//
// A Go function returns an error; here a function fails by throwing. The
// first exception is kept, cancels ctx() and is rethrown by wait() (by every
// call of it); later ones are dropped, as Go drops later errors.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "gort/context.hpp"
#include "gort/runtime.hpp"

namespace gort {

namespace detail {

struct errgroup_state;

// Any fiber or thread. Takes a slot for one more function: parks while the
// limit is reached when `block`, else returns false. Returns true with the
// limit generation the slot belongs to in *gen.
bool errgroup_enter(errgroup_state& s, bool block, std::uint64_t* gen, const location& where);
// The function's fiber, once per successful enter: gives the slot back.
void errgroup_leave(errgroup_state& s, std::uint64_t gen) noexcept;
// The function's fiber: it threw `e`; the first one is kept and cancels ctx().
void errgroup_fail(errgroup_state& s, std::exception_ptr e) noexcept;

// The body of a function's fiber: runs f, records a failure, gives the slot
// back. f is destroyed before the slot is: whatever it captured is gone by
// the time wait() returns.
template <class F>
void errgroup_run(const std::shared_ptr<errgroup_state>& s, std::uint64_t gen, F& f) {
  struct leave {
    errgroup_state& s;
    std::uint64_t gen;
    ~leave() { errgroup_leave(s, gen); }
  } guard{*s, gen};
  F local(std::move(f));
  try {
    std::invoke(local);
  } catch (const fiber_unwind&) {
    throw;  // the runtime unwinding this fiber at exit: not a failure
  } catch (...) {
    errgroup_fail(*s, std::current_exception());
  }
}

}  // namespace detail

class errgroup {
 public:
  // A group without a context (Go's zero Group): ctx() is background().
  errgroup();
  // errgroup.WithContext: ctx() is a child of `parent`, cancelled when a
  // function throws or wait() returns.
  explicit errgroup(const context& parent);
  errgroup(errgroup&&) noexcept;
  errgroup& operator=(errgroup&&) noexcept;
  // Does not wait: call wait(). Fibers still running keep the group's state
  // alive and finish on their own.
  ~errgroup();

  // The group's context.
  context ctx() const;

  // Runs f() in a new fiber. While the limit is reached, parks first until a
  // running function returns. Any fiber or thread while run() is active.
  template <class F>
  void go(F&& f, location where = location::current()) {
    std::uint64_t gen = 0;
    detail::errgroup_enter(*s_, true, &gen, where);
    start(std::forward<F>(f), gen, where);
  }
  // As go(), but returns false (and does not run f) when the limit is reached.
  template <class F>
  bool try_go(F&& f, location where = location::current()) {
    std::uint64_t gen = 0;
    if (!detail::errgroup_enter(*s_, false, &gen, where)) return false;
    start(std::forward<F>(f), gen, where);
    return true;
  }

  // At most n functions run at once from now on; negative: no limit (the
  // default). Throws std::logic_error while functions started under a limit
  // are still running (as Go's SetLimit panics), except when removing it.
  void set_limit(int n);

  // Parks until every function started so far (and any started meanwhile)
  // returned, cancels ctx(), then rethrows the first exception, if any.
  void wait(location where = location::current());

 private:
  template <class F>
  void start(F&& f, std::uint64_t gen, const location& where) {
    try {
      gort::go([s = s_, gen,
                fn = std::decay_t<F>(std::forward<F>(f))]() mutable { detail::errgroup_run(s, gen, fn); },
               where);
    } catch (...) {
      detail::errgroup_leave(*s_, gen);
      throw;
    }
  }

  std::shared_ptr<detail::errgroup_state> s_;
};

}  // namespace gort
