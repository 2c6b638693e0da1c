// SocketConsole: the ConsoleChannel of a running guest, over the unix
// socket of QEMU's first serial port (-chardev socket,server=on). A reader
// thread drains the socket continuously (so a chatty guest never stalls on
// a full console), appends everything to a log file, and keeps the last
// 1 MiB for Read.
//
// Thread-safe. Owns its socket and thread; the destructor stops both.
#ifndef EMU_AGENT_GUEST_SOCKET_CONSOLE_H_
#define EMU_AGENT_GUEST_SOCKET_CONSOLE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/guest/console_session.h"

namespace emu::agent::guest {

class SocketConsole : public ConsoleChannel {
 public:
  // Connects to `socket_path`, retrying until `timeout` (QEMU creates the
  // socket shortly after it starts). `log_path` may be empty.
  static absl::StatusOr<std::unique_ptr<SocketConsole>> Connect(
      const std::string& socket_path, const std::string& log_path,
      absl::Duration timeout);
  ~SocketConsole() override;

  absl::Status Write(absl::string_view bytes) override;
  absl::StatusOr<std::string> Read(absl::Duration timeout) override;

  // Also hands every received chunk to `fn` (an attached person), from the
  // reader thread, under the console's lock: `fn` must not block or call
  // back into the console. `fn("", true)` once when the console closes.
  // Returns an id for Unsubscribe; after Unsubscribe returns, `fn` is not
  // called again.
  using Subscriber = std::function<void(absl::string_view data, bool closed)>;
  int Subscribe(Subscriber fn);
  void Unsubscribe(int id);

 private:
  SocketConsole(int fd, std::string path, int log_fd);
  void ReaderLoop();

  const int fd_;
  const std::string path_;
  const int log_fd_;
  int wake_[2] = {-1, -1};  // tells the reader to stop
  absl::Mutex mu_;
  std::string buf_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

// One QMP command over QEMU's QMP unix socket: connects, negotiates
// capabilities, sends {"execute": command}, returns the reply line
// ({"return": ...} or {"error": ...}; events are skipped). `command` may
// also be a whole JSON object ({"execute": ..., "arguments": {...}}), sent
// as is. Stateless.
class QmpClient {
 public:
  virtual ~QmpClient() = default;
  virtual absl::StatusOr<std::string> Execute(const std::string& socket_path,
                                              const std::string& command,
                                              absl::Duration timeout) = 0;
};

class UnixQmpClient : public QmpClient {
 public:
  absl::StatusOr<std::string> Execute(const std::string& socket_path,
                                      const std::string& command,
                                      absl::Duration timeout) override;
};

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_SOCKET_CONSOLE_H_
