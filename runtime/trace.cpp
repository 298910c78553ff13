#include "runtime/trace.hpp"

#include <cstdio>

#include "runtime/fiber.hpp"

namespace gort::detail {

bool worker_trace::full() noexcept {
  if (events_.size() < k_max_events) return false;
  ++dropped_;
  return true;
}

void worker_trace::run_begin(const fiber& f, std::int64_t ts) noexcept {
  if (full()) return;
  open_ = events_.size();
  events_.push_back(
      {ts, 0, f.id_, nullptr, f.created_at_.file_name(), unsigned(f.created_at_.line()), wait_reason::none});
}

void worker_trace::run_end(std::int64_t ts) noexcept {
  if (open_ == SIZE_MAX) return;
  events_[open_].dur = ts - events_[open_].ts;
  open_ = SIZE_MAX;
}

void worker_trace::park(const fiber& f, wait_reason why, std::int64_t ts) noexcept {
  if (full()) return;
  events_.push_back({ts, -1, f.id_, "park", nullptr, 0, why});
}

void worker_trace::instant(const char* what, std::uint64_t fiber_id, std::int64_t ts) noexcept {
  if (full()) return;
  events_.push_back({ts, -1, fiber_id, what, nullptr, 0, wait_reason::none});
}

namespace {
void append_escaped(std::string& out, const char* s) {
  for (; *s; ++s) {
    if (*s == '"' || *s == '\\') out += '\\';
    out += *s;
  }
}
void append_us(std::string& out, std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", double(ns) / 1000.0);
  out += buf;
}
}  // namespace

void worker_trace::write_json(std::string& out, unsigned tid, std::int64_t t0, bool& first) const {
  auto sep = [&] {
    if (!first) out += ",\n";
    first = false;
  };
  sep();
  out += R"({"ph":"M","name":"thread_name","pid":1,"tid":)" + std::to_string(tid) +
         R"(,"args":{"name":"worker )" + std::to_string(tid) + "\"}}";
  for (const event& e : events_) {
    sep();
    if (!e.name) {
      out += R"({"ph":"X","pid":1,"tid":)" + std::to_string(tid) + R"(,"name":"goroutine )" +
             std::to_string(e.fiber_id) + " (";
      append_escaped(out, e.file);
      out += ":" + std::to_string(e.line) + R"x()","ts":)x";
      append_us(out, e.ts - t0);
      out += R"(,"dur":)";
      append_us(out, e.dur < 0 ? 0 : e.dur);
      out += "}";
    } else {
      out += R"({"ph":"i","s":"t","pid":1,"tid":)" + std::to_string(tid) + R"(,"name":")";
      append_escaped(out, e.name);
      if (e.reason != wait_reason::none) {
        out += ": ";
        out += wait_reason_text(e.reason);
      }
      out += R"(","ts":)";
      append_us(out, e.ts - t0);
      out += R"(,"args":{"goroutine":)" + std::to_string(e.fiber_id) + "}}";
    }
  }
  if (dropped_) {
    sep();
    out += R"({"ph":"i","s":"g","pid":1,"tid":)" + std::to_string(tid) + R"(,"name":"trace buffer full: )" +
           std::to_string(dropped_) + R"( events dropped","ts":0})";
  }
}

bool write_trace_file(const std::string& path, const std::vector<const worker_trace*>& workers,
                      std::int64_t t0) {
  std::string out = "{\"traceEvents\":[\n";
  bool first = true;
  for (unsigned i = 0; i < workers.size(); ++i) workers[i]->write_json(out, i, t0, first);
  out += "\n],\"displayTimeUnit\":\"ns\"}\n";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  ok = (std::fclose(f) == 0) && ok;
  return ok;
}

}  // namespace gort::detail
