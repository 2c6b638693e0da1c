#include "controller/users/user_store.h"

#include <sqlite3.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace emu::controller::users {
namespace {

constexpr int kBusyTimeoutMs = 5000;

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
}
void BindBlob(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
}
std::string ColumnBytes(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}

}  // namespace

SqliteUserStore::SqliteUserStore(std::string path, sqlite3* db)
    : path_(std::move(path)), db_(db) {}

SqliteUserStore::~SqliteUserStore() { sqlite3_close_v2(db_); }

absl::Status SqliteUserStore::Error(int rc, absl::string_view what) {
  const absl::StatusCode code = (rc & 0xff) == SQLITE_BUSY
                                    ? absl::StatusCode::kUnavailable
                                    : absl::StatusCode::kInternal;
  return absl::Status(code, absl::StrCat("user store ", path_, ": ", what,
                                         ": ", sqlite3_errmsg(db_)));
}

absl::StatusOr<std::unique_ptr<SqliteUserStore>> SqliteUserStore::Open(
    const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return absl::UnavailableError(
        absl::StrCat("user store ", path, ": open: ", msg));
  }
  std::unique_ptr<SqliteUserStore> store(new SqliteUserStore(path, db));
  absl::MutexLock lock(&store->mu_);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  rc = sqlite3_exec(db,
                    "CREATE TABLE IF NOT EXISTS users("
                    "  name TEXT PRIMARY KEY,"
                    "  user BLOB NOT NULL,"
                    "  salt BLOB NOT NULL,"
                    "  digest BLOB NOT NULL);"
                    "CREATE TABLE IF NOT EXISTS shares("
                    "  lab_key TEXT NOT NULL,"
                    "  grantee TEXT NOT NULL,"
                    "  role INTEGER NOT NULL,"
                    "  PRIMARY KEY(lab_key, grantee));",
                    nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return store->Error(rc, "create tables");
  return store;
}

absl::Status SqliteUserStore::PutUser(const UserRecord& record) {
  std::string blob;
  if (record.user.name().empty() || !record.user.SerializeToString(&blob)) {
    return absl::InvalidArgumentError(
        absl::StrCat("user store ", path_, ": put: user without a name"));
  }
  const std::string what = absl::StrCat("put user ", record.user.name());
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(
      db_,
      "INSERT INTO users(name, user, salt, digest) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(name) DO UPDATE SET user = excluded.user, "
      "salt = excluded.salt, digest = excluded.digest",
      -1, &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what);
  BindText(raw, 1, record.user.name());
  BindBlob(raw, 2, blob);
  BindBlob(raw, 3, record.token.salt);
  BindBlob(raw, 4, record.token.digest);
  rc = sqlite3_step(raw);
  if (rc != SQLITE_DONE) return Error(rc, what);
  return absl::OkStatus();
}

absl::StatusOr<UserRecord> SqliteUserStore::GetUser(const std::string& name) {
  absl::StatusOr<std::vector<UserRecord>> all = ListUsers();
  if (!all.ok()) return all.status();
  for (UserRecord& r : *all) {
    if (r.user.name() == name) return std::move(r);
  }
  return absl::NotFoundError(absl::StrCat("user ", name, ": not found"));
}

absl::StatusOr<std::vector<UserRecord>> SqliteUserStore::ListUsers() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(
      db_, "SELECT name, user, salt, digest FROM users ORDER BY name", -1,
      &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, "list users");
  std::vector<UserRecord> out;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    UserRecord r;
    const std::string blob = ColumnBytes(raw, 1);
    if (!r.user.ParseFromString(blob)) {
      return absl::DataLossError(
          absl::StrCat("user store ", path_, ": user ",
                       reinterpret_cast<const char*>(sqlite3_column_text(raw, 0)),
                       ": stored record does not parse"));
    }
    r.token.salt = ColumnBytes(raw, 2);
    r.token.digest = ColumnBytes(raw, 3);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return Error(rc, "list users");
  return out;
}

absl::StatusOr<bool> SqliteUserStore::DeleteUser(const std::string& name) {
  const std::string what = absl::StrCat("delete user ", name);
  absl::MutexLock lock(&mu_);
  // One transaction: the user and what was shared with them go together.
  int rc = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, what);
  int changed = 0;
  for (const char* sql : {"DELETE FROM users WHERE name = ?1",
                          "DELETE FROM shares WHERE grantee = ?1"}) {
    sqlite3_stmt* raw = nullptr;
    rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
    Statement stmt(raw);
    if (rc == SQLITE_OK) {
      BindText(raw, 1, name);
      rc = sqlite3_step(raw);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
      absl::Status s = Error(rc, what);
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return s;
    }
    if (changed == 0) changed = sqlite3_changes(db_) > 0 ? 1 : -1;
  }
  rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status s = Error(rc, what);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  }
  return changed > 0;
}

absl::Status SqliteUserStore::PutShare(const ShareRecord& share) {
  const std::string what =
      absl::StrCat("share lab ", share.lab_key, " with ", share.grantee);
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(
      db_,
      "INSERT INTO shares(lab_key, grantee, role) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(lab_key, grantee) DO UPDATE SET role = excluded.role",
      -1, &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what);
  BindText(raw, 1, share.lab_key);
  BindText(raw, 2, share.grantee);
  sqlite3_bind_int(raw, 3, static_cast<int>(share.role));
  rc = sqlite3_step(raw);
  if (rc != SQLITE_DONE) return Error(rc, what);
  return absl::OkStatus();
}

absl::StatusOr<bool> SqliteUserStore::DeleteShare(const std::string& lab_key,
                                                  const std::string& grantee) {
  const std::string what =
      absl::StrCat("unshare lab ", lab_key, " with ", grantee);
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(
      db_, "DELETE FROM shares WHERE lab_key = ?1 AND grantee = ?2", -1, &raw,
      nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what);
  BindText(raw, 1, lab_key);
  BindText(raw, 2, grantee);
  rc = sqlite3_step(raw);
  if (rc != SQLITE_DONE) return Error(rc, what);
  return sqlite3_changes(db_) > 0;
}

absl::StatusOr<std::vector<ShareRecord>> SqliteUserStore::ListShares() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(
      db_,
      "SELECT lab_key, grantee, role FROM shares ORDER BY lab_key, grantee",
      -1, &raw, nullptr);
  Statement stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, "list shares");
  std::vector<ShareRecord> out;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    ShareRecord s;
    s.lab_key = ColumnBytes(raw, 0);
    s.grantee = ColumnBytes(raw, 1);
    s.role = static_cast<emu::v1::Role>(sqlite3_column_int(raw, 2));
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Error(rc, "list shares");
  return out;
}

}  // namespace emu::controller::users
