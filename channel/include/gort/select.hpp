// gort select: Go's select statement over any mix of send and receive cases.
// Reference: docs/api.md, "select and time".
//
//   switch (gort::select(gort::recv_case(in, [&](std::optional<int> v) { ... }),
//                        gort::send_case(out, 42),
//                        gort::recv_case(gort::after(1s), [](auto) { /* timeout */ }))) { ... }
//
// The case objects capture the caller's source location (for the wait
// record) and hold their own reference to their channel, so a case built
// before the call (even on the temporary that after() returns) stays valid
// until it is used.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "gort/chan.hpp"
#include "gort/detail/chan_core.hpp"
#include "gort/location.hpp"

namespace gort {

namespace detail {

struct no_op {
  template <class... A>
  void operator()(A&&...) const noexcept {}
};

template <class T, class F>
struct recv_case_t {
  chan_handle ch;
  F f;
  location where;
  std::optional<T> slot;  // filled by the core; nullopt if the channel was closed
  select_case_desc describe() noexcept { return {ch.get(), &slot, false}; }
  void fire() {
    if constexpr (std::is_invocable_v<F&, std::optional<T>>) {
      std::invoke(f, std::move(slot));
    } else if constexpr (std::is_invocable_v<F&>) {
      std::invoke(f);
    }  // else: recv_case() reported the callback
  }
};

template <class T, class F>
struct send_case_t {
  chan_handle ch;
  T value;  // moved from only if this case is chosen
  F f;
  location where;
  select_case_desc describe() noexcept { return {ch.get(), &value, true}; }
  void fire() {
    if constexpr (std::is_invocable_v<F&>) std::invoke(f);  // else: send_case() reported it
  }
};

template <class F>
struct default_case_t {
  F f;
  location where;
  void fire() {
    if constexpr (std::is_invocable_v<F&>) std::invoke(f);  // else: default_case() reported it
  }
};

template <class C>
inline constexpr bool is_default_case = false;
template <class F>
inline constexpr bool is_default_case<default_case_t<F>> = true;

template <class C>
inline constexpr bool is_select_case = is_default_case<C>;
template <class T, class F>
inline constexpr bool is_select_case<recv_case_t<T, F>> = true;
template <class T, class F>
inline constexpr bool is_select_case<send_case_t<T, F>> = true;

// Never defined: a recv_case callback of the wrong signature instantiates it,
// so that the compiler's first error line spells the expected argument type
// (a static_assert message cannot name T). The callback must be invocable
// with std::optional<T> (std::nullopt once the channel is closed and
// drained), or with no arguments.
template <class Expected>
struct recv_case_callback_must_be_invocable_with;

template <class T, class F>
recv_case_t<T, std::decay_t<F>> make_recv_case(const chan_handle& ch, F&& f, const location& where) {
  using fn = std::decay_t<F>;
  constexpr bool ok = std::is_invocable_v<fn&, std::optional<T>> || std::is_invocable_v<fn&>;
  if constexpr (!ok) (void)recv_case_callback_must_be_invocable_with<std::optional<T>>{};
  static_assert(
      ok,
      "gort::recv_case: the callback must be invocable with std::optional<T>, T the channel's element "
      "type (std::nullopt once the channel is closed), or with no arguments");
  return {ch, std::forward<F>(f), where, std::nullopt};
}

// Runs the function of case `i`.
template <class... C, std::size_t... I>
void fire_case(std::size_t i, std::index_sequence<I...>, C&... cases) {
  ((i == I ? (cases.fire(), 0) : 0), ...);
}

}  // namespace detail

// A receive case: f(std::optional<T>) gets the value, or std::nullopt if the
// channel is closed (f may also take no arguments, or be omitted).
template <class T, class F = detail::no_op>
detail::recv_case_t<T, std::decay_t<F>> recv_case(const chan<T>& ch, F&& f = {},
                                                  location where = location::current()) {
  return detail::make_recv_case<T>(detail::chan_access::handle(ch), std::forward<F>(f), where);
}
template <class T, class F = detail::no_op>
detail::recv_case_t<T, std::decay_t<F>> recv_case(const recv_chan<T>& ch, F&& f = {},
                                                  location where = location::current()) {
  return detail::make_recv_case<T>(detail::chan_access::handle(ch), std::forward<F>(f), where);
}

// A send case: sends `value`, then runs f() (f may be omitted). A chosen send
// case on a closed channel throws closed_channel_error from select.
template <class T, class V, class F = detail::no_op>
requires std::is_constructible_v<T, V&&> detail::send_case_t<T, std::decay_t<F>> send_case(
    const chan<T>& ch, V&& value, F&& f = {}, location where = location::current()) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>,
                "gort::send_case: the callback must be invocable with no arguments");
  return {detail::chan_access::handle(ch), T(std::forward<V>(value)), std::forward<F>(f), where};
}
template <class T, class V, class F = detail::no_op>
requires std::is_constructible_v<T, V&&> detail::send_case_t<T, std::decay_t<F>> send_case(
    const send_chan<T>& ch, V&& value, F&& f = {}, location where = location::current()) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>,
                "gort::send_case: the callback must be invocable with no arguments");
  return {detail::chan_access::handle(ch), T(std::forward<V>(value)), std::forward<F>(f), where};
}

// Makes select non-blocking: chosen only if no other case is ready.
template <class F = detail::no_op>
detail::default_case_t<std::decay_t<F>> default_case(F&& f = {}, location where = location::current()) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>,
                "gort::default_case: the callback must be invocable with no arguments");
  return {std::forward<F>(f), where};
}

// Waits until one case can proceed ("select"), performs it, runs its function
// and returns its 0-based position. Among ready cases one is chosen uniformly
// at random; cases on the nil channel never proceed. Any thread (a fiber
// parks, a plain thread blocks).
template <class... Cases>
requires(sizeof...(Cases) > 0 && (detail::is_select_case<std::remove_cvref_t<Cases>> && ...)) std::size_t
    select(Cases&&... cases) {
  constexpr std::size_t n = sizeof...(Cases);
  constexpr std::size_t defaults = (std::size_t(detail::is_default_case<std::remove_cvref_t<Cases>>) + ...);
  static_assert(defaults <= 1, "gort::select: at most one default_case");
  detail::select_case_desc descs[n];
  std::size_t def = n;
  std::size_t i = 0;
  auto describe = [&](auto& c) {
    if constexpr (detail::is_default_case<std::remove_cvref_t<decltype(c)>>) {
      descs[i] = {nullptr, nullptr, false};
      def = i;
    } else {
      descs[i] = c.describe();
    }
    ++i;
  };
  (describe(cases), ...);
  const location where = std::get<0>(std::forward_as_tuple(cases...)).where;
  int r = detail::select_run(descs, n, defaults == 0, where);
  std::size_t chosen = r < 0 ? def : std::size_t(r);
  detail::fire_case(chosen, std::index_sequence_for<Cases...>{}, cases...);
  return chosen;
}

// select {} : blocks forever ("select (no cases)").
[[noreturn]] inline std::size_t select(location where = location::current()) {
  detail::select_block_forever(where);
}

}  // namespace gort
