#include "deploy/cluster_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/errno_status.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace emu::deploy {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// JSON string literal with the escapes RFC 8259 requires.
std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// An object whose members keep insertion order; `depth` sets indentation.
class JsonObject {
 public:
  explicit JsonObject(int depth) : indent_(2 * (depth + 1), ' ') {}
  void String(absl::string_view key, absl::string_view value) {
    Raw(key, JsonQuote(value));
  }
  void Number(absl::string_view key, uint64_t value) {
    Raw(key, absl::StrCat(value));
  }
  void Raw(absl::string_view key, absl::string_view json) {
    members_.push_back(absl::StrCat(indent_, JsonQuote(key), ": ", json));
  }
  std::string Close() const {
    return absl::StrCat("{\n", absl::StrJoin(members_, ",\n"), "\n",
                        indent_.substr(2), "}");
  }

 private:
  std::string indent_;
  std::vector<std::string> members_;
};

// Reads typed fields out of a Struct, remembering the first type error.
class Reader {
 public:
  Reader(const Struct& s, std::string where) : s_(s), where_(std::move(where)) {}

  void String(const std::string& key, std::string* out) {
    const Value* v = Find(key, Value::kStringValue, "a string");
    if (v != nullptr) *out = v->string_value();
  }
  template <typename Int>
  void Integer(const std::string& key, Int* out) {
    const Value* v = Find(key, Value::kNumberValue, "a number");
    if (v == nullptr) return;
    const double d = v->number_value();
    if (d < 0 || d != std::floor(d) || d > 9007199254740992.0) {
      Fail(key, "a non-negative integer");
      return;
    }
    *out = static_cast<Int>(d);
  }
  const ListValue* List(const std::string& key) {
    const Value* v = Find(key, Value::kListValue, "a list");
    return v == nullptr ? nullptr : &v->list_value();
  }
  const absl::Status& status() const { return status_; }

 private:
  const Value* Find(const std::string& key, Value::KindCase kind,
                    const char* what) {
    auto it = s_.fields().find(key);
    if (it == s_.fields().end() ||
        it->second.kind_case() == Value::kNullValue) {
      return nullptr;
    }
    if (it->second.kind_case() != kind) {
      Fail(key, what);
      return nullptr;
    }
    return &it->second;
  }
  void Fail(const std::string& key, const char* what) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(where_, ": \"", key, "\" must be ", what));
    }
  }

  const Struct& s_;
  std::string where_;
  absl::Status status_;
};

}  // namespace

std::string ClusterFileToJson(const ClusterFile& f) {
  // Written by hand (not through google::protobuf::Struct, whose map loses
  // the key order) so the file reads top-down for a person.
  JsonObject root(0);
  root.String("id", f.id);
  root.String("state", f.state);
  root.String("state_dir", f.state_dir);
  root.String("controller", f.controller);
  root.Number("controller_pid", f.controller_pid);
  root.Number("controller_start_time", f.controller_start_time);
  root.String("token_file", f.token_file);
  root.String("bridge", f.bridge);
  root.String("subnet", f.subnet);
  root.String("agent_binary", f.agent_binary);
  root.String("controller_binary", f.controller_binary);
  std::vector<std::string> hosts;
  JsonObject logs(1);
  logs.String("dir", f.log_dir);
  logs.String("controller", f.controller_log);
  for (const ClusterFileHost& h : f.hosts) {
    JsonObject host(2);
    host.String("name", h.name);
    host.String("netns", h.netns);
    host.String("veth", h.veth);
    host.String("address", h.address);
    host.Number("pid", h.pid);
    host.Number("start_time", h.start_time);
    host.String("log", h.log);
    hosts.push_back(host.Close());
    logs.String(h.name, h.log);
  }
  root.Raw("hosts", hosts.empty()
                        ? "[]"
                        : absl::StrCat("[\n    ", absl::StrJoin(hosts, ",\n    "),
                                       "\n  ]"));
  root.Raw("logs", logs.Close());
  return absl::StrCat(root.Close(), "\n");
}

absl::StatusOr<ClusterFile> ClusterFileFromJson(absl::string_view json,
                                                absl::string_view source) {
  Struct root;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &root);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster file ", source, ": not valid JSON: ", parsed.message().ToString()));
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
  r.String("bridge", &f.bridge);
  r.String("subnet", &f.subnet);
  r.String("agent_binary", &f.agent_binary);
  r.String("controller_binary", &f.controller_binary);
  auto logs_it = root.fields().find("logs");
  if (logs_it != root.fields().end() &&
      logs_it->second.kind_case() == Value::kStructValue) {
    Reader logs(logs_it->second.struct_value(),
                absl::StrCat("cluster file ", source, ": logs"));
    logs.String("dir", &f.log_dir);
    logs.String("controller", &f.controller_log);
    if (!logs.status().ok()) return logs.status();
  }
  if (const ListValue* hosts = r.List("hosts"); hosts != nullptr) {
    for (int i = 0; i < hosts->values_size(); ++i) {
      const Value& v = hosts->values(i);
      std::string where = absl::StrCat("cluster file ", source, ": hosts[", i, "]");
      if (v.kind_case() != Value::kStructValue) {
        return absl::InvalidArgumentError(absl::StrCat(where, " must be an object"));
      }
      Reader hr(v.struct_value(), where);
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
    return absl::InternalError(absl::StrCat("read cluster file ", path, ": I/O error"));
  }
  return ClusterFileFromJson(content.str(), path);
}

absl::Status WriteClusterFile(const std::string& path, const ClusterFile& file) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  const std::string json = ClusterFileToJson(file);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("write cluster file ", tmp));
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
