// The model checker: an independent oracle for gort's channels, select,
// mutex, semaphore and wait_group.
//
// DESIGN
//
// A *program* (program.hpp) is a few fibers, each a straight list of
// operations over a fixed set of objects: channels (unbuffered, buffered or
// nil), mutexes, semaphores and one wait_group. Operations: send, recv,
// try_send, try_recv, close, select (send and receive cases, with or
// without default), lock, try_lock, unlock, acquire, try_acquire, release,
// wait_group add/done/wait, yield. Programs come from a seed (generate) or
// from fuzz bytes (decode). Every send value is unique, so a received value
// names the send it came from.
//
// The *executor* (executor.cpp) runs a program on gort through the public
// API at a given worker count, optionally under GORT_SCHED_SEED, with
// deadlock_policy::raise, and records a *trace*: per fiber, each operation's
// outcome (value received, true/false, which select case, which exception),
// its start and end on one logical clock (a relaxed fetch_add), and for each
// mutex acquisition its number, counted by the holders themselves under the
// mutex (a linearization witness: the order in which the lock was held); the
// start of the operation a fiber never returned from; whether run() threw
// deadlock_error; and after a completed run each channel's leftover buffer
// (drained in order) and closed flag, each mutex's and semaphore's state.
//
// The *model* (this file) is sequential Go: Go's hchan (a FIFO buffer, FIFO
// queues of blocked senders and receivers, a blocked select queued on every
// channel it waits for and taken by the first partner, close waking every
// receiver with nothing and every sender with a panic), a mutex that any
// contender may win, a semaphore that grants strictly in arrival order, a
// wait_group counter. One model step performs one fiber's next operation
// atomically: it completes it, or queues it (blocked), and may complete the
// blocked operations of others (a receiver handing a buffer slot to a queued
// sender, a close, a release).
//
// The *checker* (check) decides whether some interleaving of model steps
// explains the trace: a depth-first search over model states in which
// every step must reproduce what was observed. That makes the search small
// rather than exponential, because the observations decide almost every
// choice:
//   - an operation may only step when its observed outcome is the one the
//     model gives in that state (the value received, true or false, the
//     select case, the exception; a value a blocked operation gets later is
//     checked when its partner completes it);
//   - real time: an operation may only step once every operation that ended
//     (on the logical clock) before it started has completed in the model.
//     A relaxed RMW clock suffices: if A's end precedes B's start in the
//     clock's modification order, B's start cannot happen-before A's end,
//     so gort cannot have ordered B's effect before A's;
//   - a mutex acquisition steps only as the acquisition number it observed;
//   - states already explored are remembered (a partial-order reduction by
//     memoisation: independent steps in either order reach one state).
// The trace is accepted when the search reaches an end state: every fiber
// done and the final buffers, closed flags, mutexes and semaphore units
// equal to what the run left; or, for a run that raised deadlock_error,
// every fiber done or stuck at the operation it never returned from (queued,
// waiting for a held mutex or a nonzero wait_group) with the others done.
//
// What this catches: a value lost (a completed send never received nor left
// in a buffer), duplicated or invented; per-sender and buffer FIFO order;
// blocked senders or receivers served out of order; wrong close semantics
// (a send that succeeds on a closed channel, a buffered value lost at close,
// a receiver that gets nothing from an open channel); a select that takes a
// case that was not ready, or the default while a case was ready; a
// try_send/try_recv that fails while it could have proceeded; two holders of
// a mutex; a semaphore that overtakes its queue; a wait that returns early;
// a false deadlock (run raised deadlock_error but some fiber could proceed)
// and a missed one shows as a hang (the driver's watchdog) or as a
// completed run the model cannot complete.
//
// Soundness (never rejecting a correct run) rests on the model allowing
// everything Go allows, with these deliberate weakenings: try_lock and
// try_acquire may fail while the object is free if another fiber's
// operation on the same object overlaps in real time (Go's TryLock can fail
// spuriously then, and gort's semaphore counts an acquirer on its slow path
// as a waiter); which contender wins a mutex is free (the witness decides).
// Programs avoid what Go leaves undefined: unlock of an unlocked mutex
// (unlock is skipped when the fiber does not hold it), wait_group.add with a
// positive delta racing wait at zero (an add happens only while the adding
// fiber still owns a unit of the counter).
//
// The search has a state budget; a run that exhausts it is inconclusive
// (reported as such, never as a pass or a failure).
#pragma once

#include <cstddef>
#include <string>

#include "program.hpp"

namespace gort_model {

struct verdict {
  bool ok = false;            // some model interleaving explains the trace
  bool inconclusive = false;  // the state budget ran out first
  std::size_t states = 0;     // model states explored
  std::string why;            // when not ok: what could not be explained
};

// Any thread. Checks trace `t` of a run of `p` against the model.
verdict check(const program& p, const trace& t, std::size_t state_budget = 2'000'000);

}  // namespace gort_model
