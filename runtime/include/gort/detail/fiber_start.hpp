// How go() and spawn() hand a callable to a new fiber without exposing the
// runtime's internals: the callable is decay-copied (as std::thread does) into
// storage the new fiber owns, behind a two-function interface.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "gort/detail/race.hpp"
#include "gort/detail/spinlock.hpp"
#include "gort/detail/waiter.hpp"
#include "gort/location.hpp"

namespace gort::detail {

struct fiber;

// Thrown out of blocking calls while the runtime unwinds leftover fibers at
// exit. Not derived from std::exception; code that catches (...) must rethrow.
struct fiber_unwind {};

// The type-erased callable a fiber runs.
struct fiber_fn {
  void (*invoke)(fiber_fn*);            // runs it (may throw)
  void (*destroy)(fiber_fn*) noexcept;  // destroys it (after invoke, or never started)
};

// Any thread while run() is active (throws std::logic_error otherwise).
// Creates a fiber with `size` bytes of `align`-aligned storage for its
// callable, returned in *storage; `where` is the go/spawn call site.
fiber* fiber_create(std::size_t size, std::size_t align, void** storage, const location& where);
// The creator only, before fiber_start: gives the fiber back (its callable's
// constructor threw).
void fiber_discard(fiber* f) noexcept;
// The creator only: makes the fiber runnable; it runs `fn`, which lives in the
// storage fiber_create returned.
void fiber_start(fiber* f, fiber_fn* fn) noexcept;

template <class F, class... A>
struct closure final : fiber_fn {
  template <class FF, class... AA>
  explicit closure(FF&& ff, AA&&... aa)
      : fiber_fn{&run, &drop}, f(std::forward<FF>(ff)), args(std::forward<AA>(aa)...) {}
  static void run(fiber_fn* p) {
    auto* c = static_cast<closure*>(p);
    std::apply([c](A&... a) { std::invoke(std::move(c->f), std::move(a)...); }, c->args);
  }
  static void drop(fiber_fn* p) noexcept { static_cast<closure*>(p)->~closure(); }

  F f;
  std::tuple<A...> args;
};

// Builds closure C in a new fiber's storage and starts the fiber.
template <class C, class... X>
void launch(const location& where, X&&... x) {
  void* mem = nullptr;
  fiber* fb = fiber_create(sizeof(C), alignof(C), &mem, where);
  C* c;
  try {
    c = ::new (mem) C(std::forward<X>(x)...);
  } catch (...) {
    fiber_discard(fb);
    throw;
  }
  fiber_start(fb, c);
}

// The state a spawn()ed fiber shares with its task handle.
//
// Invariants: refs_ counts the handle and the fiber (2 at start); `done_` and
// `joiners_` are guarded by lock_; the result/error are written by the fiber
// before done_ is set and read by the joiner after it saw done_.
class task_state_base {
 public:
  virtual ~task_state_base() = default;
  // The handle or the fiber, once each.
  void release() noexcept {
    // acq_rel: the last releaser sees every write of the other side (stated
    // to TSan too: this copy of release() may be one it does not instrument).
    race_release(&refs_);
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      race_acquire(&refs_);
      delete this;
    }
  }
  // The fiber only, after storing its result or error: wakes the joiner.
  void complete() noexcept;
  // The handle's owner: parks until complete() (reason "task join");
  // rethrows the fiber's exception.
  void wait(const location& where);
  // Parks until complete(), with the wait reason given as its enum value.
  void wait_done(int reason, const location& where);

  std::exception_ptr error_;

 private:
  std::atomic<int> refs_{2};
  spinlock lock_;
  bool done_ GORT_GUARDED_BY(lock_) = false;
  wait_list joiners_ GORT_GUARDED_BY(lock_);  // the handle's owner, while it waits
};

template <class R>
class task_state final : public task_state_base {
 public:
  using stored =
      std::conditional_t<std::is_reference_v<R>, std::reference_wrapper<std::remove_reference_t<R>>, R>;
  std::optional<stored> value_;
};
template <>
class task_state<void> final : public task_state_base {};

// The closure of a spawn()ed fiber: runs the callable, stores its result or
// exception in the shared state, then releases the fiber's reference.
template <class R, class F, class... A>
struct task_closure final : fiber_fn {
  template <class FF, class... AA>
  explicit task_closure(task_state<R>* s, FF&& ff, AA&&... aa)
      : fiber_fn{&run, &drop}, state(s), f(std::forward<FF>(ff)), args(std::forward<AA>(aa)...) {}
  static void run(fiber_fn* p) {
    auto* c = static_cast<task_closure*>(p);
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply([c](A&... a) { std::invoke(std::move(c->f), std::move(a)...); }, c->args);
      } else {
        c->state->value_.emplace(
            std::apply([c](A&... a) -> R { return std::invoke(std::move(c->f), std::move(a)...); }, c->args));
      }
    } catch (const fiber_unwind&) {
      throw;
    } catch (...) {
      c->state->error_ = std::current_exception();
    }
    c->state->complete();
  }
  static void drop(fiber_fn* p) noexcept {
    auto* c = static_cast<task_closure*>(p);
    task_state<R>* s = c->state;
    c->~task_closure();
    s->release();
  }

  task_state<R>* state;
  F f;
  std::tuple<A...> args;
};

}  // namespace gort::detail
