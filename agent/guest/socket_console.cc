#include "agent/guest/socket_console.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/errno_status.h"

namespace emu::agent::guest {
namespace {

constexpr size_t kKeep = 1 << 20;

absl::StatusOr<int> ConnectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path too long: ", path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int e = errno;
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("connect ", path, ": ", strerror(e)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SocketConsole>> SocketConsole::Connect(
    const std::string& socket_path, const std::string& log_path,
    absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<int> fd;
  while (true) {
    fd = ConnectUnix(socket_path);
    if (fd.ok() || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!fd.ok()) return fd.status();
  int log_fd = -1;
  if (!log_path.empty()) {
    log_fd =
        open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }
  return std::unique_ptr<SocketConsole>(
      new SocketConsole(*fd, socket_path, log_fd));
}

SocketConsole::SocketConsole(int fd, std::string path, int log_fd)
    : fd_(fd), path_(std::move(path)), log_fd_(log_fd) {
  if (pipe2(wake_, O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
  reader_ = std::thread([this] { ReaderLoop(); });
}

SocketConsole::~SocketConsole() {
  if (wake_[1] >= 0) (void)!write(wake_[1], "x", 1);
  shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  close(fd_);
  if (log_fd_ >= 0) close(log_fd_);
  for (int f : wake_) {
    if (f >= 0) close(f);
  }
}

void SocketConsole::ReaderLoop() {
  char buf[4096];
  while (true) {
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(p, wake_[0] >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[1].revents) break;
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (log_fd_ >= 0) (void)!write(log_fd_, buf, n);
    absl::MutexLock lock(&mu_);
    buf_.append(buf, n);
    if (buf_.size() > kKeep) buf_.erase(0, buf_.size() - kKeep);
    for (auto& [id, fn] : subscribers_) fn(absl::string_view(buf, n), false);
  }
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (auto& [id, fn] : subscribers_) fn("", true);
}

int SocketConsole::Subscribe(Subscriber fn) {
  absl::MutexLock lock(&mu_);
  if (closed_) fn("", true);
  int id = ++next_id_;
  subscribers_[id] = std::move(fn);
  return id;
}

void SocketConsole::Unsubscribe(int id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
}

absl::Status SocketConsole::Write(absl::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("console ", path_, ": ", strerror(errno)));
    }
    off += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SocketConsole::Read(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return !buf_.empty() || closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (buf_.empty() && closed_) {
    return absl::UnavailableError(
        absl::StrCat("console ", path_, " closed (QEMU gone)"));
  }
  std::string out;
  out.swap(buf_);
  return out;
}

absl::StatusOr<std::string> UnixQmpClient::Execute(
    const std::string& socket_path, const std::string& command,
    absl::Duration timeout) {
  auto fd = ConnectUnix(socket_path);
  if (!fd.ok()) return fd.status();
  absl::Time deadline = absl::Now() + timeout;
  std::string buf;
  // Reads one JSON line that holds `key` (skipping events and greeting).
  auto read_line_with =
      [&](const std::string& key) -> absl::StatusOr<std::string> {
    while (true) {
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (line.find(key) != std::string::npos ||
            line.find("\"error\"") != std::string::npos) {
          return line;
        }
      }
      int left =
          static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (left <= 0) return absl::DeadlineExceededError("QMP timeout");
      pollfd p{*fd, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) continue;
      char tmp[4096];
      ssize_t n = read(*fd, tmp, sizeof(tmp));
      if (n <= 0) return absl::UnavailableError("QMP closed");
      buf.append(tmp, n);
    }
  };
  auto send_cmd = [&](const std::string& c) {
    // A whole JSON object (a command with arguments) goes as is.
    std::string msg = !c.empty() && c[0] == '{'
                          ? absl::StrCat(c, "\n")
                          : absl::StrCat("{\"execute\": \"", c, "\"}\n");
    return send(*fd, msg.data(), msg.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(msg.size());
  };
  absl::StatusOr<std::string> result;
  auto greeting = read_line_with("\"QMP\"");
  if (!greeting.ok()) {
    result = greeting.status();
  } else if (!send_cmd("qmp_capabilities") ||
             !read_line_with("\"return\"").ok() || !send_cmd(command)) {
    result = absl::UnavailableError("QMP negotiation failed");
  } else {
    result = read_line_with("\"return\"");
  }
  close(*fd);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("QMP ", socket_path, " ", command, ": ",
                                     result.status().message()));
  }
  return result;
}

}  // namespace emu::agent::guest
