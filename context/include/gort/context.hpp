// gort::context: cancellation, deadlines and request-scoped values for a tree
// of fibers (Go's context package), speaking C++20's std::stop_token too.
// Reference: docs/api.md, "Context, errgroup and signals".
//
//   auto [ctx, cancel] = gort::with_timeout(parent, 100ms);
//   gort::select(gort::recv_case(results, ...),
//                gort::recv_case(ctx.done(), [&](auto) { /* ctx.err() says why */ }));
//
// A context is a shared handle on an immutable node with a link to its
// parent; copies refer to the same context. Cancelling a node (its
// cancel_func, its deadline, its std::stop_token, or its parent) closes its
// done() channel once, records the first cause in err(), and cancels its
// children; a child never cancels its parent. The default context (and
// background()) is never done and allocates nothing.
//
// Any thread may use any context. with_timeout and with_deadline need run()
// active (their deadline is a runtime timer); the rest work anywhere.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "gort/chan.hpp"

namespace gort {

// Why a context is done (Go's context.Canceled and context.DeadlineExceeded).
enum class context_errc { canceled = 1, deadline_exceeded };

// The "context" error category: messages "context canceled" and "context
// deadline exceeded", as Go prints them.
const std::error_category& context_category() noexcept;
std::error_code make_error_code(context_errc e) noexcept;

}  // namespace gort

template <>
struct std::is_error_code_enum<gort::context_errc> : std::true_type {};

namespace gort {

class context;
class cancel_func;

namespace detail {

struct ctx_node;
struct cancel_node;

// Reference counting of nodes: any thread; null is the background context.
void ctx_retain(ctx_node* n) noexcept;
void ctx_release(ctx_node* n) noexcept;
// The value stored under `key` by the nearest with_value ancestor, or null.
const void* ctx_find_value(const ctx_node* n, const void* key) noexcept;
// A value node under `parent` owning `value` (freed with destroy(value)).
// On failure destroys the value and throws.
ctx_node* ctx_make_value(ctx_node* parent, const void* key, void* value, void (*destroy)(void*) noexcept);

// One key per type: the address of ctx_key<T>::id.
template <class T>
struct ctx_key {
  static constexpr char id = 0;
};

template <class T>
void ctx_delete(void* p) noexcept {
  delete static_cast<T*>(p);
}

struct ctx_access;

}  // namespace detail

// context.Context. Copyable, cheap (one reference count); thread-safe like
// std::shared_ptr (the node is shared, a handle is not).
class context {
 public:
  // The background context: never done, no deadline, no values; no
  // allocation.
  context() noexcept = default;
  context(const context& o) noexcept : n_(o.n_) { detail::ctx_retain(n_); }
  context(context&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  context& operator=(const context& o) noexcept {
    context copy(o);
    std::swap(n_, copy.n_);
    return *this;
  }
  context& operator=(context&& o) noexcept {
    context taken(std::move(o));
    std::swap(n_, taken.n_);
    return *this;
  }
  ~context() { detail::ctx_release(n_); }

  // Closed once the context is cancelled or past its deadline; usable in
  // select and range-for. The background context's is the nil channel (never
  // ready), as in Go. Allocates the channel the first time it is asked for.
  recv_chan<std::monostate> done() const;
  // {} while not done; then context_errc::canceled or ::deadline_exceeded,
  // the first cause, for good.
  std::error_code err() const noexcept;
  // The deadline (its own or an ancestor's, whichever is earlier), if any.
  std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept;
  // The value of the nearest with_value<T> ancestor, or nullptr. It lives as
  // long as any context below it.
  template <class T>
  const T* value() const noexcept {
    return static_cast<const T*>(detail::ctx_find_value(n_, &detail::ctx_key<T>::id));
  }
  // A token whose stop is requested once this context is done (stop_possible()
  // is false for a context that can never be done).
  std::stop_token stop_token() const;

  // The same context (the same node).
  friend bool operator==(const context& a, const context& b) noexcept { return a.n_ == b.n_; }

 private:
  friend struct detail::ctx_access;
  explicit context(detail::ctx_node* adopt) noexcept : n_(adopt) {}
  detail::ctx_node* n_ = nullptr;
};

// context.Background(): the root of every tree.
inline context background() noexcept { return context(); }

// context.CancelFunc: cancels its context (err() becomes canceled), its
// children, and detaches it from its parent. Copyable; calling it again, or
// on a context already done, does nothing. Any thread. A default-constructed
// one does nothing.
class cancel_func {
 public:
  cancel_func() noexcept = default;
  cancel_func(const cancel_func& o) noexcept;
  cancel_func(cancel_func&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  cancel_func& operator=(const cancel_func& o) noexcept;
  cancel_func& operator=(cancel_func&& o) noexcept;
  ~cancel_func();
  void operator()() const noexcept;

 private:
  friend struct detail::ctx_access;
  explicit cancel_func(detail::cancel_node* adopt) noexcept : n_(adopt) {}
  detail::cancel_node* n_ = nullptr;
};

// context.WithCancel: a child done when cancel is called or the parent is.
std::pair<context, cancel_func> with_cancel(const context& parent);
// context.WithDeadline: also done (deadline_exceeded) at `t`; never later
// than the parent's deadline. Needs run() active (std::logic_error). The
// deadline is a runtime timer, stopped when the context is cancelled first.
std::pair<context, cancel_func> with_deadline(const context& parent, std::chrono::steady_clock::time_point t);
// context.WithTimeout: with_deadline(parent, now + d).
std::pair<context, cancel_func> with_timeout(const context& parent, std::chrono::nanoseconds d);

// context.WithValue, keyed by type: value<T>() of the new context and of its
// descendants returns this value (unless a nearer with_value<T> shadows it).
template <class T>
context with_value(const context& parent, T value);

// A child done (canceled) once `st` is stopped, e.g. a gort::thread's or a
// std::jthread's stop token; at once if it already is. Any thread may stop
// `st`: the cancellation runs inside its request_stop().
context with_stop_token(const context& parent, std::stop_token st);

namespace detail {
struct ctx_access {
  static ctx_node* node(const context& c) noexcept { return c.n_; }
  static context adopt(ctx_node* n) noexcept { return context(n); }
  static cancel_func adopt_cancel(cancel_node* n) noexcept { return cancel_func(n); }
};
}  // namespace detail

template <class T>
context with_value(const context& parent, T value) {
  static_assert(std::is_object_v<T> && !std::is_const_v<T>,
                "gort::with_value<T>: T must be a non-const object type");
  void* p = new T(std::move(value));
  return detail::ctx_access::adopt(detail::ctx_make_value(
      detail::ctx_access::node(parent), &detail::ctx_key<T>::id, p, &detail::ctx_delete<T>));
}

}  // namespace gort
