// gort::net calls under a context (declared in gort/net.hpp, which only
// forward-declares gort::context, so that net does not depend on this layer).
//
// Both shapes use a std::stop_callback on ctx.stop_token(): it runs inside
// the cancellation (any thread, the deadline's fiber included) and aborts
// the parked call by closing the socket, which wakes its IO wait. No extra
// fiber, no socket deadline to restore: the context's own timer is the
// deadline. The stop_callback's destructor waits for a callback in flight,
// so the socket is never touched after the call returned.
#include <stop_token>
#include <string>
#include <system_error>

#include "gort/context.hpp"
#include "gort/net.hpp"
#include "gort/runtime.hpp"
#include "net/dial.hpp"

namespace gort::net {

namespace {

[[noreturn]] void throw_context(std::error_code ec, const std::string& what) {
  throw std::system_error(ec, what);
}

// Runs op() (a read or write of `c`) so that `ctx` being done closes `c`.
template <class F>
auto under_context(const context& ctx, conn& c, const char* what, F&& op) {
  if (std::error_code e = ctx.err()) throw_context(e, what);
  std::stop_callback close_on_done(ctx.stop_token(), [&c] { c.close(); });
  try {
    return op();
  } catch (const std::system_error&) {
    if (std::error_code e = ctx.err()) throw_context(e, what);  // closed by us: say why
    throw;
  }
}

}  // namespace

conn dial(const context& ctx, std::string_view address, location where) {
  const std::string what = "dial " + std::string(address);
  if (std::error_code e = ctx.err()) throw_context(e, what);
  std::int64_t deadline = -1;
  if (auto d = ctx.deadline())
    deadline = std::chrono::duration_cast<std::chrono::nanoseconds>(d->time_since_epoch()).count();
  gort::detail::dial_abort abort;
  std::stop_callback abort_on_done(ctx.stop_token(), [&abort] { abort.abort(); });
  try {
    return gort::detail::dial_conn(address, deadline, &abort, where);
  } catch (const std::system_error&) {
    if (std::error_code e = ctx.err()) throw_context(e, what);
    // The socket's deadline (the context's) fired just before the context's
    // own timer did.
    if (deadline >= 0 && gort::detail::steady_now_ns() >= deadline)
      throw_context(context_errc::deadline_exceeded, what);
    throw;
  }
}

std::size_t read(const context& ctx, conn& c, std::span<std::byte> buf, location where) {
  return under_context(ctx, c, "read", [&] { return c.read(buf, where); });
}

std::size_t read(const context& ctx, conn& c, std::span<char> buf, location where) {
  return read(ctx, c, std::as_writable_bytes(buf), where);
}

void write(const context& ctx, conn& c, std::span<const std::byte> data, location where) {
  under_context(ctx, c, "write", [&] { c.write(data, where); });
}

void write(const context& ctx, conn& c, std::string_view data, location where) {
  write(ctx, c, std::as_bytes(std::span(data.data(), data.size())), where);
}

}  // namespace gort::net
