#include "deploy/process_table.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace emu::deploy {
namespace {

absl::string_view Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::optional<uint64_t> ParseProcStatStartTime(absl::string_view line) {
  // "pid (comm) state ppid ..." where comm may contain anything: fields
  // after the last ')' are space separated; state is field 3, starttime 22.
  size_t paren = line.rfind(')');
  if (paren == absl::string_view::npos) return std::nullopt;
  std::vector<absl::string_view> fields =
      absl::StrSplit(line.substr(paren + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state), so field 22 is fields[19].
  if (fields.size() < 20) return std::nullopt;
  if (fields[0] == "Z" || fields[0] == "X" || fields[0] == "x") {
    return std::nullopt;
  }
  uint64_t start = 0;
  if (!absl::SimpleAtoi(fields[19], &start)) return std::nullopt;
  return start;
}

std::vector<std::string> SplitCmdline(absl::string_view cmdline) {
  if (!cmdline.empty() && cmdline.back() == '\0') cmdline.remove_suffix(1);
  if (cmdline.empty()) return {};
  return absl::StrSplit(cmdline, '\0');
}

bool ArgvRunsBinary(const std::vector<std::string>& argv,
                    absl::string_view binary_name) {
  for (size_t i = 0; i < argv.size() && i < 2; ++i) {
    if (Basename(argv[i]) == binary_name) return true;
  }
  return false;
}

bool IsRecordedProcess(const ProcessIdentity& identity, uint64_t start_time,
                       absl::string_view binary_name) {
  if (start_time != 0 && identity.start_time != start_time) return false;
  return ArgvRunsBinary(identity.argv, binary_name);
}

std::optional<ProcessIdentity> ProcfsProcessTable::Lookup(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const std::string dir = absl::StrCat("/proc/", pid);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (!stat || !std::getline(stat, line)) return std::nullopt;
  std::optional<uint64_t> start = ParseProcStatStartTime(line);
  if (!start.has_value()) return std::nullopt;
  std::ifstream cmdline(dir + "/cmdline", std::ios::binary);
  std::stringstream content;
  content << cmdline.rdbuf();
  ProcessIdentity identity;
  identity.start_time = *start;
  identity.argv = SplitCmdline(content.str());
  return identity;
}

std::vector<pid_t> ProcfsProcessTable::List() {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(entry.path().filename().string(), &pid) && pid > 0) {
      pids.push_back(pid);
    }
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

}  // namespace emu::deploy
