#include "common/server_util.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/auth.h"
#include "common/errno_status.h"
#include "common/grpc_limits.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "grpcpp/security/server_credentials.h"

namespace emu {

bool IsDaemonFlagFile(absl::string_view file) {
  return !absl::StrContains(file, "absl/flags/");
}

void SetDaemonUsage(absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = &IsDaemonFlagFile;
  config.contains_helpshort_flags = &IsDaemonFlagFile;
  absl::SetFlagsUsageConfig(config);
}

absl::Status CheckListenAddress(const std::string& address) {
  if (absl::StartsWith(address, "unix:")) return absl::OkStatus();
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address,
                     "': expected HOST:PORT, e.g. 127.0.0.1:7470"));
  }
  return absl::OkStatus();
}

namespace {

constexpr char kUnixPrefix[] = "unix:";
// The group that may call a daemon on its unix socket (issue 9).
constexpr char kSocketGroup[] = "emu";

// The socket path of "unix:/path" (also "unix:///path"), else empty.
std::string UnixSocketPath(const std::string& address) {
  if (!absl::StartsWith(address, kUnixPrefix)) return "";
  std::string path = address.substr(sizeof(kUnixPrefix) - 1);
  if (absl::StartsWith(path, "//")) path = path.substr(2);
  return path;
}

}  // namespace

absl::Status SecureUnixSocket(const std::string& path,
                              const std::string& group) {
  if (!group.empty()) {
    struct group* g = getgrnam(group.c_str());
    if (g != nullptr && chown(path.c_str(), -1, g->gr_gid) != 0) {
      return ErrnoToStatus(errno,
                           absl::StrCat("chgrp ", group, " socket ", path));
    }
  }
  if (chmod(path.c_str(), 0660) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("chmod 0660 socket ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& address, const std::vector<grpc::Service*>& services,
    const TransportSecurity& transport, const std::string& port_file,
    int* bound_port,
    std::vector<std::unique_ptr<
        grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors) {
  absl::Status valid = CheckListenAddress(address);
  if (!valid.ok()) return valid;
  const std::string socket_path = UnixSocketPath(address);
  if (!socket_path.empty()) {
    const std::filesystem::path parent =
        std::filesystem::path(socket_path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("create directory ",
                                              parent.string(), " for socket ",
                                              socket_path, ": ", ec.message()));
    }
    // A socket left by a daemon that died would make the bind fail; any
    // other kind of file there is not ours to remove.
    struct stat st;
    if (lstat(socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      unlink(socket_path.c_str());
    }
  }
  grpc::ServerBuilder builder;
  // Mutual TLS with the cluster's certificates (or plain text when the
  // operator asked for it); the bearer token authenticates users on top.
  builder.AddListeningPort(address, ServerCredentials(transport), bound_port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  for (grpc::Service* s : services) builder.RegisterService(s);
  if (!interceptors.empty()) {
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr ||
      (*bound_port == 0 && !absl::StartsWith(address, "unix:"))) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address,
                     " (address in use, or not an address of this host)"));
  }
  if (!socket_path.empty()) {
    // gRPC creates the socket with the umask's mode; narrow it before the
    // caller announces the address.
    absl::Status secured = SecureUnixSocket(socket_path, kSocketGroup);
    if (!secured.ok()) {
      server->Shutdown();
      return secured;
    }
  }
  if (!port_file.empty()) {
    EMU_RETURN_IF_ERROR(WritePortFile(port_file, *bound_port));
  }
  return server;
}

absl::Status WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << port << "\n";
    if (!out) {
      return absl::InternalError(absl::StrCat("write port file ", tmp));
    }
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("rename ", tmp));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GenerateTokenFile(const std::string& path) {
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  // The state directory may not exist on a first start (/var/lib/emu/...);
  // the one holding the token is made 0700, its parents 0755.
  if (!parent.empty() && !std::filesystem::exists(parent)) {
    std::error_code ec;
    std::filesystem::create_directories(parent.parent_path(), ec);
    if (mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoToStatus(errno,
                           absl::StrCat("create directory ", parent.string(),
                                        " for token ", path));
    }
  }
  unsigned char raw[32];
  {
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    if (!urandom.read(reinterpret_cast<char*>(raw), sizeof(raw))) {
      return absl::InternalError("read /dev/urandom for a new token");
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char c : raw) {
    token.push_back(kHex[c >> 4]);
    token.push_back(kHex[c & 15]);
  }
  const int fd = open(
      path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("create token ", path));
  const std::string line = token + "\n";
  const bool written =
      write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const int saved = errno;
  close(fd);
  if (!written) {
    unlink(path.c_str());
    return ErrnoToStatus(saved, absl::StrCat("write token ", path));
  }
  return token;
}

absl::StatusOr<std::string> LoadServerToken(const std::string& token_file,
                                            const std::string& generated_file) {
  if (!token_file.empty()) return ReadTokenFile(token_file);
  if (generated_file.empty()) {
    return absl::InvalidArgumentError(
        "no --token_file and no state directory for a generated token");
  }
  if (access(generated_file.c_str(), F_OK) == 0) {
    Log("no --token_file: using the generated token in ", generated_file);
    return ReadTokenFile(generated_file);
  }
  absl::StatusOr<std::string> token = GenerateTokenFile(generated_file);
  if (token.ok()) {
    Log("no --token_file: generated a token into ", generated_file,
        " (mode 0600); callers need it: emuctl --token-file=", generated_file);
  }
  return token;
}

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForTerminationSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace emu
