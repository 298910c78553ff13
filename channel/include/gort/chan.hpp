// gort channels: chan<T>, send_chan<T> (chan<- T), recv_chan<T> (<-chan T).
// Reference: docs/api.md, "Channels". All three are shared handles on
// one type-erased core (gort/detail/chan_core.hpp); copies refer to the same
// channel, and a default-constructed view or a handle assigned nullptr is the
// nil channel.
//
// Elements are moved under the channel's lock by noexcept helpers: a move
// constructor that throws during a transfer terminates the program.
#pragma once

#include <concepts>
#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "gort/detail/chan_core.hpp"
#include "gort/location.hpp"

namespace gort {

// Send on a closed channel, close of a closed channel, close of nil channel.
class closed_channel_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

namespace detail {

// A counted reference to a core (null: the nil channel). Any thread may use
// its own handle; handles to the same channel may be used concurrently.
class chan_handle {
 public:
  chan_handle() noexcept = default;
  explicit chan_handle(chan_core* adopt) noexcept : c_(adopt) {}
  chan_handle(const chan_handle& o) noexcept : c_(o.c_) {
    if (c_) chan_retain(c_);
  }
  chan_handle(chan_handle&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  chan_handle& operator=(const chan_handle& o) noexcept {
    chan_handle copy(o);
    std::swap(c_, copy.c_);
    return *this;
  }
  chan_handle& operator=(chan_handle&& o) noexcept {
    chan_handle taken(std::move(o));
    std::swap(c_, taken.c_);
    return *this;
  }
  ~chan_handle() {
    if (c_) chan_release(c_);
  }
  chan_core* get() const noexcept { return c_; }

 private:
  chan_core* c_ = nullptr;
};

// Makes a core for T with the given capacity; negative capacities throw.
template <class T, std::integral I>
chan_core* make_chan_core(I capacity) {
  if constexpr (std::is_signed_v<I>) {
    if (capacity < 0) throw std::invalid_argument("makechan: size out of range");
  }
  return chan_make(&elem_ops_of<T>::value, std::size_t(capacity));
}

// The core behind any handle; for select cases and the views.
struct chan_access {
  template <class H>
  static chan_core* core(const H& h) noexcept {
    return h.h_.get();
  }
  template <class H>
  static const chan_handle& handle(const H& h) noexcept {
    return h.h_;
  }
};

// Range-for over a channel: receives until closed and drained. operator*
// yields T& (T&& when T is not copyable, so `for (T v : ch)` works for
// move-only T). Single pass; the owner of the iterator only.
template <class T>
class chan_iterator {
 public:
  using value_type = T;
  using difference_type = std::ptrdiff_t;
  using reference = std::conditional_t<std::is_copy_constructible_v<T>, T&, T&&>;

  chan_iterator(chan_core* c, location where) : c_(c), where_(where) { next(); }
  reference operator*() const { return static_cast<reference>(*cur_); }
  chan_iterator& operator++() {
    next();
    return *this;
  }
  void operator++(int) { next(); }
  friend bool operator==(const chan_iterator& it, std::default_sentinel_t) noexcept { return !it.cur_; }

 private:
  void next() {
    cur_.reset();
    chan_recv(c_, &cur_, where_);
  }
  chan_core* c_;
  location where_;
  mutable std::optional<T> cur_;
};

// The operations of a handle, shared by chan, send_chan and recv_chan (D is
// the handle type). All const: a handle is a shared reference, so a lambda
// that captured one by value can send and receive, as in Go.
template <class D>
struct chan_info {
  // Values buffered now (len).
  std::size_t size() const noexcept { return chan_size(core()); }
  // Buffer slots (cap); 0 for unbuffered and nil channels.
  std::size_t capacity() const noexcept { return chan_capacity(core()); }
  // False for the nil channel.
  explicit operator bool() const noexcept { return core() != nullptr; }

 protected:
  chan_core* core() const noexcept { return chan_access::core(static_cast<const D&>(*this)); }
};

template <class D, class T>
struct chan_send_ops {
  // Blocks until the value is taken (unbuffered) or buffered ("chan send";
  // "chan send (nil chan)" forever on the nil channel). Throws
  // closed_channel_error if the channel is or becomes closed.
  void send(T value, location where = location::current()) const { chan_send(core(), &value, where); }
  // False if the send would block; `value` is moved from only on true.
  bool try_send(T&& value) const { return chan_try_send(core(), &value); }
  bool try_send(const T& value) const requires std::is_copy_constructible_v<T> {
    T copy(value);
    return chan_try_send(core(), &copy);
  }
  // Throws closed_channel_error for a closed or nil channel.
  void close() const { chan_close(core()); }

 private:
  chan_core* core() const noexcept { return chan_access::core(static_cast<const D&>(*this)); }
};

template <class D, class T>
struct chan_recv_ops {
  // Blocks for a value ("chan receive"; "chan receive (nil chan)" forever on
  // the nil channel); std::nullopt once closed and drained.
  std::optional<T> recv(location where = location::current()) const {
    std::optional<T> out;
    chan_recv(core(), &out, where);
    return out;
  }
  // A value if one can be received right now, else std::nullopt.
  std::optional<T> try_recv() const {
    std::optional<T> out;
    chan_try_recv(core(), &out);
    return out;
  }
  // for (T v : ch): receives until the channel is closed and drained.
  chan_iterator<T> begin(location where = location::current()) const {
    return chan_iterator<T>(core(), where);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  chan_core* core() const noexcept { return chan_access::core(static_cast<const D&>(*this)); }
};

}  // namespace detail

// A channel of T (Go's chan T). Shared handle: copies refer to one channel.
template <class T>
class chan : public detail::chan_info<chan<T>>,
             public detail::chan_send_ops<chan<T>, T>,
             public detail::chan_recv_ops<chan<T>, T> {
  static_assert(std::is_object_v<T> && !std::is_const_v<T> && !std::is_array_v<T>,
                "gort::chan<T>: T must be a non-const object type");
  static_assert(std::is_move_constructible_v<T>, "gort::chan<T>: T must be move-constructible");

 public:
  using value_type = T;

  // Unbuffered.
  chan() : h_(detail::make_chan_core<T>(0)) {}
  // Buffered with `capacity` slots (0: unbuffered). Any integer type, so that
  // `chan<int> ch(0)` is not read as the nil channel.
  template <std::integral I>
  requires(!std::same_as<I, bool>) explicit chan(I capacity) : h_(detail::make_chan_core<T>(capacity)) {}
  // The nil channel: `chan<int> ch = nullptr;`, `ch = nullptr;`.
  template <class N>
  requires std::same_as<N, std::nullptr_t> chan(N)
  noexcept {}
  chan& operator=(std::nullptr_t) noexcept {
    h_ = detail::chan_handle();
    return *this;
  }
  // send, try_send, close, recv, try_recv, begin/end, size, capacity, bool:
  // see detail::chan_send_ops, chan_recv_ops and chan_info above.
  friend bool operator==(const chan& a, const chan& b) noexcept { return a.h_.get() == b.h_.get(); }

 private:
  friend struct detail::chan_access;
  detail::chan_handle h_;
};

// The send-only view of a channel (Go's chan<- T): send, try_send, close,
// size, capacity, bool.
template <class T>
class send_chan : public detail::chan_info<send_chan<T>>, public detail::chan_send_ops<send_chan<T>, T> {
 public:
  using value_type = T;
  send_chan() noexcept = default;
  send_chan(std::nullptr_t) noexcept {}
  send_chan(const chan<T>& c) noexcept : h_(detail::chan_access::handle(c)) {}
  send_chan& operator=(std::nullptr_t) noexcept {
    h_ = detail::chan_handle();
    return *this;
  }
  friend bool operator==(const send_chan& a, const send_chan& b) noexcept { return a.h_.get() == b.h_.get(); }

 private:
  friend struct detail::chan_access;
  detail::chan_handle h_;
};

// The receive-only view of a channel (Go's <-chan T): recv, try_recv,
// begin/end, size, capacity, bool.
template <class T>
class recv_chan : public detail::chan_info<recv_chan<T>>, public detail::chan_recv_ops<recv_chan<T>, T> {
 public:
  using value_type = T;
  recv_chan() noexcept = default;
  recv_chan(std::nullptr_t) noexcept {}
  recv_chan(const chan<T>& c) noexcept : h_(detail::chan_access::handle(c)) {}
  recv_chan& operator=(std::nullptr_t) noexcept {
    h_ = detail::chan_handle();
    return *this;
  }
  // Takes over the reference `h` holds (the library's own channels: after, ticker).
  explicit recv_chan(detail::chan_handle h) noexcept : h_(std::move(h)) {}
  friend bool operator==(const recv_chan& a, const recv_chan& b) noexcept { return a.h_.get() == b.h_.get(); }

 private:
  friend struct detail::chan_access;
  detail::chan_handle h_;
};

}  // namespace gort
