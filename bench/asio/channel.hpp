// Awaitable Go-style primitives for asio-bench, written once for this peer.
//
// Boost 1.74 (Debian 12) has no asio::experimental::channel (it came with
// Boost 1.80), so the peer carries a minimal equivalent of
// asio::experimental::concurrent_channel, with the same completion
// signatures, usable from any thread of a multi-threaded io_context:
//
//   channel<T>(capacity)   capacity 0: every send waits for a receiver.
//     async_send(v, token)    void(error_code): done once v is buffered or
//                             taken; asio::error::broken_pipe if the channel
//                             is closed (Go would panic).
//     async_receive(token)    void(error_code, T): the oldest value;
//                             asio::error::eof once closed and drained.
//     close()                 wakes every waiter (receivers get eof).
//   wait_group             counts down once from add(n), n > 0; one waiter.
//     async_wait(token)       void(): done once done() was called n times.
//
// Completion follows Asio's rules: a handler is never invoked inside the
// initiating call; a waiting operation's handler (and one that can complete
// at once) is posted to its associated executor, with the operation counted
// as outstanding work while it waits. Waiting handlers are type-erased (one
// allocation per wait). A std::mutex guards each object.
//
// Invariants of channel<T> (under mu_): receivers_ non-empty => buf_ and
// senders_ empty; senders_ non-empty => buf_.size() == capacity_ and
// receivers_ empty; closed_ => receivers_ and senders_ empty.
// wait_group: fired_ (under mu_) is set once, by the done() that brings n_ to
// zero; the object is not touched by that done() after it releases mu_, so
// the waiter may destroy the wait_group as soon as it resumes.
#pragma once

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace asio_peer {

namespace asio = boost::asio;
using boost::system::error_code;

namespace detail {

// Posts `h(args...)` to h's associated executor. Any thread.
template <typename Handler, typename... Args>
void post_completion(Handler&& h, Args&&... args) {
  auto ex = asio::get_associated_executor(h);
  asio::post(ex, [h = std::forward<Handler>(h), ... a = std::forward<Args>(args)]() mutable {
    std::move(h)(std::move(a)...);
  });
}

// A completion handler of signature void(Args...) kept while its operation
// waits; holds outstanding work on the handler's executor meanwhile.
// complete() (once, any thread) posts it.
template <typename... Args>
class waiter {
 public:
  template <typename Handler>
  explicit waiter(Handler&& h) : op_(std::make_unique<op<std::decay_t<Handler>>>(std::forward<Handler>(h))) {}

  void complete(Args... args) && {
    std::unique_ptr<base> op = std::move(op_);
    op->post(std::move(args)...);
  }

 private:
  struct base {
    virtual ~base() = default;
    virtual void post(Args... args) = 0;
  };
  template <typename Handler>
  struct op final : base {
    using work_t = std::decay_t<decltype(asio::prefer(std::declval<asio::associated_executor_t<Handler>>(),
                                                      asio::execution::outstanding_work.tracked))>;
    explicit op(Handler&& h)
        : work(asio::prefer(asio::get_associated_executor(h), asio::execution::outstanding_work.tracked)),
          handler(std::move(h)) {}
    void post(Args... args) override {
      asio::post(work, [h = std::move(handler), ... a = std::move(args)]() mutable {
        std::move(h)(std::move(a)...);
      });
    }
    work_t work;
    Handler handler;
  };
  std::unique_ptr<base> op_;
};

}  // namespace detail

template <typename T>
class channel {
 public:
  explicit channel(std::size_t capacity = 0) : capacity_(capacity) {}
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  // Any thread.
  template <typename Token>
  auto async_send(T value, Token&& token) {
    return asio::async_initiate<Token, void(error_code)>(
        [this](auto handler, T v) { start_send(std::move(handler), std::move(v)); }, token, std::move(value));
  }

  // Any thread.
  template <typename Token>
  auto async_receive(Token&& token) {
    return asio::async_initiate<Token, void(error_code, T)>(
        [this](auto handler) { start_receive(std::move(handler)); }, token);
  }

  // Any thread. Idempotent.
  void close() {
    std::deque<recv_waiter> receivers;
    std::deque<send_waiter> senders;
    {
      std::lock_guard lk(mu_);
      closed_ = true;
      receivers.swap(receivers_);
      senders.swap(senders_);
    }
    for (auto& r : receivers) std::move(r).complete(asio::error::eof, T{});
    for (auto& s : senders) std::move(s.op).complete(asio::error::broken_pipe);
  }

 private:
  using recv_waiter = detail::waiter<error_code, T>;
  using send_op = detail::waiter<error_code>;
  struct send_waiter {
    T value;
    send_op op;
  };

  template <typename Handler>
  void start_send(Handler&& h, T v) {
    std::unique_lock lk(mu_);
    if (closed_) {
      lk.unlock();
      detail::post_completion(std::move(h), error_code(asio::error::broken_pipe));
    } else if (!receivers_.empty()) {  // hand v over: buf_ is empty
      recv_waiter r = std::move(receivers_.front());
      receivers_.pop_front();
      lk.unlock();
      std::move(r).complete(error_code(), std::move(v));
      detail::post_completion(std::move(h), error_code());
    } else if (buf_.size() < capacity_) {
      buf_.push_back(std::move(v));
      lk.unlock();
      detail::post_completion(std::move(h), error_code());
    } else {
      senders_.push_back(send_waiter{std::move(v), send_op(std::move(h))});
    }
  }

  template <typename Handler>
  void start_receive(Handler&& h) {
    std::unique_lock lk(mu_);
    if (!buf_.empty()) {  // take the oldest; the first waiting sender refills
      T v = std::move(buf_.front());
      buf_.pop_front();
      std::optional<send_op> refilled;
      if (!senders_.empty()) {
        buf_.push_back(std::move(senders_.front().value));
        refilled.emplace(std::move(senders_.front().op));
        senders_.pop_front();
      }
      lk.unlock();
      if (refilled) std::move(*refilled).complete(error_code());
      detail::post_completion(std::move(h), error_code(), std::move(v));
    } else if (!senders_.empty()) {  // capacity 0: take from the sender
      send_waiter s = std::move(senders_.front());
      senders_.pop_front();
      lk.unlock();
      std::move(s.op).complete(error_code());
      detail::post_completion(std::move(h), error_code(), std::move(s.value));
    } else if (closed_) {
      lk.unlock();
      detail::post_completion(std::move(h), error_code(asio::error::eof), T{});
    } else {
      receivers_.emplace_back(std::move(h));
    }
  }

  const std::size_t capacity_;
  std::mutex mu_;
  std::deque<T> buf_;                  // guarded by mu_
  std::deque<recv_waiter> receivers_;  // guarded by mu_
  std::deque<send_waiter> senders_;    // guarded by mu_
  bool closed_ = false;                // guarded by mu_
};

class wait_group {
 public:
  // Before the wait completes (any thread): n more done() calls are due.
  void add(std::int64_t n) { n_.fetch_add(n, std::memory_order_relaxed); }

  // Any thread. The acq_rel decrements form one release sequence: the
  // done() that reaches zero sees every earlier one's writes, and hands them
  // to the waiter through mu_.
  void done() {
    if (n_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::optional<detail::waiter<>> w;
    {
      std::lock_guard lk(mu_);
      fired_ = true;
      w.swap(waiter_);
    }
    if (w) std::move(*w).complete();
  }

  // Any thread; one waiter.
  template <typename Token>
  auto async_wait(Token&& token) {
    return asio::async_initiate<Token, void()>(
        [this](auto handler) {
          std::unique_lock lk(mu_);
          if (fired_) {
            lk.unlock();
            detail::post_completion(std::move(handler));
          } else {
            waiter_.emplace(std::move(handler));
          }
        },
        token);
  }

 private:
  std::atomic<std::int64_t> n_{0};
  std::mutex mu_;
  bool fired_ = false;                      // guarded by mu_
  std::optional<detail::waiter<>> waiter_;  // guarded by mu_
};

}  // namespace asio_peer
