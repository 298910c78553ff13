// Channel send, receive and close (Go's chan.go): the one place the hot paths
// live. Layout and invariants: channel/chan_impl.hpp.
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>

#include "channel/chan_impl.hpp"
#include "gort/chan.hpp"

namespace gort::detail {

namespace {

std::size_t round_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

std::size_t core_align(const elem_ops* ops) noexcept {
  return ops->align > alignof(chan_impl) ? ops->align : alignof(chan_impl);
}

// Lock held: links a record for the caller at the back of `q`, parks, and
// returns once a waker took it (true: the value moved; false: closed). The
// lock is not held on return. If park() throws (unwinding at exit), the
// record is unlinked before the exception leaves.
bool wait_on_chan(chan_impl* c, waitq& q, void* elem, bool is_send, wait_reason why, const location& where)
    GORT_RELEASE(c->lock_) {
  waiter w;
  w.elem = elem;
  w.is_send = is_send;
  race_publish_self();  // TSan: for the partner that takes `w` (race_partner)
  wait_on(c->lock_, q, w, why, where);
  return w.success;
}

}  // namespace

void throw_closed(const char* what) { throw closed_channel_error(what); }

void park_forever(wait_reason why, const location& where) {
  spinlock never_woken;
  for (;;) {
    never_woken.lock();
    park(never_woken, why, where);
  }
}

chan_core* chan_make(const elem_ops* ops, std::size_t capacity) {
  std::size_t offset = round_up(sizeof(chan_impl), ops->align);
  if (capacity > (SIZE_MAX - offset) / ops->size) throw std::invalid_argument("makechan: size out of range");
  void* mem = ::operator new(offset + capacity * ops->size, std::align_val_t(core_align(ops)));
  auto* c = ::new (mem) chan_impl();
  c->cap_ = capacity;
  c->ops_ = ops;
  c->buf_ = static_cast<std::byte*>(mem) + offset;
  return c;
}

// Not analysed: the last reference is gone, so nothing else can hold the lock.
void chan_destroy(chan_core* core) noexcept GORT_NO_THREAD_SAFETY_ANALYSIS {
  chan_impl* c = impl(core);
  if (c->timer_) drop_after_timer(c->timer_);
  // The last reference is gone: no waiter can be linked and no one else can
  // touch the buffer. Destroy what was never received.
  for (std::size_t i = 0, n = c->count(), x = c->recvx_; i < n; ++i) {
    c->ops_->destroy(c->slot(x));
    if (++x == c->cap_) x = 0;
  }
  auto align = std::align_val_t(core_align(c->ops_));
  c->~chan_impl();
  ::operator delete(static_cast<void*>(c), align);
}

namespace {
// lock_ held: unlocks, then readies the partner an attempt woke (if any).
void unlock_and_wake(chan_impl* c, fiber* wake) noexcept GORT_RELEASE(c->lock_) {
  c->lock_.unlock();
  if (wake) ready(wake);
}
}  // namespace

void chan_send(chan_core* core, void* src, const location& where) {
  if (!core) park_forever(wait_reason::chan_send_nil, where);
  sched_point();  // GORT_SCHED_SEED may yield here
  chan_impl* c = impl(core);
  c->lock_.lock();
  fiber* wake = nullptr;
  switch (send_locked(c, src, wake)) {
    case attempt::done: unlock_and_wake(c, wake); return;
    case attempt::closed: c->lock_.unlock(); break;
    case attempt::would_block:
      if (wait_on_chan(c, c->sendq_, src, true, wait_reason::chan_send, where)) return;
      break;  // closed while we waited
  }
  throw_closed("send on closed channel");
}

bool chan_recv(chan_core* core, void* dst, const location& where) {
  if (!core) park_forever(wait_reason::chan_receive_nil, where);
  sched_point();  // GORT_SCHED_SEED may yield here
  chan_impl* c = impl(core);
  c->lock_.lock();
  fiber* wake = nullptr;
  switch (recv_locked(c, dst, wake)) {
    case attempt::done: unlock_and_wake(c, wake); return true;
    case attempt::closed: c->lock_.unlock(); return false;
    case attempt::would_block: break;
  }
  return wait_on_chan(c, c->recvq_, dst, false, wait_reason::chan_receive, where);
}

bool chan_try_send(chan_core* core, void* src) {
  if (!core) return false;
  chan_impl* c = impl(core);
  c->lock_.lock();
  fiber* wake = nullptr;
  const attempt a = send_locked(c, src, wake);
  unlock_and_wake(c, wake);
  if (a == attempt::closed) throw_closed("send on closed channel");
  return a == attempt::done;
}

bool chan_try_recv(chan_core* core, void* dst) {
  if (!core) return false;
  chan_impl* c = impl(core);
  c->lock_.lock();
  fiber* wake = nullptr;
  const attempt a = recv_locked(c, dst, wake);
  unlock_and_wake(c, wake);
  return a == attempt::done;
}

void chan_close(chan_core* core) {
  if (!core) throw_closed("close of nil channel");
  sched_point();  // GORT_SCHED_SEED may yield here
  chan_impl* c = impl(core);
  c->lock_.lock();
  if (c->closed_) {
    c->lock_.unlock();
    throw_closed("close of closed channel");
  }
  c->closed_ = true;
  race_release(&c->closed_);  // TSan: for receives that find it closed (the woken: ready())
  // Take every waiter (receivers get nothing, senders will throw), then wake
  // them in the order they blocked once the lock is released.
  waiter* head = nullptr;
  waiter** tail = &head;
  for (waitq* q : {&c->recvq_, &c->sendq_}) {
    while (waiter* w = q->dequeue()) {
      w->success = false;
      *tail = w;
      tail = &w->next;
    }
  }
  *tail = nullptr;
  c->lock_.unlock();
  while (head) {
    waiter* next = head->next;  // read before ready(): the record dies with its owner's frame
    ready(head->who);
    head = next;
  }
}

std::size_t chan_size(const chan_core* core) noexcept {
  return core ? static_cast<const chan_impl*>(core)->count() : 0;
}

std::size_t chan_capacity(const chan_core* core) noexcept {
  return core ? static_cast<const chan_impl*>(core)->cap_ : 0;
}

}  // namespace gort::detail
