// gort::errgroup (golang.org/x/sync/errgroup): a wait_group, a first-error
// slot and an optional limit.
//
// Invariants (errgroup_state):
//   - limit, active, gen, err are guarded by mu.
//   - active counts the functions running under the current limit
//     generation `gen`; set_limit(n) moves to a new generation, so slots of
//     an earlier limit (only possible after set_limit(-1), as in Go where
//     the old semaphore is simply dropped) are not given back to the new one.
//   - wg counts every function between errgroup_enter and errgroup_leave
//     (added by the caller of go(), before the fiber exists).
//   - err is set once, by the first failure; cancel() is called after it.
#include "gort/errgroup.hpp"

#include <mutex>
#include <stdexcept>
#include <string>

#include "gort/sync.hpp"

namespace gort::detail {

struct errgroup_state {
  context ctx;
  cancel_func cancel;  // does nothing for a group without a context
  gort::mutex mu;
  gort::condition_variable slot_freed;
  int limit = -1;          // guarded by mu; < 0: none
  std::size_t active = 0;  // guarded by mu
  std::uint64_t gen = 1;   // guarded by mu
  std::exception_ptr err;  // guarded by mu
  gort::wait_group wg;
};

bool errgroup_enter(errgroup_state& s, bool block, std::uint64_t* gen, const location& where) {
  std::unique_lock g(s.mu);
  auto free = [&s] { return s.limit < 0 || s.active < std::size_t(s.limit); };
  if (!free()) {
    if (!block) return false;
    while (!free()) s.slot_freed.wait(g, where);
  }
  if (s.limit >= 0) ++s.active;
  *gen = s.limit >= 0 ? s.gen : 0;  // 0: started without a limit, holds no slot
  s.wg.add(1);
  return true;
}

void errgroup_leave(errgroup_state& s, std::uint64_t gen) noexcept {
  {
    std::lock_guard g(s.mu);
    if (gen != 0 && gen == s.gen) {
      --s.active;
      s.slot_freed.notify_one();
    }
  }
  s.wg.done();  // last: wait() may return and the group go away
}

void errgroup_fail(errgroup_state& s, std::exception_ptr e) noexcept {
  {
    std::lock_guard g(s.mu);
    if (s.err) return;
    s.err = std::move(e);
  }
  s.cancel();
}

}  // namespace gort::detail

namespace gort {

errgroup::errgroup() : s_(std::make_shared<detail::errgroup_state>()) {}

errgroup::errgroup(const context& parent) : errgroup() {
  auto [ctx, cancel] = with_cancel(parent);
  s_->ctx = std::move(ctx);
  s_->cancel = std::move(cancel);
}

errgroup::errgroup(errgroup&&) noexcept = default;
errgroup& errgroup::operator=(errgroup&&) noexcept = default;
errgroup::~errgroup() = default;

context errgroup::ctx() const { return s_->ctx; }

void errgroup::set_limit(int n) {
  std::lock_guard g(s_->mu);
  if (n >= 0 && s_->active != 0)
    throw std::logic_error("errgroup: modify limit while " + std::to_string(s_->active) +
                           " goroutines in the group are still active");
  s_->limit = n < 0 ? -1 : n;
  s_->active = 0;
  ++s_->gen;
  s_->slot_freed.notify_all();  // fibers parked in go() re-check against the new limit
}

void errgroup::wait(location where) {
  s_->wg.wait(where);
  s_->cancel();
  std::exception_ptr e;
  {
    std::lock_guard g(s_->mu);
    e = s_->err;
  }
  if (e) std::rethrow_exception(e);
}

}  // namespace gort
