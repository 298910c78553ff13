// gort::net::reader (gort/net_reader.hpp). No shared state: a reader is
// used by one fiber at a time.
//
// Invariants: begin_ <= end_ <= size_; [begin_, end_) of buf_ holds the
// bytes read from the conn and not yet returned, in order. A call consumes
// bytes (advances begin_) only when it returns them, so a conn read that
// throws leaves every byte where it was.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "gort/net.hpp"

namespace gort::net {

reader::reader(conn& c, std::size_t buffer_size) : c_(&c), min_size_(buffer_size) {
  if (buffer_size == 0) throw std::invalid_argument("gort::net::reader: buffer_size = 0, must be at least 1");
  buf_ = std::make_unique_for_overwrite<char[]>(buffer_size);
  size_ = buffer_size;
}

// A moved-from reader holds nothing and reads nothing (its conn is gone):
// every read returns end of stream.
reader::reader(reader&& o) noexcept
    : c_(std::exchange(o.c_, nullptr)),
      min_size_(o.min_size_),
      buf_(std::move(o.buf_)),
      size_(std::exchange(o.size_, 0)),
      begin_(std::exchange(o.begin_, 0)),
      end_(std::exchange(o.end_, 0)) {}

reader& reader::operator=(reader&& o) noexcept {
  if (this != &o) {
    c_ = std::exchange(o.c_, nullptr);
    min_size_ = o.min_size_;
    buf_ = std::move(o.buf_);
    size_ = std::exchange(o.size_, 0);
    begin_ = std::exchange(o.begin_, 0);
    end_ = std::exchange(o.end_, 0);
  }
  return *this;
}

reader::~reader() = default;

// Reads more from the conn into the buffer, making room first (moving the
// buffered bytes to the front, or doubling a full buffer). False at end of
// stream. On a throw the buffered bytes are unchanged (if moved, intact).
bool reader::fill(const location& where) {
  if (!c_) return false;  // moved from
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (size_ > min_size_) {  // a long line made it grow: back to the size asked for
      buf_ = std::make_unique_for_overwrite<char[]>(min_size_);
      size_ = min_size_;
    }
  } else if (end_ == size_) {
    if (begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    } else {
      auto bigger = std::make_unique_for_overwrite<char[]>(size_ * 2);
      std::memcpy(bigger.get(), buf_.get(), end_);
      buf_ = std::move(bigger);
      size_ *= 2;
    }
    end_ -= begin_;
    begin_ = 0;
  }
  std::size_t n = c_->read(std::span<char>(buf_.get() + end_, size_ - end_), where);
  end_ += n;
  return n > 0;
}

// The next n buffered bytes, consumed.
std::string reader::take(std::size_t n) {
  std::string out(buf_.get() + begin_, n);
  begin_ += n;
  return out;
}

std::optional<std::string> reader::read_until(char delim, location where) {
  std::size_t scanned = 0;  // bytes after begin_ known to hold no delim (fill keeps them after begin_)
  for (;;) {
    const char* from = buf_.get() + begin_;
    if (const void* hit =
            end_ > begin_ ? std::memchr(from + scanned, delim, end_ - begin_ - scanned) : nullptr)
      return take(std::size_t(static_cast<const char*>(hit) - from) + 1);
    scanned = end_ - begin_;
    if (!fill(where)) {
      if (begin_ == end_) return std::nullopt;
      return take(end_ - begin_);  // the last piece, without delim
    }
  }
}

std::optional<std::string> reader::read_line(location where) {
  std::optional<std::string> line = read_until('\n', where);
  if (line && !line->empty() && line->back() == '\n') {
    line->pop_back();
    if (!line->empty() && line->back() == '\r') line->pop_back();
  }
  return line;
}

std::size_t reader::read(std::span<std::byte> buf, location where) {
  if (buf.empty()) return 0;
  if (begin_ == end_) {
    if (!c_) return 0;                                     // moved from
    if (buf.size() >= size_) return c_->read(buf, where);  // nothing to gain from copying
    if (!fill(where)) return 0;
  }
  const std::size_t n = std::min(buf.size(), end_ - begin_);
  std::memcpy(buf.data(), buf_.get() + begin_, n);
  begin_ += n;
  return n;
}

std::size_t reader::read(std::span<char> buf, location where) {
  return read(std::as_writable_bytes(buf), where);
}

}  // namespace gort::net
