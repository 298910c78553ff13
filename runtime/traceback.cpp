// Fiber blocks with call stacks, as every report prints them (Go's
// traceback; docs/api.md, "Call stacks"):
//
//   goroutine 7 [chan receive, 3 minutes]:
//   consumer(gort::chan<int>)
//   	/src/app.cpp:42
//   main::{lambda()#1}::operator()() const
//   	/src/app.cpp:60
//   created by goroutine 1 at /src/app.cpp:58
//
// A report of many fibers stays readable: past the first k_group_after
// fibers with the same state, stack, lock holder and creation site, the
// others are named on one line of ids after the last of those (as panicparse
// folds Go dumps), never left out.
#include <algorithm>
#include <cstring>
#include <map>

#include "runtime/core.hpp"
#include "runtime/fatal.hpp"
#include "runtime/traceback.hpp"

namespace gort::detail {

namespace {

constexpr std::size_t k_group_after = 5;
constexpr std::int64_t k_minute_ns = 60'000'000'000;

void append_location(std::string& out, const location& loc) {
  out += loc.file_name();
  out += ':';
  out += std::to_string(unsigned(loc.line()));
}

// "3-7, 9, 12-15"
std::string id_ranges(const std::vector<std::uint64_t>& ids) {
  std::string out;
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(ids[i]);
    if (j > i) out += (j == i + 1 ? ", " : "-") + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

// What makes two blocks the same for grouping.
std::string group_key(const block_info& b) {
  std::string key = b.state;
  key += '|';
  key += b.stack.missing ? b.stack.missing : "";
  key += '|' + std::to_string(b.holder) + '|';
  if (b.f->is_main_) return key + "main";
  append_location(key, b.f->created_at_);
  key.append(reinterpret_cast<const char*>(b.stack.pcs.data()), b.stack.pcs.size() * sizeof(std::uintptr_t));
  return key;
}

}  // namespace

std::string wait_duration_text(std::int64_t blocked_ns) {
  return blocked_ns >= k_minute_ns ? duration_text(blocked_ns) : std::string();
}

std::string block_status(std::string_view state, std::string_view detail, bool system) {
  std::string out(state);
  if (!detail.empty()) {
    out += ", ";
    out += detail;
  }
  if (system) out += ", system";
  return out;
}

void append_block(std::string& out, const block_info& b, traceback_session& ts, bool show_system) {
  const fiber& f = *b.f;
  out += "goroutine ";
  out += std::to_string(f.id_);
  out += " [";
  out += block_status(b.state, b.detail, f.system_);
  out += "]:\n";
  if (ts.append_frames(out, b.stack, show_system) == 0 && b.blocked) {
    // No frame to show: the one line of where it blocked, the user's if known.
    std::string where = ts.user_location(b.stack);
    out += '\t';
    if (where.empty())
      append_location(out, f.blocked_at_);
    else
      out += where;
    out += '\n';
  }
  if (b.stack.missing) {
    out += "\t(";
    out += b.stack.missing;
    out += ")\n";
  }
  if (b.holder) {
    out += "\theld by goroutine ";
    out += std::to_string(b.holder);
    out += '\n';
  }
  if (!f.is_main_) {
    out += "created by goroutine ";
    out += std::to_string(f.creator_id_);
    out += " at ";
    append_location(out, f.created_at_);
    out += '\n';
  }
}

void append_blocks(std::string& out, const std::vector<block_info>& bs, traceback_session& ts, bool show_system) {
  struct group {
    std::size_t shown = 0;       // blocks printed in full
    std::size_t last_shown = 0;  // index of the last of them
    std::vector<std::uint64_t> rest;
  };
  std::map<std::string, group> groups;
  std::vector<group*> of(bs.size());
  for (std::size_t i = 0; i < bs.size(); ++i) {
    group& g = groups[group_key(bs[i])];
    of[i] = &g;
    if (g.shown < k_group_after) {
      ++g.shown;
      g.last_shown = i;
    } else {
      g.rest.push_back(bs[i].f->id_);
    }
  }
  for (std::size_t i = 0; i < bs.size(); ++i) {
    group& g = *of[i];
    if (g.last_shown < i) continue;  // one of the rest
    append_block(out, bs[i], ts, show_system);
    out += '\n';
    if (g.last_shown == i && !g.rest.empty()) {
      out += std::to_string(g.rest.size()) + " more goroutines [" + block_status(bs[i].state, {}, bs[i].f->system_) +
             "] with the same stack as goroutine " + std::to_string(bs[i].f->id_) + ": " + id_ranges(g.rest) +
             "\n\n";
    }
  }
}

// Any thread but a signal handler, the runtime held alive.
block_info runtime::block_of(const fiber& f, traceback_session& ts, bool sample_running) {
  block_info b;
  b.f = &f;
  // Acquire: pairs with the release store of `waiting` in machine::parked(),
  // so a parked fiber's reason, location and stamps are complete.
  const fiber_state st = f.state_.load(std::memory_order_acquire);
  if (st == fiber_state::running) {
    b.state = "running";
    // A fiber the monitor saw hold its thread: for how long, so far.
    if (const std::int64_t ran = running_for(f); ran >= 1'000'000) b.detail = duration_text(ran) + " without switching";
    if (sample_running) {
      machine* self = machine_of_thread();
      if (self && self->current() == &f)
        b.stack = ts.here(f);
      else if (machine* m = machine_running(f))
        b.stack = ts.running(*m, f, stacks_.stack_size());
    }
    return b;
  }
  if (st == fiber_state::runnable) {
    b.state = "runnable";
  } else {
    b.state = wait_reason_text(f.reason_.load(std::memory_order_relaxed));
    b.blocked = true;
    const std::uint32_t since = f.blocked_since_.load(std::memory_order_relaxed);
    if (since > 0) b.detail = wait_duration_text(std::int64_t(coarse_seconds(now_ns()) - since) * 1'000'000'000);
    b.holder = wait_holder_of(f);
  }
  b.stack = ts.parked(f);
  return b;
}

std::string runtime::fiber_blocks(const std::vector<const fiber*>& fibers, bool sample_running) {
  traceback_session ts;
  std::vector<block_info> bs;
  bs.reserve(fibers.size());
  for (const fiber* f : fibers) bs.push_back(block_of(*f, ts, sample_running));
  std::string out;
  append_blocks(out, bs, ts, cfg_.env.traceback_system);
  return out;
}

}  // namespace gort::detail
