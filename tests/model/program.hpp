// Programs for the model checker (see model.hpp for the design): a few fibers,
// each a straight list of channel, select and sync operations over a fixed
// set of objects; what one run of a program on gort observed (a trace); the
// seeded generator, the byte decoding the fuzz target uses, the printer and
// the shrinker's candidate edits.
//
// Every send value is unique in a program (value_of), so a received value
// names the send it came from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace gort_model {

// Bounds that keep the checker's search small (and the fuzz decoder's
// programs within it).
inline constexpr std::size_t k_max_fibers = 6;
inline constexpr std::size_t k_max_ops = 12;  // per fiber
inline constexpr std::size_t k_max_chans = 4;
inline constexpr std::size_t k_max_mutexes = 2;
inline constexpr std::size_t k_max_semas = 2;
inline constexpr std::size_t k_max_cases = 4;  // per select, default not counted

enum class op_kind : std::uint8_t {
  send,         // ch.send(value)
  recv,         // ch.recv()
  try_send,     // ch.try_send(value)
  try_recv,     // ch.try_recv()
  close,        // ch.close()
  select,       // gort::select over `cases` (+ default_case when has_default)
  lock,         // mutex.lock()
  try_lock,     // mutex.try_lock()
  unlock,       // mutex.unlock(), only if this fiber holds it (else skipped)
  acquire,      // semaphore.acquire(arg)
  try_acquire,  // semaphore.try_acquire(arg)
  release,      // semaphore.release(arg)
  wg_add,       // wait_group.add(arg)
  wg_done,      // wait_group.done()
  wg_wait,      // wait_group.wait()
  yield,        // gort::yield()
};
inline constexpr int k_op_kinds = 16;

struct select_case {
  std::uint8_t chan = 0;
  bool is_send = false;
  std::int32_t value = 0;  // sends only
};

struct op {
  op_kind kind = op_kind::yield;
  std::uint8_t obj = 0;  // channel, mutex or semaphore index
  std::int32_t arg = 0;  // send value; units of acquire/release; n of wg_add
  std::vector<select_case> cases;
  bool has_default = false;
};

struct program {
  std::vector<int> chans;  // capacity of each channel; -1: the nil channel
  std::size_t mutexes = 0;
  std::vector<int> semas;  // initial units of each semaphore
  int wg_initial = 0;      // wait_group.add(wg_initial) before the fibers start
  std::vector<std::vector<op>> fibers;

  std::size_t op_count() const;
};

// The outcome of one operation as the executor saw it.
enum class result : std::uint8_t {
  ok,            // completed (try_* : true)
  value,         // received `value`
  none,          // recv: closed and drained; try_recv: nothing; try_send/try_lock/try_acquire: false
  skipped,       // unlock of a mutex this fiber does not hold: not called
  send_closed,   // closed_channel_error "send on closed channel"
  close_closed,  // closed_channel_error "close of closed channel"
  close_nil,     // closed_channel_error "close of nil channel"
  wg_negative,   // std::logic_error "sync: negative WaitGroup counter"
  unexpected,    // any other exception: the trace's `error` says which
};

struct event {
  result res = result::ok;
  std::int32_t value = 0;            // result::value
  std::int32_t index = -1;           // select: the case that ran (cases.size(): default); -1 if it threw
  std::uint32_t witness = 0;         // lock/try_lock: the mutex's acquisition number (1, 2, ...)
  std::uint64_t start = 0, end = 0;  // logical clock before the call and after it returned
  std::uint32_t thread = 0;          // the OS thread at the start and at the end (see
  std::uint32_t end_thread = 0;      // trace::one_thread)
};

struct trace {
  std::vector<std::vector<event>> fibers;     // completed operations, in program order
  std::vector<std::uint64_t> pending_start;   // per fiber: start of the operation that never
                                              // completed (0: none)
  std::vector<std::uint32_t> pending_thread;  // and the OS thread it started on
  bool sched_seeded = false;                  // run under GORT_SCHED_SEED (yields inside calls)
  bool deadlock = false;                      // run() threw gort::deadlock_error
  std::string error;                          // what the harness itself saw go wrong
  // After a run that completed, read by the main fiber:
  std::vector<std::vector<std::int32_t>> residue;  // each channel's buffered values, in order
  std::vector<char> closed;                        // each channel closed?
  std::vector<char> locked;                        // each mutex still locked?
  std::vector<std::int64_t> units;                 // each semaphore's free units
};

// The unique value that send op `k` of fiber `f` (select case `c`) sends.
std::int32_t value_of(std::size_t f, std::size_t k, std::size_t c = 0);
// Gives every send and send case its value_of (after edits, or decoding).
void assign_values(program& p);

// A seeded random program (deterministic for a seed, on every platform).
program generate(std::uint64_t seed);
// A program from arbitrary bytes (the fuzz target's input): never fails; any
// field out of range is folded into range.
program decode(std::span<const std::uint8_t> bytes);
// The bytes that decode() turns back into `p` (for the fuzz seed corpus).
std::vector<std::uint8_t> encode(const program& p);

std::string to_string(const program& p);
std::string to_string(const program& p, const trace& t);
const char* name_of(result r);

// The shrinker: calls `try_edit` with each smaller variant of `p` (a fiber
// removed, an op removed, a select case or default removed, fewer wait_group
// units) and keeps the first one for which it returns true, until no edit
// is kept. Returns the smallest program kept.
program shrink(program p, const std::function<bool(const program&)>& still_fails);

}  // namespace gort_model
