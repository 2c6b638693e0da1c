// Where the controller keeps its users (with their token hashes and quotas)
// and the shares of labs, so they survive a restart.
#ifndef EMU_CONTROLLER_USERS_USER_STORE_H_
#define EMU_CONTROLLER_USERS_USER_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/users/token.h"
#include "proto/users.pb.h"

struct sqlite3;

namespace emu::controller::users {

// A user as stored: the API's User (without usage) and the token's hash.
struct UserRecord {
  emu::v1::User user;
  TokenHash token;
};

// A lab shared with a user ("*": every user). Keyed by the lab key
// (emu::LabKey) and the grantee.
struct ShareRecord {
  std::string lab_key;
  std::string grantee;
  emu::v1::Role role = emu::v1::ROLE_UNSPECIFIED;
};

// Users and shares. Implementations are thread-safe.
class UserStore {
 public:
  virtual ~UserStore() = default;
  // Inserts or replaces the user of that name.
  virtual absl::Status PutUser(const UserRecord& user) = 0;
  // NOT_FOUND "user NAME: not found".
  virtual absl::StatusOr<UserRecord> GetUser(const std::string& name) = 0;
  // Sorted by name.
  virtual absl::StatusOr<std::vector<UserRecord>> ListUsers() = 0;
  // Removes the user and every share granted to them; false when absent.
  virtual absl::StatusOr<bool> DeleteUser(const std::string& name) = 0;

  // Inserts or replaces (lab_key, grantee).
  virtual absl::Status PutShare(const ShareRecord& share) = 0;
  // False when there was no such share.
  virtual absl::StatusOr<bool> DeleteShare(const std::string& lab_key,
                                           const std::string& grantee) = 0;
  // Every share, sorted by lab key then grantee.
  virtual absl::StatusOr<std::vector<ShareRecord>> ListShares() = 0;
};

// UserStore in the controller's SQLite file (the lab store's --db): tables
// users(name TEXT PRIMARY KEY, user BLOB, salt BLOB, digest BLOB) and
// shares(lab_key, grantee, role, PRIMARY KEY(lab_key, grantee)), created
// when missing. Every write is one transaction, durable when the call
// returns. Errors name the file. Thread-safe (one mutex).
class SqliteUserStore : public UserStore {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteUserStore>> Open(
      const std::string& path);
  SqliteUserStore(const SqliteUserStore&) = delete;
  SqliteUserStore& operator=(const SqliteUserStore&) = delete;
  ~SqliteUserStore() override;

  absl::Status PutUser(const UserRecord& user) override;
  absl::StatusOr<UserRecord> GetUser(const std::string& name) override;
  absl::StatusOr<std::vector<UserRecord>> ListUsers() override;
  absl::StatusOr<bool> DeleteUser(const std::string& name) override;
  absl::Status PutShare(const ShareRecord& share) override;
  absl::StatusOr<bool> DeleteShare(const std::string& lab_key,
                                   const std::string& grantee) override;
  absl::StatusOr<std::vector<ShareRecord>> ListShares() override;

 private:
  SqliteUserStore(std::string path, sqlite3* db);
  absl::Status Error(int rc, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);  // owned
};

}  // namespace emu::controller::users

#endif  // EMU_CONTROLLER_USERS_USER_STORE_H_
