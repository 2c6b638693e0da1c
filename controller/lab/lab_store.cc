#include "controller/lab/lab_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/errno_status.h"
#include "common/status_macros.h"
#include "controller/lab/lab_details.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace emu::controller::lab {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// sqlite3 result code -> status code with its retry meaning.
absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_CANTOPEN:
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    default:
      return absl::StatusCode::kInternal;
  }
}

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// mkdir -p for the directory part of `path`.
absl::Status MakeParentDirs(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return absl::OkStatus();
  const std::string dir = path.substr(0, slash);
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) == 0) continue;
    int err = errno;
    struct stat st;
    if (err == EEXIST &&
        (stat(prefix.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
      err = ENOTDIR;  // a file (or dangling link) where a directory goes
    } else if (err == EEXIST) {
      continue;
    }
    return emu::ErrnoToStatus(err, absl::StrCat("create directory ", prefix));
  }
  return absl::OkStatus();
}

}  // namespace

SqliteLabStore::SqliteLabStore(std::string path, sqlite3* db)
    : path_(std::move(path)), db_(db) {}

SqliteLabStore::~SqliteLabStore() { sqlite3_close_v2(db_); }

absl::Status SqliteLabStore::Error(int rc, absl::string_view what) {
  return absl::Status(CodeFor(rc), absl::StrCat("lab store ", path_, ": ", what,
                                                ": ", sqlite3_errmsg(db_)));
}

absl::StatusOr<std::unique_ptr<SqliteLabStore>> SqliteLabStore::Open(
    const std::string& path) {
  const std::string context = absl::StrCat("lab store ", path);
  if (path.empty()) {
    return absl::InvalidArgumentError("lab store: empty database path");
  }
  EMU_RETURN_IF_ERROR(Annotate(MakeParentDirs(path), context));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s(
        CodeFor(rc),
        absl::StrCat(context, ": open: ",
                     db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return s;
  }
  std::unique_ptr<SqliteLabStore> store(new SqliteLabStore(path, db));
  absl::MutexLock lock(&store->mu_);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  // The first statement reads the header: a foreign file fails here.
  rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return store->Error(rc, "set WAL journal");

  std::string check;
  rc = sqlite3_exec(
      db, "PRAGMA quick_check",
      [](void* out, int, char** values, char**) {
        auto* s = static_cast<std::string*>(out);
        if (!s->empty()) s->append("; ");
        s->append(values[0] != nullptr ? values[0] : "?");
        return 0;
      },
      &check, nullptr);
  if (rc != SQLITE_OK) return store->Error(rc, "integrity check");
  if (check != "ok") {
    return absl::DataLossError(
        absl::StrCat(context, ": integrity check failed: ", check));
  }

  int version = -1;
  rc = sqlite3_exec(
      db, "PRAGMA user_version",
      [](void* out, int, char** values, char**) {
        *static_cast<int*>(out) = values[0] != nullptr ? atoi(values[0]) : -1;
        return 0;
      },
      &version, nullptr);
  if (rc != SQLITE_OK) return store->Error(rc, "read schema version");
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        context, ": schema version ", version,
        " is newer than this controller's (", kSchemaVersion, ")"));
  }
  if (version < kSchemaVersion) {
    rc = sqlite3_exec(db,
                      "BEGIN IMMEDIATE;"
                      "CREATE TABLE IF NOT EXISTS labs("
                      "  name TEXT PRIMARY KEY,"
                      "  state INTEGER NOT NULL,"
                      "  updated_us INTEGER NOT NULL,"
                      "  lab BLOB NOT NULL);"
                      "PRAGMA user_version = 1;"
                      "COMMIT;",
                      nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      absl::Status s = store->Error(rc, "create schema");
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return s;
    }
  }
  return store;
}

absl::StatusOr<emu::v1::Lab> SqliteLabStore::Parse(const std::string& name,
                                                   const void* data,
                                                   int size) const {
  emu::v1::Lab lab;
  if (size < 0 || !lab.ParseFromArray(data, size)) {
    return absl::DataLossError(absl::StrCat("lab store ", path_, ": lab ", name,
                                            ": stored record does not parse"));
  }
  return lab;
}

namespace {

using google::protobuf::internal::WireFormatLite;

// Copies the message in `in` (up to its end) to `out`, leaving out the
// length-delimited fields numbered `skip_a` and `skip_b` and counting them;
// field `nested` (length-delimited), if not 0, is copied the same way
// through `filter_nested`. False when the bytes do not parse.
bool CopyWithout(google::protobuf::io::CodedInputStream* in,
                 google::protobuf::io::CodedOutputStream* out, int skip_a,
                 int skip_b, int* count_a, int* count_b, int nested,
                 const std::function<bool(const std::string&, std::string*)>&
                     filter_nested) {
  while (uint32_t tag = in->ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const bool delimited = WireFormatLite::GetTagWireType(tag) ==
                           WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
    if (delimited && (field == skip_a || field == skip_b)) {
      ++*(field == skip_a ? count_a : count_b);
      if (!WireFormatLite::SkipField(in, tag)) return false;
      continue;
    }
    if (delimited && field == nested) {
      std::string inner, kept;
      uint32_t length = 0;
      if (!in->ReadVarint32(&length) || !in->ReadString(&inner, length) ||
          !filter_nested(inner, &kept)) {
        return false;
      }
      out->WriteTag(tag);
      out->WriteVarint32(static_cast<uint32_t>(kept.size()));
      out->WriteString(kept);
      continue;
    }
    if (!WireFormatLite::SkipField(in, tag, out)) return false;
  }
  return in->ConsumedEntireMessage();
}

}  // namespace

absl::StatusOr<emu::v1::Lab> SqliteLabStore::ParseOutline(
    const std::string& name, const void* data, int size) const {
  // Field numbers in controller.proto / topology.proto (checked by
  // lab_store_test against OutlineLab).
  constexpr int kLabTopology = 4, kLabNodes = 5, kLabLinks = 6;
  constexpr int kTopologyNodes = 2, kTopologyLinks = 3;
  int nodes = 0, links = 0, topology_nodes = 0, topology_links = 0;
  const auto filter_topology = [&](const std::string& in_bytes,
                                   std::string* kept) {
    google::protobuf::io::CodedInputStream in(
        reinterpret_cast<const uint8_t*>(in_bytes.data()),
        static_cast<int>(in_bytes.size()));
    google::protobuf::io::StringOutputStream sink(kept);
    google::protobuf::io::CodedOutputStream out(&sink);
    return CopyWithout(&in, &out, kTopologyNodes, kTopologyLinks,
                       &topology_nodes, &topology_links, 0, nullptr);
  };
  std::string kept;
  bool ok = size >= 0;
  if (ok) {
    google::protobuf::io::CodedInputStream in(
        static_cast<const uint8_t*>(data), size);
    in.SetTotalBytesLimit(INT_MAX);
    google::protobuf::io::StringOutputStream sink(&kept);
    google::protobuf::io::CodedOutputStream out(&sink);
    ok = CopyWithout(&in, &out, kLabNodes, kLabLinks, &nodes, &links,
                     kLabTopology, filter_topology);
  }
  emu::v1::Lab lab;
  if (!ok || !lab.ParseFromString(kept)) {
    return absl::DataLossError(absl::StrCat("lab store ", path_, ": lab ", name,
                                            ": stored record does not parse"));
  }
  lab.set_node_count(nodes > 0 ? nodes : topology_nodes);
  lab.set_link_count(links > 0 ? links : topology_links);
  return lab;
}

absl::Status SqliteLabStore::Put(const emu::v1::Lab& lab) {
  if (lab.name().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("lab store ", path_, ": put: lab without a name"));
  }
  std::string blob;
  if (!lab.SerializeToString(&blob)) {
    return absl::InternalError(absl::StrCat("lab store ", path_, ": lab ",
                                            lab.name(), ": serialize failed"));
  }
  const int64_t updated_us = lab.updated_unix_us() != 0
                                 ? lab.updated_unix_us()
                                 : absl::ToUnixMicros(absl::Now());
  const std::string what = absl::StrCat("put lab ", lab.name());
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(
      db_,
      "INSERT INTO labs(name, state, updated_us, lab) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(name) DO UPDATE SET state = excluded.state, "
      "updated_us = excluded.updated_us, lab = excluded.lab",
      -1, &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what);
  sqlite3_bind_text(raw, 1, lab.name().data(),
                    static_cast<int>(lab.name().size()), SQLITE_STATIC);
  sqlite3_bind_int(raw, 2, static_cast<int>(lab.state()));
  sqlite3_bind_int64(raw, 3, updated_us);
  sqlite3_bind_blob(raw, 4, blob.data(), static_cast<int>(blob.size()),
                    SQLITE_STATIC);
  rc = sqlite3_step(raw);
  if (rc != SQLITE_DONE) return Error(rc, what);
  return absl::OkStatus();
}

absl::StatusOr<emu::v1::Lab> SqliteLabStore::Get(const std::string& name) {
  const std::string what = absl::StrCat("get lab ", name);
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, "SELECT lab FROM labs WHERE name = ?1", -1,
                              &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what);
  sqlite3_bind_text(raw, 1, name.data(), static_cast<int>(name.size()),
                    SQLITE_STATIC);
  rc = sqlite3_step(raw);
  if (rc == SQLITE_DONE) {
    return absl::NotFoundError(absl::StrCat("lab ", name, ": not found"));
  }
  if (rc != SQLITE_ROW) return Error(rc, what);
  return Parse(name, sqlite3_column_blob(raw, 0), sqlite3_column_bytes(raw, 0));
}

absl::StatusOr<std::vector<emu::v1::Lab>> LabStore::ListOutlines() {
  EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, List());
  for (auto& lab : labs) OutlineLab(&lab);
  return labs;
}

absl::StatusOr<std::vector<emu::v1::Lab>> SqliteLabStore::List() {
  return ListParsed(&SqliteLabStore::Parse);
}

absl::StatusOr<std::vector<emu::v1::Lab>> SqliteLabStore::ListOutlines() {
  return ListParsed(&SqliteLabStore::ParseOutline);
}

absl::StatusOr<std::vector<emu::v1::Lab>> SqliteLabStore::ListParsed(
    absl::StatusOr<emu::v1::Lab> (SqliteLabStore::*parse)(const std::string&,
                                                          const void*, int)
        const) {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, "SELECT name, lab FROM labs ORDER BY name",
                              -1, &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, "list labs");
  std::vector<emu::v1::Lab> labs;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    const unsigned char* name = sqlite3_column_text(raw, 0);
    EMU_ASSIGN_OR_RETURN(
        emu::v1::Lab lab,
        (this->*parse)(name != nullptr ? reinterpret_cast<const char*>(name) : "",
                       sqlite3_column_blob(raw, 1), sqlite3_column_bytes(raw, 1)));
    labs.push_back(std::move(lab));
  }
  if (rc != SQLITE_DONE) return Error(rc, "list labs");
  return labs;
}

absl::Status SqliteLabStore::Delete(const std::string& name) {
  const std::string what = absl::StrCat("delete lab ", name);
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, "DELETE FROM labs WHERE name = ?1", -1, &raw,
                              nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what);
  sqlite3_bind_text(raw, 1, name.data(), static_cast<int>(name.size()),
                    SQLITE_STATIC);
  rc = sqlite3_step(raw);
  if (rc != SQLITE_DONE) return Error(rc, what);
  return absl::OkStatus();
}

}  // namespace emu::controller::lab
