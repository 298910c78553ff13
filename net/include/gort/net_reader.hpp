// gort::net::reader: a buffered reader over a conn (Go's bufio.Reader).
// Reference: docs/api.md, "Network and blocking calls". Included by
// gort/net.hpp.
//
// Nothing is lost when a read throws (a deadline, a reset): every byte that
// arrived stays in the buffer, and a later call (after a new deadline, say)
// returns it first. So read_line() after a timeout returns the whole line,
// including what came before the timeout.
//
// The buffer holds at least `buffer_size` bytes and grows to hold the
// longest line read_line()/read_until() had to return (Go's ReadString also
// grows without bound); it shrinks back once drained.
//
// A reader belongs to one fiber at a time (as the conn's reading side does).
// It refers to the conn, which must outlive it and stay where it is (do not
// move the conn while a reader uses it). Write to the conn directly.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "gort/location.hpp"

namespace gort::net {

class conn;

class reader {
 public:
  // Throws std::invalid_argument for a buffer_size of 0.
  explicit reader(conn& c, std::size_t buffer_size = 4096);
  reader(reader&&) noexcept;
  reader& operator=(reader&&) noexcept;
  ~reader();

  // One line, without its "\n" or "\r\n" (Go's ReadLine/ReadString('\n')).
  // At end of stream, a last line without a newline is returned first, then
  // std::nullopt. A "\r" not followed by "\n" stays in the line. Throws what
  // conn::read throws (timeout_error, ECONNRESET, ...), keeping the data.
  std::optional<std::string> read_line(location where = location::current());
  // Everything up to and including the next `delim` (Go's ReadString). At end
  // of stream, the rest without `delim`, then std::nullopt. Throws as
  // read_line().
  std::optional<std::string> read_until(char delim,
                                        location where = location::current());
  // Up to buf.size() bytes: buffered ones if any (without reading the conn),
  // else from one conn read (straight into `buf` when it is at least as large
  // as the buffer). 0 at end of stream, or when buf is empty. Throws as
  // conn::read.
  std::size_t read(std::span<std::byte> buf, location where = location::current());
  std::size_t read(std::span<char> buf, location where = location::current());
  // Bytes read from the conn and not yet returned (Go's Buffered).
  std::size_t buffered() const noexcept { return end_ - begin_; }

 private:
  bool fill(const location& where);
  std::string take(std::size_t n);

  conn* c_;
  std::size_t min_size_;         // the buffer_size asked for
  std::unique_ptr<char[]> buf_;  // [begin_, end_) is buffered data
  std::size_t size_ = 0;         // of buf_
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace gort::net
