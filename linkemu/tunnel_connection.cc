#include "linkemu/tunnel_connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"

namespace emu::linkemu {
namespace {

class Plain : public TunnelConnection {
 public:
  Plain(int fd, bool owns) : fd_(fd), owns_(owns) {}
  ~Plain() override {
    if (owns_) close(fd_);
  }

  int fd() const override { return fd_; }

  absl::StatusOr<size_t> Read(char* buf, size_t len) override {
    while (true) {
      ssize_t n = recv(fd_, buf, len, 0);
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0) {
        return absl::UnavailableError("tunnel peer closed the connection");
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return ErrnoToStatus(errno, "tunnel recv");
    }
  }

  absl::StatusOr<size_t> Write(const char* data, size_t len) override {
    while (true) {
      ssize_t n = send(fd_, data, len, MSG_NOSIGNAL);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return ErrnoToStatus(errno, "tunnel send");
    }
  }

  std::string Describe() const override { return "plain"; }

 private:
  const int fd_;
  const bool owns_;
};

}  // namespace

std::unique_ptr<TunnelConnection> PlainConnection(int fd, bool take_fd) {
  return std::make_unique<Plain>(fd, take_fd);
}

absl::Status ReadExact(TunnelConnection& conn, char* buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    auto n = conn.Read(buf + got, len - got);
    if (!n.ok()) {
      if (absl::IsUnavailable(n.status()) &&
          n.status().message() == "tunnel peer closed the connection") {
        return absl::UnavailableError("tunnel handshake: connection closed");
      }
      return absl::UnavailableError(
          absl::StrCat("tunnel handshake: ", n.status().message()));
    }
    if (*n == 0) return absl::UnavailableError("tunnel handshake: timed out");
    got += *n;
  }
  return absl::OkStatus();
}

absl::Status WriteAll(TunnelConnection& conn, absl::string_view bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = conn.Write(bytes.data() + sent, bytes.size() - sent);
    if (!n.ok()) {
      return absl::UnavailableError(
          absl::StrCat("tunnel handshake: send: ", n.status().message()));
    }
    if (*n == 0) {
      return absl::UnavailableError("tunnel handshake: send timed out");
    }
    sent += *n;
  }
  return absl::OkStatus();
}

}  // namespace emu::linkemu
