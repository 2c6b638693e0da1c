// Where the controller keeps its labs (spec, state, placement) so they
// survive a controller restart.
#ifndef EMU_CONTROLLER_LAB_LAB_STORE_H_
#define EMU_CONTROLLER_LAB_LAB_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "proto/controller.pb.h"

struct sqlite3;

namespace emu::controller::lab {

// Labs by name. Implementations are thread-safe.
class LabStore {
 public:
  virtual ~LabStore() = default;
  // Inserts `lab`, or replaces the stored lab of the same name.
  // INVALID_ARGUMENT when lab.name() is empty.
  virtual absl::Status Put(const emu::v1::Lab& lab) = 0;
  // NOT_FOUND ("lab NAME: not found") when there is no such lab.
  virtual absl::StatusOr<emu::v1::Lab> Get(const std::string& name) = 0;
  // Every lab, sorted by name.
  virtual absl::StatusOr<std::vector<emu::v1::Lab>> List() = 0;
  // Every lab as its outline (OutlineLab, lab_details.h: no nodes or links,
  // their counts), sorted by name: what the periodic reconcile and ListLabs
  // read, so that a lab of 10,000 nodes is not parsed whole for them. This
  // default reads List(); SqliteLabStore skips the parts while parsing.
  virtual absl::StatusOr<std::vector<emu::v1::Lab>> ListOutlines();
  // Removes the lab; OK when it is absent (idempotent).
  virtual absl::Status Delete(const std::string& name) = 0;
};

// LabStore in one SQLite file: table labs(name TEXT PRIMARY KEY, state
// INTEGER, updated_us INTEGER, lab BLOB) holding the serialized emu.v1.Lab,
// schema version in PRAGMA user_version, WAL journal, 5 s busy timeout (so a
// second process on the same file waits instead of failing). Every write is
// one transaction, durable when the call returns. Errors name the file;
// a corrupt or foreign file is DATA_LOSS, a file with a newer schema
// FAILED_PRECONDITION, a locked one UNAVAILABLE. Thread-safe (one mutex).
class SqliteLabStore : public LabStore {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens or creates the store at `path`, creating missing parent
  // directories (0755) and the schema, and checks the file's integrity.
  static absl::StatusOr<std::unique_ptr<SqliteLabStore>> Open(
      const std::string& path);

  SqliteLabStore(const SqliteLabStore&) = delete;
  SqliteLabStore& operator=(const SqliteLabStore&) = delete;
  ~SqliteLabStore() override;

  absl::Status Put(const emu::v1::Lab& lab) override;
  absl::StatusOr<emu::v1::Lab> Get(const std::string& name) override;
  absl::StatusOr<std::vector<emu::v1::Lab>> List() override;
  absl::StatusOr<std::vector<emu::v1::Lab>> ListOutlines() override;
  absl::Status Delete(const std::string& name) override;

  const std::string& path() const { return path_; }

 private:
  SqliteLabStore(std::string path, sqlite3* db);

  // "lab store PATH: WHAT: sqlite message" with a code for the result code.
  absl::Status Error(int rc, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<emu::v1::Lab> Parse(const std::string& name, const void* data,
                                     int size) const;
  // Parse, skipping the nodes and links on the wire (OutlineLab's result).
  absl::StatusOr<emu::v1::Lab> ParseOutline(const std::string& name,
                                            const void* data, int size) const;
  // Every stored record through `parse`, sorted by name.
  absl::StatusOr<std::vector<emu::v1::Lab>> ListParsed(
      absl::StatusOr<emu::v1::Lab> (SqliteLabStore::*parse)(
          const std::string&, const void*, int) const);

  const std::string path_;
  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);  // owned
};

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_LAB_STORE_H_
