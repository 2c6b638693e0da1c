// A stand-in for `ssh ... -W host:port DEST` in unit tests of the SSH
// carrier (linkemu/tunnel_ssh.h), which run without an sshd: it connects to
// host:port on this machine itself and relays between that connection and
// its stdin/stdout until either side ends, as ssh's stdio forwarding does.
//
// DEST "deny.invalid" behaves like an sshd refusing the key (the message on
// stderr, exit 255). With FAKE_SSH_PID_DIR set, it writes its pid into
// <dir>/<pid> (and removes it at exit) so a test can kill it.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  std::string target;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "-W") == 0) target = argv[i + 1];
  }
  std::string dest = argc > 1 ? argv[argc - 1] : "";
  if (dest == "deny.invalid") {
    std::fprintf(stderr, "root@%s: Permission denied (publickey).\n",
                 dest.c_str());
    return 255;
  }
  size_t colon = target.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "fake ssh: want -W host:port\n");
    return 255;
  }
  std::string pid_file;
  if (const char* dir = std::getenv("FAKE_SSH_PID_DIR")) {
    pid_file = std::string(dir) + "/" + std::to_string(getpid());
    if (FILE* f = std::fopen(pid_file.c_str(), "w")) std::fclose(f);
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(std::atoi(target.substr(colon + 1).c_str()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::fprintf(stderr,
                 "channel 0: open failed: connect failed: Connection refused\n"
                 "stdio forwarding failed\n");
    if (!pid_file.empty()) unlink(pid_file.c_str());
    return 255;
  }
  char buf[65536];
  pollfd fds[2] = {{0, POLLIN, 0}, {s, POLLIN, 0}};
  while (poll(fds, 2, -1) > 0) {
    int from = (fds[0].revents & (POLLIN | POLLHUP)) ? 0 : 1;
    if (!(fds[from].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = read(from == 0 ? 0 : s, buf, sizeof(buf));
    if (n <= 0) break;
    int to = from == 0 ? s : 1;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(to, buf + off, n - off);
      if (w <= 0) goto done;
      off += w;
    }
  }
done:
  if (!pid_file.empty()) unlink(pid_file.c_str());
  return 0;
}
