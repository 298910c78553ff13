// Why a fiber is blocked: Go's wait-reason words, as deadlock reports, dumps
// and statistics print them.
#pragma once

#include <cstdint>
#include <string_view>

namespace gort::detail {

enum class wait_reason : std::uint8_t {
  none,
  chan_send,         // "chan send"
  chan_receive,      // "chan receive"
  chan_send_nil,     // "chan send (nil chan)"
  chan_receive_nil,  // "chan receive (nil chan)"
  select,            // "select"
  select_no_cases,   // "select (no cases)"
  sleep,             // "sleep"
  io_wait,           // "IO wait"
  semacquire,        // "semacquire"
  mutex_lock,        // "sync.Mutex.Lock"
  rwmutex_lock,      // "sync.RWMutex.Lock"
  rwmutex_rlock,     // "sync.RWMutex.RLock"
  wait_group_wait,   // "sync.WaitGroup.Wait"
  cond_wait,         // "sync.Cond.Wait"
  task_join,         // "task join"
  thread_join,       // "thread join"
  blocking_call,     // "blocking call" (gort::blocking)
  count_
};

constexpr std::string_view wait_reason_text(wait_reason r) noexcept {
  switch (r) {
    case wait_reason::none: return "running";
    case wait_reason::chan_send: return "chan send";
    case wait_reason::chan_receive: return "chan receive";
    case wait_reason::chan_send_nil: return "chan send (nil chan)";
    case wait_reason::chan_receive_nil: return "chan receive (nil chan)";
    case wait_reason::select: return "select";
    case wait_reason::select_no_cases: return "select (no cases)";
    case wait_reason::sleep: return "sleep";
    case wait_reason::io_wait: return "IO wait";
    case wait_reason::semacquire: return "semacquire";
    case wait_reason::mutex_lock: return "sync.Mutex.Lock";
    case wait_reason::rwmutex_lock: return "sync.RWMutex.Lock";
    case wait_reason::rwmutex_rlock: return "sync.RWMutex.RLock";
    case wait_reason::wait_group_wait: return "sync.WaitGroup.Wait";
    case wait_reason::cond_wait: return "sync.Cond.Wait";
    case wait_reason::task_join: return "task join";
    case wait_reason::thread_join: return "thread join";
    case wait_reason::blocking_call: return "blocking call";
    case wait_reason::count_: break;
  }
  return "unknown";
}

}  // namespace gort::detail
