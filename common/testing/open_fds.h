// How many file descriptors this process has open: a test's check that
// what it made (sockets, TAPs, namespaces' fds) was closed again.
#ifndef EMU_COMMON_TESTING_OPEN_FDS_H_
#define EMU_COMMON_TESTING_OPEN_FDS_H_

#include <dirent.h>

namespace emu::testing {

// Entries of /proc/self/fd (including ".", ".." and the directory's own
// fd while it is read: compare counts, not absolute numbers).
inline int OpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

}  // namespace emu::testing

#endif  // EMU_COMMON_TESTING_OPEN_FDS_H_
