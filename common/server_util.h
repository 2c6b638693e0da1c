// Shared start-up plumbing of the emu daemons: usage text, bind, write the
// bound port, and shut down cleanly on SIGINT/SIGTERM.
#ifndef EMU_COMMON_SERVER_UTIL_H_
#define EMU_COMMON_SERVER_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"
#include "common/transport_security.h"

namespace emu {

// Sets the daemon's usage message and makes `--help` list the daemon's own
// flags. (Abseil's default picks the flags of a file named after the program
// or ".../main.cc" with a leading slash; Bazel compiles "controller/main.cc",
// so --help printed "No flags matched".) Call before absl::ParseCommandLine.
void SetDaemonUsage(absl::string_view usage);

// True for the flags --help lists: those defined in emu's own files, not
// Abseil's built-in ones (--flagfile, --help...). Exposed for its test.
bool IsDaemonFlagFile(absl::string_view file);

// Validates a listen address: "HOST:PORT", "[v6]:PORT" or "unix:/path".
absl::Status CheckListenAddress(const std::string& address);

// Builds and starts a server on `address` with `services` (borrowed).
// For "unix:/path" the parent directory is created (0755) and the socket
// is made mode 0660, group `emu` when that group exists, so that only root
// and the emu group can call the daemon. Writes the bound port to `port_file`
// when it is not empty (port 0 in the address picks a free one). Messages are
// limited to kMaxMessageBytes both ways (common/grpc_limits.h). The port
// uses `transport`'s credentials (mutual TLS, or explicitly plain text).
// `interceptors` see every call (e.g. common/metrics/rpc_metrics.h).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& address, const std::vector<grpc::Service*>& services,
    const TransportSecurity& transport, const std::string& port_file,
    int* bound_port,
    std::vector<std::unique_ptr<
        grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors = {});

// Writes `port` and a newline to `path` atomically (a temporary file
// renamed), so a reader never sees half a number.
absl::Status WritePortFile(const std::string& path, int port);

// The daemons' token: read from `token_file` (see ReadTokenFile). Without
// one, a daemon never serves anonymous callers: the token is read from
// `generated_file` (in the daemon's state directory) or, when that does not
// exist, a random one is written there (mode 0600, parent created 0700) and
// its path logged, so the operator can hand it to emuctl (--token-file).
absl::StatusOr<std::string> LoadServerToken(const std::string& token_file,
                                            const std::string& generated_file);

// Writes a new random token (32 bytes from /dev/urandom, hex) to `path`,
// mode 0600, created exclusively so a racing writer or a symlink is refused.
absl::StatusOr<std::string> GenerateTokenFile(const std::string& path);

// Socket permissions of StartServer for a unix address; exposed for tests.
// `group` empty: leave the group as is.
absl::Status SecureUnixSocket(const std::string& path,
                              const std::string& group);

// Blocks SIGINT and SIGTERM in the calling thread (call first in main,
// before any thread starts), then waits for one of them and returns it.
void BlockTerminationSignals();
int WaitForTerminationSignal();

}  // namespace emu

#endif  // EMU_COMMON_SERVER_UTIL_H_
