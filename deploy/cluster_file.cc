#include "deploy/cluster_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "nlohmann/json.hpp"

namespace emu::deploy {
namespace {

// ordered_json keeps members in insertion order, so the file reads
// top-down for a person.
using Json = nlohmann::ordered_json;

// Reads typed members out of one JSON object, remembering the first type
// error. Absent and null members leave the target at its default.
class Reader {
 public:
  Reader(const Json& object, std::string where)
      : object_(object), where_(std::move(where)) {}

  void String(const char* key, std::string* out) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(key, "a string");
    *out = v->get<std::string>();
  }
  void Bool(const char* key, bool* out) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail(key, "true or false");
    *out = v->get<bool>();
  }
  template <typename Int>
  void Integer(const char* key, Int* out) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    // Older files were read through protobuf's Struct, which holds numbers
    // as doubles; accept an integral float the same way.
    if (v->is_number_unsigned()) {
      *out = static_cast<Int>(v->get<uint64_t>());
    } else if (v->is_number_float() && v->get<double>() >= 0 &&
               v->get<double>() == static_cast<double>(static_cast<uint64_t>(
                                       v->get<double>()))) {
      *out = static_cast<Int>(v->get<double>());
    } else {
      Fail(key, "a non-negative integer");
    }
  }
  // An int that may be negative (a nice value, "not given" as -1).
  void SignedInteger(const char* key, int* out) {
    const Json* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_number_integer() || v->get<int64_t>() < INT_MIN ||
        v->get<int64_t>() > INT_MAX) {
      return Fail(key, "an integer");
    }
    *out = static_cast<int>(v->get<int64_t>());
  }
  // The member if it is an array; nullptr (and maybe an error) otherwise.
  const Json* Array(const char* key) {
    const Json* v = Find(key);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      Fail(key, "a list");
      return nullptr;
    }
    return v;
  }
  const absl::Status& status() const { return status_; }

 private:
  const Json* Find(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void Fail(const char* key, const char* what) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(where_, ": \"", key, "\" must be ", what));
    }
  }

  const Json& object_;
  std::string where_;
  absl::Status status_;
};

}  // namespace

std::string ClusterFileToJson(const ClusterFile& f) {
  Json root = Json::object();
  root["id"] = f.id;
  root["state"] = f.state;
  root["state_dir"] = f.state_dir;
  root["controller"] = f.controller;
  root["controller_pid"] = static_cast<uint64_t>(f.controller_pid);
  root["controller_start_time"] = f.controller_start_time;
  root["token_file"] = f.token_file;
  if (!f.ssh.empty()) root["ssh"] = f.ssh;
  if (!f.pki_dir.empty()) root["pki_dir"] = f.pki_dir;
  if (!f.tunnel_carrier.empty()) root["tunnel_carrier"] = f.tunnel_carrier;
  if (!f.tunnel_ssh_config.empty()) {
    root["tunnel_ssh_config"] = f.tunnel_ssh_config;
  }
  if (f.metrics) root["metrics"] = true;
  if (f.allow_host_commands) root["allow_host_commands"] = true;
  if (f.web) root["web"] = true;
  if (f.engine_threads >= 0) root["engine_threads"] = f.engine_threads;
  if (f.engine_nice != 0) root["engine_nice"] = f.engine_nice;
  root["bridge"] = f.bridge;
  root["subnet"] = f.subnet;
  root["agent_binary"] = f.agent_binary;
  root["controller_binary"] = f.controller_binary;
  // Absent in files of clusters without a supervisor (and older ones).
  if (f.supervisor_pid > 0) {
    root["supervisor_pid"] = static_cast<uint64_t>(f.supervisor_pid);
    root["supervisor_start_time"] = f.supervisor_start_time;
    root["supervisor_binary"] = f.supervisor_binary;
  }
  Json hosts = Json::array();
  Json logs = Json::object();
  logs["dir"] = f.log_dir;
  logs["controller"] = f.controller_log;
  for (const ClusterFileHost& h : f.hosts) {
    Json host = Json::object();
    host["name"] = h.name;
    host["netns"] = h.netns;
    host["veth"] = h.veth;
    host["address"] = h.address;
    host["pid"] = static_cast<uint64_t>(h.pid);
    host["start_time"] = h.start_time;
    host["log"] = h.log;
    hosts.push_back(std::move(host));
    logs[h.name] = h.log;
  }
  root["hosts"] = std::move(hosts);
  root["logs"] = std::move(logs);
  // Invalid UTF-8 in a path is replaced rather than thrown about: the
  // record must always be writable.
  return absl::StrCat(root.dump(2, ' ', false, Json::error_handler_t::replace),
                      "\n");
}

absl::StatusOr<ClusterFile> ClusterFileFromJson(absl::string_view json,
                                                absl::string_view source) {
  const Json root = Json::parse(json.begin(), json.end(), /*cb=*/nullptr,
                                /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster file ", source, ": not valid JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cluster file ", source, ": not a JSON object"));
  }
  ClusterFile f;
  Reader r(root, absl::StrCat("cluster file ", source));
  r.String("id", &f.id);
  r.String("state", &f.state);
  r.String("state_dir", &f.state_dir);
  r.String("controller", &f.controller);
  r.Integer("controller_pid", &f.controller_pid);
  r.Integer("controller_start_time", &f.controller_start_time);
  r.String("token_file", &f.token_file);
  r.String("ssh", &f.ssh);
  r.String("pki_dir", &f.pki_dir);
  r.String("tunnel_carrier", &f.tunnel_carrier);
  r.String("tunnel_ssh_config", &f.tunnel_ssh_config);
  r.Bool("metrics", &f.metrics);
  r.Bool("allow_host_commands", &f.allow_host_commands);
  r.Bool("web", &f.web);
  r.SignedInteger("engine_threads", &f.engine_threads);
  r.SignedInteger("engine_nice", &f.engine_nice);
  r.String("bridge", &f.bridge);
  r.String("subnet", &f.subnet);
  r.String("agent_binary", &f.agent_binary);
  r.String("controller_binary", &f.controller_binary);
  r.Integer("supervisor_pid", &f.supervisor_pid);
  r.Integer("supervisor_start_time", &f.supervisor_start_time);
  r.String("supervisor_binary", &f.supervisor_binary);
  if (auto logs_it = root.find("logs");
      logs_it != root.end() && logs_it->is_object()) {
    Reader logs(*logs_it, absl::StrCat("cluster file ", source, ": logs"));
    logs.String("dir", &f.log_dir);
    logs.String("controller", &f.controller_log);
    if (!logs.status().ok()) return logs.status();
  }
  if (const Json* hosts = r.Array("hosts"); hosts != nullptr) {
    for (size_t i = 0; i < hosts->size(); ++i) {
      const Json& v = (*hosts)[i];
      std::string where =
          absl::StrCat("cluster file ", source, ": hosts[", i, "]");
      if (!v.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, " must be an object"));
      }
      Reader hr(v, where);
      ClusterFileHost h;
      hr.String("name", &h.name);
      hr.String("netns", &h.netns);
      hr.String("veth", &h.veth);
      hr.String("address", &h.address);
      hr.Integer("pid", &h.pid);
      hr.Integer("start_time", &h.start_time);
      hr.String("log", &h.log);
      if (!hr.status().ok()) return hr.status();
      f.hosts.push_back(std::move(h));
    }
  }
  if (!r.status().ok()) return r.status();
  return f;
}

absl::StatusOr<ClusterFile> ReadClusterFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return ErrnoToStatus(errno, absl::StrCat("read cluster file ", path));
  }
  std::stringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return absl::InternalError(
        absl::StrCat("read cluster file ", path, ": I/O error"));
  }
  return ClusterFileFromJson(content.str(), path);
}

absl::Status WriteClusterFile(const std::string& path,
                              const ClusterFile& file) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  const std::string json = ClusterFileToJson(file);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return ErrnoToStatus(errno, absl::StrCat("write cluster file ", tmp));
  size_t done = 0;
  while (done < json.size()) {
    ssize_t n = write(fd, json.data() + done, json.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return ErrnoToStatus(err, absl::StrCat("write cluster file ", tmp));
    }
    done += static_cast<size_t>(n);
  }
  int rc = fsync(fd);
  int err = errno;
  if (close(fd) != 0 && rc == 0) {
    rc = -1;
    err = errno;
  }
  if (rc != 0) {
    unlink(tmp.c_str());
    return ErrnoToStatus(err, absl::StrCat("write cluster file ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return ErrnoToStatus(err, absl::StrCat("rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace emu::deploy
