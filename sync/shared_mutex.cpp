// gort::shared_mutex: Go's sync/rwmutex.go on the shared sema.
//
// Invariants (see also gort/sync.hpp):
//   - reader_count_ >= 0: no writer; that many readers hold the lock.
//   - reader_count_ < 0: a writer holds w_ and announced itself by
//     subtracting k_max_readers; reader_count_ + k_max_readers readers hold
//     the lock or wait in reader_sem_ for the writer to finish.
//   - reader_wait_: how many of the readers active at the announcement have
//     not left yet; the one that brings it to 0 releases writer_sem_ once.
//   - The writer's unlock releases exactly one reader_sem_ unit per reader
//     that arrived while it was announced.
//   - unlock() admits readers, then unlocks w_: a reader it admitted may
//     return, unlock and destroy the object before w_.unlock(). unlocking_
//     covers that window; every way to take the lock waits for it before
//     returning (found by sync_Lifetime.SharedMutexFreedAsSoonAsLockReturns).
//   - TSan (Go's rwmutex.go edges): a writer's unlock releases on
//     reader_sem_ and a reader's unlock on writer_sem_; a reader acquires
//     reader_sem_, a writer both. Readers are not ordered among themselves.
#include <cstdint>

#include "gort/sync.hpp"
#include "runtime/fatal.hpp"

namespace gort {

void shared_mutex::lock_shared(location where) {
  // Acquire: pairs with the release in unlock() (a writer's critical section
  // happens before readers that arrive after it).
  if (reader_count_.fetch_add(1, std::memory_order_acquire) + 1 < 0) {
    // A writer is pending or active: wait for its unlock to admit us (the
    // sema's seq_cst grant carries the writer's writes).
    reader_sem_.acquire(1, detail::wait_reason::rwmutex_rlock, where);
  }
  unlocking_.wait();
  detail::race_acquire(&reader_sem_);
}

bool shared_mutex::try_lock_shared() noexcept {
  std::int32_t c = reader_count_.load(std::memory_order_relaxed);
  while (c >= 0) {
    // Acquire: pairs with the release in unlock().
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      unlocking_.wait();
      detail::race_acquire(&reader_sem_);
      return true;
    }
  }
  return false;
}

void shared_mutex::unlock_shared() noexcept {
  detail::race_release(&writer_sem_);
  // Release: pairs with the acquire in lock()/try_lock() of a later writer.
  std::int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
  if (r >= 0) return;
  if (r + 1 == 0 || r + 1 == -k_max_readers) detail::fatal("sync: RUnlock of unlocked RWMutex");
  // A writer is pending; the last reader it waits for lets it in.
  // acq_rel: orders our read section before the writer's wake-up.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) writer_sem_.release(1);
}

void shared_mutex::lock(location where) {
  w_.lock_as(detail::wait_reason::rwmutex_lock, where);
  // Announce the writer; r is the number of active readers. acq_rel: acquire
  // pairs with the release in unlock_shared() of readers that left.
  std::int32_t r = reader_count_.fetch_sub(k_max_readers, std::memory_order_acq_rel);
  // Wait for the active readers (those that leave meanwhile count down).
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0)
    writer_sem_.acquire(1, detail::wait_reason::rwmutex_lock, where);
  unlocking_.wait();
  detail::race_acquire(&reader_sem_);
  detail::race_acquire(&writer_sem_);
}

bool shared_mutex::try_lock() noexcept {
  if (!w_.try_lock()) return false;
  std::int32_t zero = 0;
  // Acquire: pairs with the release in unlock_shared().
  if (!reader_count_.compare_exchange_strong(zero, -k_max_readers, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    w_.unlock();
    return false;
  }
  unlocking_.wait();
  detail::race_acquire(&reader_sem_);
  detail::race_acquire(&writer_sem_);
  return true;
}

void shared_mutex::unlock() noexcept {
  detail::race_release(&reader_sem_);
  unlocking_.begin();  // published by the release below
  // Release: pairs with the acquire in lock_shared()/try_lock_shared().
  std::int32_t r = reader_count_.fetch_add(k_max_readers, std::memory_order_release) + k_max_readers;
  if (r >= k_max_readers) detail::fatal("sync: Unlock of unlocked RWMutex");
  // Admit the readers that queued behind us, then the next writer.
  if (r > 0) reader_sem_.release(r);
  // No yield inside the window: a waiter admitted above, run on this worker,
  // would spin in unlocking_.wait() for a window that never closes.
  w_.unlock_as(false);
  unlocking_.end();  // our last touch of *this
}

}  // namespace gort
