// The type-erased channel core behind chan<T>, send_chan<T>, recv_chan<T> and
// select (Go's hchan). Internal; installed because the public templates call
// it. The templates are thin: every algorithm (handoff, buffering, close,
// select) lives once, in channel/*.cpp, and moves elements through elem_ops.
//
// Invariants:
//   - refs_ counts the handles (and timers) that refer to a core; the core is
//     destroyed by the release that brings it to zero.
//   - Elements are moved only while the channel's lock is held, by the
//     functions in elem_ops; a throwing move constructor terminates.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "gort/detail/race.hpp"
#include "gort/location.hpp"

namespace gort::detail {

// How the core moves and destroys elements of one type T without knowing it.
struct elem_ops {
  std::size_t size;
  std::size_t align;
  void (*construct)(void* raw, void* src) noexcept;  // ::new (raw) T(std::move(*src))
  void (*emplace)(void* opt, void* src) noexcept;    // std::optional<T>::emplace(std::move(*src))
  void (*destroy)(void* p) noexcept;                 // p->~T()
};

template <class T>
struct elem_ops_of {
  static void construct(void* raw, void* src) noexcept { ::new (raw) T(std::move(*static_cast<T*>(src))); }
  static void emplace(void* opt, void* src) noexcept {
    static_cast<std::optional<T>*>(opt)->emplace(std::move(*static_cast<T*>(src)));
  }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr elem_ops value{sizeof(T), alignof(T), &construct, &emplace, &destroy};
};

// The shared part of every channel; the rest is private to channel/*.cpp.
struct chan_core {
  std::atomic<std::size_t> refs_{1};
};

// Any thread. A new channel with one reference. Throws std::bad_alloc.
chan_core* chan_make(const elem_ops* ops, std::size_t capacity);
// Any thread: called by the release that dropped the last reference.
void chan_destroy(chan_core* c) noexcept;

// Any thread holding a reference. Relaxed: a new reference is made from an
// existing one, so the core cannot go away meanwhile.
inline void chan_retain(chan_core* c) noexcept { c->refs_.fetch_add(1, std::memory_order_relaxed); }
// Any thread holding a reference, once per reference. acq_rel: the last
// releaser sees every other holder's writes before destroying.
inline void chan_release(chan_core* c) noexcept {
  race_release(&c->refs_);  // stated to TSan too (the copy it runs may not be instrumented)
  if (c->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    race_acquire(&c->refs_);
    chan_destroy(c);
  }
}

// Channel operations: any thread (a fiber parks, a plain thread blocks).
// `c` may be null (the nil channel). `src` points to a T that is moved from
// only when the value is taken; `dst` points to an empty std::optional<T>.
void chan_send(chan_core* c, void* src, const location& where);
// False when closed and drained (dst left empty).
bool chan_recv(chan_core* c, void* dst, const location& where);
// False if the send would block (nothing moved). Throws on a closed channel.
bool chan_try_send(chan_core* c, void* src);
// True if a value was received into dst.
bool chan_try_recv(chan_core* c, void* dst);
void chan_close(chan_core* c);
std::size_t chan_size(const chan_core* c) noexcept;
std::size_t chan_capacity(const chan_core* c) noexcept;

// One case of a select, as the template describes it to the core.
struct select_case_desc {
  chan_core* ch;  // null: the nil channel (never ready)
  void* elem;     // send: the T to move from; receive: the std::optional<T> to fill
  bool is_send;
};

// Any thread. Runs one select over `n` cases (Go's selectgo): the index of the
// case that proceeded, or -1 when !block and none was ready. `where` is the
// caller's location for the wait record. Throws closed_channel_error when the
// chosen case is a send on a closed channel.
int select_run(select_case_desc* cases, std::size_t n, bool block, const location& where);
// Any thread: blocks forever (select with no cases).
[[noreturn]] void select_block_forever(const location& where);

}  // namespace gort::detail
