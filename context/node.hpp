// The nodes behind gort::context (Go's valueCtx, cancelCtx, timerCtx), and
// the cancellation they share with errgroup and signal delivery.
//
// Invariants:
//   - refs counts the handles (context, cancel_func), the children (each
//     holds its parent), and whoever borrowed the node for a while (a
//     cancellation walking children, a deadline's fiber, a signal). The
//     release that brings it to zero destroys the node, then releases its
//     parent.
//   - canceller is the nearest node at or above this one that can be
//     cancelled (itself for a cancel_node); null: the node is never done. It
//     is not counted: the parent chain keeps it alive.
//   - A cancel_node's err, done and children change together under mu. err
//     goes from 0 to a context_errc once; from then on children is empty and
//     done holds k_done_closed. Readers load err without mu (acquire).
//   - done is null until someone asks for the channel, then the node's own
//     channel (one reference owned by the node), then k_done_closed: the
//     cancellation takes the channel out (exchange), closes it and drops the
//     node's reference. A done() that installs a channel with a CAS on null
//     is therefore always seen by the cancellation, which closes it.
//   - A child is linked into registered_with->children, and its
//     prev/next/linked fields are guarded by registered_with->mu. Whoever
//     unlinks it under that lock (the child's cancellation or destruction,
//     or the parent's cancellation) clears `linked`; the others then leave
//     the fields alone. A parent's cancellation takes each child it unlinks
//     with try_retain: a child whose count already reached zero is being
//     destroyed (its destructor waits for registered_with->mu) and is
//     skipped, the rest are cancelled after mu is released and then
//     released. So nothing is woken and no user code runs under a lock.
//   - A timer_node's timer callback (a worker's scheduler stack) only
//     borrows the node and starts a fiber that cancels it: cancelling runs
//     arbitrary code (stop callbacks) and may drop the last reference,
//     neither of which a timer callback may do. The destructor stops the
//     timer, which waits for a callback in flight.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stop_token>

#include "gort/context.hpp"
#include "gort/detail/spinlock.hpp"
#include "runtime/timer.hpp"

namespace gort::detail {

struct chan_core;

enum class ctx_kind : std::uint8_t { value, cancel, timer, stop };

struct ctx_node {
  explicit ctx_node(ctx_kind k) noexcept : kind(k) {}
  std::atomic<std::size_t> refs{1};
  const ctx_kind kind;
  ctx_node* parent = nullptr;        // counted; null: the background context
  cancel_node* canceller = nullptr;  // see the invariants
};

struct value_node final : ctx_node {
  value_node() noexcept : ctx_node(ctx_kind::value) {}
  const void* key = nullptr;
  void* value = nullptr;
  void (*destroy)(void*) noexcept = nullptr;
};

// The done() channel once cancelled (never dereferenced: done() hands out
// a shared, already closed channel instead).
inline chan_core* const k_done_closed = reinterpret_cast<chan_core*>(std::uintptr_t(1));

struct cancel_node : ctx_node {
  explicit cancel_node(ctx_kind k = ctx_kind::cancel) noexcept : ctx_node(k) { canceller = this; }

  spinlock mu;
  std::atomic<std::uint8_t> err{0};        // 0 or a context_errc; written once, under mu
  std::atomic<chan_core*> done{nullptr};   // see the invariants
  std::int64_t deadline_ns = -1;           // immutable: the earliest deadline at or above, < 0: none
  cancel_node* registered_with = nullptr;  // immutable: the ancestor holding us in its children
  // Guarded by registered_with->mu (a lock the analysis cannot tie to them).
  cancel_node* prev = nullptr;
  cancel_node* next = nullptr;  // (after an unlink by a parent's cancel: the walk's list)
  bool linked = false;
  cancel_node* children GORT_GUARDED_BY(mu) = nullptr;
  std::size_t child_count GORT_GUARDED_BY(mu) = 0;
  std::stop_source stop GORT_GUARDED_BY(mu){std::nostopstate};  // made by the first stop_token()
  // Run by this node's cancel_func after cancelling (signal::notify_context
  // unregisters its signals). Immutable once the node is shared.
  void (*on_cancel_func)(cancel_node*) = nullptr;
};

struct timer_node final : cancel_node {
  timer_node() noexcept : cancel_node(ctx_kind::timer) {}
  struct deadline_timer : timer {
    timer_node* owner = nullptr;
  } t;
};

struct stop_node final : cancel_node {
  stop_node() noexcept : cancel_node(ctx_kind::stop) {}
  struct on_stop {
    stop_node* n;
    void operator()() const noexcept;
  };
  std::optional<std::stop_callback<on_stop>> cb;  // set once, before the node is shared
};

// Any thread: a new reference if the node is not being destroyed.
bool ctx_try_retain(ctx_node* n) noexcept;

// Any thread (not a timer callback), holding a reference to `n`: cancels it
// with `why` unless it is done already, then its descendants; unlinks it
// from its parent when `detach` (a cancel_func, a deadline; not a parent's
// cancellation, which unlinked it already).
void ctx_cancel(cancel_node* n, context_errc why, bool detach) noexcept;

// Tests: the children linked to `c`'s canceller now.
std::size_t ctx_child_count(const context& c) noexcept;

}  // namespace gort::detail
