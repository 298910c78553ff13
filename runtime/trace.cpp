#include "runtime/trace.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/fiber.hpp"
#include "runtime/machine.hpp"
#include "runtime/trace_writer.hpp"
#include "runtime/worker.hpp"

namespace gort::detail {

namespace {
template <class T>
void put_field(T& field, T v) noexcept {
  std::atomic_ref<T>(field).store(v, std::memory_order_relaxed);
}
template <class T>
T get_field(const T& field) noexcept {
  return std::atomic_ref<T>(const_cast<T&>(field)).load(std::memory_order_relaxed);
}
}  // namespace

// ---- recording (the machine that owns the worker) ---------------------------

worker_trace::worker_trace(std::size_t events)
    : mask_(std::bit_ceil(std::max<std::size_t>(events, 2)) - 1), ring_(new event[mask_ + 1]) {}

void worker_trace::push(const event& e) noexcept {
  const std::uint64_t n = count_.load(std::memory_order_relaxed);  // we are the only writer
  // Release fence: a reader that sees any of the stores below in the slot
  // it copied also sees count_ == n (stored before it) when it re-reads
  // count_ after its acquire fence, so it knows the slot was being reused.
  std::atomic_thread_fence(std::memory_order_release);
  event& slot = ring_[n & mask_];
  put_field(slot.ts, e.ts);
  put_field(slot.dur, e.dur);
  put_field(slot.fiber_id, e.fiber_id);
  put_field(slot.name, e.name);
  put_field(slot.file, e.file);
  put_field(slot.line, e.line);
  put_field(slot.reason, e.reason);
  // Release: pairs with the acquire loads of count_ in readers; the event is
  // complete before it is counted.
  count_.store(n + 1, std::memory_order_release);
}

void worker_trace::run_begin(const fiber& f, std::int64_t ts) noexcept {
  open_fiber_.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // as in push()
  open_ts_.store(ts, std::memory_order_relaxed);
  open_file_.store(f.created_at_.file_name(), std::memory_order_relaxed);
  open_line_.store(std::uint32_t(f.created_at_.line()), std::memory_order_relaxed);
  // Release: a crash writer that sees the id sees the fields above.
  open_fiber_.store(f.id_, std::memory_order_release);
}

void worker_trace::run_end(std::int64_t ts) noexcept {
  const std::uint64_t id = open_fiber_.load(std::memory_order_relaxed);
  if (!id) return;  // tracing was turned on while that fiber ran
  open_fiber_.store(0, std::memory_order_relaxed);
  const std::int64_t begin = open_ts_.load(std::memory_order_relaxed);
  push({begin, ts - begin, id, nullptr, open_file_.load(std::memory_order_relaxed),
        open_line_.load(std::memory_order_relaxed), 0});
}

void worker_trace::park(const fiber& f, wait_reason why, std::int64_t ts) noexcept {
  push({ts, -1, f.id_, "park", nullptr, 0, std::uint32_t(why)});
}

void worker_trace::instant(const char* what, std::uint64_t fiber_id, std::int64_t ts) noexcept {
  push({ts, -1, fiber_id, what, nullptr, 0, 0});
}

void worker_trace::handoff(const fiber& from, const fiber& to, bool parks, std::int64_t ts) noexcept {
  run_end(ts);
  if (parks) park(from, from.reason_.load(std::memory_order_relaxed), ts);
  run_begin(to, ts);
}

void worker_trace::note_steals(std::uint64_t steals, std::uint64_t fiber_id, std::int64_t ts) noexcept {
  const std::uint64_t seen = steals_seen_.exchange(steals, std::memory_order_relaxed);
  if (seen != k_no_steals && seen != steals) instant("steal", fiber_id, ts);
}

// ---- reading (any thread) --------------------------------------------------

// Copies event `i` into `e`; false if its slot was (or may have been) reused
// for a later event meanwhile (see the invariants in trace.hpp).
bool worker_trace::copy(std::uint64_t i, event& e) const noexcept {
  const event& slot = ring_[i & mask_];
  e.ts = get_field(slot.ts);
  e.dur = get_field(slot.dur);
  e.fiber_id = get_field(slot.fiber_id);
  e.name = get_field(slot.name);
  e.file = get_field(slot.file);
  e.line = get_field(slot.line);
  e.reason = get_field(slot.reason);
  // Acquire fence: pairs with the writer's release fence in push(); the
  // re-read of count_ below is ordered after the copy.
  std::atomic_thread_fence(std::memory_order_acquire);
  return count_.load(std::memory_order_relaxed) <= i + mask_;
}

namespace {
void begin_object(trace_writer& out, bool& first) noexcept {
  if (!first) out.put(",\n");
  first = false;
}

void put_slice(trace_writer& out, unsigned tid, std::uint64_t id, const char* file, std::uint32_t line,
               std::int64_t ts, std::int64_t dur, bool running) noexcept {
  out.put(R"({"ph":"X","pid":1,"tid":)");
  out.put_uint(tid);
  out.put(R"(,"name":"goroutine )");
  out.put_uint(id);
  out.put(" (");
  out.put_escaped(file);
  out.put(':');
  out.put_uint(line);
  out.put(R"x()","ts":)x");
  out.put_us(ts);
  out.put(R"(,"dur":)");
  out.put_us(dur);
  if (running) out.put(R"(,"args":{"state":"running when the trace was written"})");
  out.put('}');
}

void put_instant(trace_writer& out, unsigned tid, const char* name, wait_reason why, std::uint64_t id,
                 std::int64_t ts) noexcept {
  out.put(R"({"ph":"i","s":"t","pid":1,"tid":)");
  out.put_uint(tid);
  out.put(R"(,"name":")");
  out.put_escaped(name);
  if (why != wait_reason::none) {
    out.put(": ");
    out.put(wait_reason_text(why));
  }
  out.put(R"(","ts":)");
  out.put_us(ts);
  out.put(R"(,"args":{"goroutine":)");
  out.put_uint(id);
  out.put("}}");
}
}  // namespace

void worker_trace::write_json(trace_writer& out, unsigned tid, std::int64_t t0, std::int64_t from,
                              std::int64_t to, std::uint64_t since, std::int64_t running_at,
                              bool& first) const noexcept {
  begin_object(out, first);
  out.put(R"({"ph":"M","name":"thread_name","pid":1,"tid":)");
  out.put_uint(tid);
  out.put(R"(,"args":{"name":"worker )");
  out.put_uint(tid);
  out.put("\"}}");
  const std::uint64_t n = count_.load(std::memory_order_acquire);  // pairs with push()
  std::uint64_t first_kept = n;
  std::int64_t first_kept_ts = from;
  for (std::uint64_t i = std::max(since, n > mask_ ? n - mask_ : 0); i < n; ++i) {
    event e;
    if (!copy(i, e)) continue;
    if (first_kept == n) {
      first_kept = i;
      first_kept_ts = e.ts;
    }
    if (e.dur < 0) {
      if (e.ts < from || e.ts > to) continue;
      begin_object(out, first);
      put_instant(out, tid, e.name, wait_reason(e.reason), e.fiber_id, e.ts - t0);
    } else {
      const std::int64_t b = std::max(e.ts, from), end = std::min(e.ts + e.dur, to);
      if (end < b) continue;
      begin_object(out, first);
      put_slice(out, tid, e.fiber_id, e.file, e.line, b - t0, end - b, false);
    }
  }
  if (first_kept > since) {
    begin_object(out, first);
    out.put(R"({"ph":"i","s":"t","pid":1,"tid":)");
    out.put_uint(tid);
    out.put(R"(,"name":"trace ring full: )");
    out.put_uint(first_kept - since);
    out.put(R"( earlier events of this worker were overwritten","ts":)");
    out.put_us(first_kept_ts - t0);
    out.put('}');
  }
  if (running_at > 0) {
    // The slice still open: seqlock-style, the id re-read after the fields.
    const std::uint64_t id = open_fiber_.load(std::memory_order_acquire);  // pairs with run_begin()
    const std::int64_t ts = open_ts_.load(std::memory_order_relaxed);
    const char* file = open_file_.load(std::memory_order_relaxed);
    const std::uint32_t line = open_line_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (id && id == open_fiber_.load(std::memory_order_relaxed) && ts <= running_at) {
      begin_object(out, first);
      put_slice(out, tid, id, file, line, ts - t0, running_at - ts, true);
    }
  }
}

// ---- the recorder ----------------------------------------------------------

trace_recorder::trace_recorder() = default;
trace_recorder::~trace_recorder() = default;

void trace_recorder::init(const std::vector<std::unique_ptr<worker>>& workers, const std::string& path,
                          std::int64_t t0) {
  t0_ = t0;
  for (const auto& w : workers) workers_.push_back(w.get());
  if (path.empty()) return;
  path_ = path;
  for (std::size_t i = 0; i < workers_.size(); ++i) rings_.push_back(std::make_unique<worker_trace>());
  set_recording(true);
}

// Whoever owns the switches (init, or the capture in progress).
void trace_recorder::set_recording(bool on) noexcept {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (on) rings_[i]->reset_steals();
    workers_[i]->set_trace(on ? rings_[i].get() : nullptr);
  }
}

namespace {
bool flush_to_fd(void* ctx, const char* data, std::size_t n) noexcept {
  const int fd = *static_cast<int*>(ctx);
  while (n) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= std::size_t(w);
  }
  return true;
}

bool flush_to_string(void* ctx, const char* data, std::size_t n) noexcept {
  try {
    static_cast<std::string*>(ctx)->append(data, n);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

void put_header(trace_writer& out) noexcept { out.put("{\"traceEvents\":[\n"); }
void put_footer(trace_writer& out) noexcept { out.put("\n],\"displayTimeUnit\":\"ns\"}\n"); }
}  // namespace

// Async-signal-safe: open/write/close, and the caller's buffer.
bool trace_recorder::write_file(char* buf, std::size_t size, std::int64_t running_at) noexcept {
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  trace_writer out(buf, size, &flush_to_fd, &fd);
  put_header(out);
  bool first = true;
  for (unsigned i = 0; i < rings_.size(); ++i)
    rings_[i]->write_json(out, i, t0_, INT64_MIN, INT64_MAX, 0, running_at, first);
  put_footer(out);
  bool ok = out.finish();
  int err = ok ? 0 : errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  errno = err;
  return ok;
}

void trace_recorder::write_at_exit() {
  if (path_.empty()) return;
  std::vector<char> buf(64 << 10);
  if (!write_file(buf.data(), buf.size(), 0))
    write_stderr("gort: cannot write GORT_TRACE file \"" + path_ + "\": " + std::strerror(errno) + "\n");
}

void trace_recorder::write_on_crash() noexcept {
  if (path_.empty()) return;
  int idle = 0;
  // Acquire/release: pairs with the store of 2 below, so a waiter that sees
  // it finished returns after the file is complete.
  if (!crash_state_.compare_exchange_strong(idle, 1, std::memory_order_acq_rel)) {
    // Another thread is writing it (two fibers panicking at once, SIGQUIT
    // during a panic): let it finish before this one's caller exits.
    for (int ms = 0; ms < 10'000 && crash_state_.load(std::memory_order_acquire) == 1; ++ms) {
      timespec one_ms{0, 1'000'000};
      nanosleep(&one_ms, nullptr);
    }
    return;
  }
  static char buf[64 << 10];  // preallocated: no allocation on a crash path
  if (!write_file(buf, sizeof buf, now_ns())) {
    const int err = errno;
    char msg[64];
    trace_writer m(
        msg, sizeof msg,
        [](void*, const char* d, std::size_t n) noexcept {
          write_stderr(std::string_view(d, n));
          return true;
        },
        nullptr);
    write_stderr("gort: cannot write GORT_TRACE file \"");
    write_stderr(path_);
    m.put("\" (errno ");
    m.put_uint(unsigned(err));
    m.put(")\n");
    m.finish();
  }
  crash_state_.store(2, std::memory_order_release);
}

capture_status trace_recorder::capture(std::chrono::nanoseconds window, std::string& json) {
  // Acquire/release: pairs with the store of false below, so a capture sees
  // the rings the previous one made.
  if (capturing_.exchange(true, std::memory_order_acquire)) return capture_status::busy;
  struct release {
    std::atomic<bool>& flag;
    ~release() { flag.store(false, std::memory_order_release); }
  } unlock{capturing_};
  try {
    // Made once, while no worker records (their pointers are null until
    // set_recording publishes them) and kept until the runtime ends.
    if (rings_.empty())
      for (std::size_t i = 0; i < workers_.size(); ++i) rings_.push_back(std::make_unique<worker_trace>());
  } catch (const std::bad_alloc&) {
    rings_.clear();
    return capture_status::failed;
  }
  const bool always = !path_.empty();  // GORT_TRACE: recording anyway
  std::vector<std::uint64_t> since;
  for (const auto& r : rings_) since.push_back(r->count());
  const std::int64_t from = now_ns();
  {
    struct recording {
      trace_recorder& r;
      bool on;
      ~recording() {
        if (on) r.set_recording(false);  // also when the run ends during the window
      }
    } rec{*this, !always};
    if (!always) set_recording(true);
    sleep_until_ns(from + window.count(), location::current());
  }
  const std::int64_t to = now_ns();
  std::string out;
  char buf[4096];
  trace_writer w(buf, sizeof buf, &flush_to_string, &out);
  put_header(w);
  bool first = true;
  for (unsigned i = 0; i < rings_.size(); ++i)
    rings_[i]->write_json(w, i, from, from, to, since[i], 0, first);
  put_footer(w);
  if (!w.finish()) return capture_status::failed;
  json = std::move(out);
  return capture_status::ok;
}

capture_status capture_trace(std::chrono::nanoseconds window, std::string& json) {
  machine* m = machine_of_thread();
  if (!m || !m->current()) return capture_status::failed;
  return m->rt().tracer().capture(window, json);
}

void write_trace_on_crash() noexcept {
  if (runtime* rt = g_runtime.load(std::memory_order_acquire)) rt->tracer().write_on_crash();
}

}  // namespace gort::detail
