// Parsing and resolving "host:port" addresses (Go's net.SplitHostPort and
// the resolver's numeric fast path). No shared state.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gort::detail {

struct endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family() const noexcept { return addr.ss_family; }
};

struct host_port {
  std::string host;  // without brackets; empty: unspecified
  std::uint16_t port = 0;
};

// Any thread. Splits "host:port", "[v6]:port" or ":port"; throws
// std::invalid_argument quoting `address` when it is malformed.
host_port split_host_port(std::string_view address);

// Any fiber or thread. The endpoints `address` names, in resolver order. An
// empty host means every interface ([::] dual-stack, then 0.0.0.0) when
// `passive`, else the loopback (127.0.0.1, ::1). A numeric host is parsed in
// place; a name is resolved with getaddrinfo through gort::blocking. Throws
// std::invalid_argument (malformed) or std::system_error (lookup failed).
std::vector<endpoint> resolve(std::string_view address, bool passive);

// Any thread. `sa` as Go's TCPAddr.String() writes it: "127.0.0.1:54321",
// "[::1]:8080", "[fe80::1%eth0]:80"; an IPv4-mapped IPv6 address as IPv4.
// Empty for a family other than IPv4 and IPv6.
std::string format_address(const sockaddr_storage& sa);
// Any thread. The local address `fd` is bound to, formatted as above; empty
// if getsockname fails.
std::string local_address_of(int fd);

}  // namespace gort::detail
