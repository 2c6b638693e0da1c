#include "cli/remotes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "nlohmann/json.hpp"

namespace emu::cli {
namespace {

// ordered_json keeps the file in the order a person wrote the entries.
using Json = nlohmann::ordered_json;

// The string member `key` of `object` into `out`; absent or null leaves
// `out` alone.
absl::Status ReadString(const Json& object, const char* key,
                        const std::string& where, std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", key, "\" must be a string"));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

}  // namespace

std::string RemotesFilePath(absl::string_view xdg_config_home,
                            absl::string_view home) {
  if (!xdg_config_home.empty()) {
    return absl::StrCat(xdg_config_home, "/emu/remotes.json");
  }
  if (!home.empty()) return absl::StrCat(home, "/.config/emu/remotes.json");
  return "";
}

absl::Status CheckRemoteName(absl::string_view name) {
  bool ok =
      !name.empty() && name.size() <= 64 && name[0] != '-' && name[0] != '.';
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '.' || c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("remote name '", name,
                   "': use 1-64 letters, digits, '.', '_' or '-' (not first)"));
}

absl::StatusOr<Remotes> ReadRemotes(const std::string& path) {
  Remotes remotes;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return remotes;
    return ErrnoToStatus(errno, absl::StrCat("remotes file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  Json root = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("remotes file ", path, ": not a JSON object"));
  }
  absl::Status s = ReadString(root, "default", path, &remotes.default_name);
  if (!s.ok()) return s;
  auto list = root.find("remotes");
  if (list == root.end() || list->is_null()) return remotes;
  if (!list->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("remotes file ", path, ": \"remotes\" must be a list"));
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& e = (*list)[i];
    const std::string where = absl::StrCat(path, ": remotes[", i, "]");
    if (!e.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": not an object"));
    }
    Remote r;
    for (auto [key, out] :
         {std::pair<const char*, std::string*>{"name", &r.name},
          {"destination", &r.destination},
          {"target", &r.target},
          {"token_path", &r.token_path},
          {"ca_pem", &r.ca_pem}}) {
      s = ReadString(e, key, where, out);
      if (!s.ok()) return s;
    }
    s = CheckRemoteName(r.name);
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
    if (r.destination.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": remote ", r.name, " has no \"destination\""));
    }
    remotes.entries.push_back(std::move(r));
  }
  return remotes;
}

absl::Status WriteRemotes(const std::string& path, const Remotes& remotes) {
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat(
          "create directory ", parent.string(), ": ", ec.message()));
    }
    chmod(parent.c_str(), 0700);
  }
  Json root = Json::object();
  if (!remotes.default_name.empty()) root["default"] = remotes.default_name;
  Json list = Json::array();
  for (const Remote& r : remotes.entries) {
    Json e = Json::object();
    e["name"] = r.name;
    e["destination"] = r.destination;
    if (!r.target.empty()) e["target"] = r.target;
    if (!r.token_path.empty()) e["token_path"] = r.token_path;
    if (!r.ca_pem.empty()) e["ca_pem"] = r.ca_pem;
    list.push_back(std::move(e));
  }
  root["remotes"] = std::move(list);
  const std::string text =
      root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  const std::string tmp = path + ".tmp";
  unlink(tmp.c_str());
  // 0600 from the start: entries name gateways and token paths.
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("create ", tmp));
  const bool written =
      write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  close(fd);
  if (!written) {
    unlink(tmp.c_str());
    return ErrnoToStatus(saved, absl::StrCat("write ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    unlink(tmp.c_str());
    return ErrnoToStatus(e, absl::StrCat("rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

const Remote* FindRemote(const Remotes& remotes, absl::string_view name) {
  for (const Remote& r : remotes.entries) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

}  // namespace emu::cli
