#include "controller/experiment/experiment_store.h"

#include <sqlite3.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace emu::controller::experiment {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// Finalizes a statement on every path.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteExperimentStore>>
SqliteExperimentStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("experiment store ", path, ": open: ", msg));
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::unique_ptr<SqliteExperimentStore> store(
      new SqliteExperimentStore(db, path));
  rc = sqlite3_exec(db,
                    "CREATE TABLE IF NOT EXISTS experiment_runs("
                    "  id TEXT PRIMARY KEY,"
                    "  summary BLOB NOT NULL,"
                    "  state INTEGER NOT NULL,"
                    "  generation INTEGER NOT NULL,"
                    "  start_us INTEGER NOT NULL)",
                    nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return store->Error(rc, "create table experiment_runs");
  rc = sqlite3_exec(db,
                    "CREATE TABLE IF NOT EXISTS experiment_checkpoints("
                    "  id TEXT PRIMARY KEY,"
                    "  checkpoint BLOB NOT NULL)",
                    nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return store->Error(rc, "create table experiment_checkpoints");
  }
  return store;
}

SqliteExperimentStore::~SqliteExperimentStore() { sqlite3_close(db_); }

absl::Status SqliteExperimentStore::Error(int rc, const std::string& what) {
  return absl::InternalError(absl::StrCat("experiment store ", path_, ": ",
                                          what, ": ", sqlite3_errmsg(db_), " (",
                                          rc, ")"));
}

absl::Status SqliteExperimentStore::Put(
    const emu::v1::ExperimentRunSummary& run, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  Stmt st;
  int rc = sqlite3_prepare_v2(
      db_,
      "INSERT OR REPLACE INTO experiment_runs(id, summary, state, generation,"
      " start_us) VALUES(?, ?, ?, ?, ?)",
      -1, &st.s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare put");
  const std::string blob = run.SerializeAsString();
  sqlite3_bind_text(st.s, 1, run.id().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(st.s, 2, blob.data(), blob.size(), SQLITE_TRANSIENT);
  sqlite3_bind_int(st.s, 3, run.state());
  sqlite3_bind_int64(st.s, 4, static_cast<int64_t>(generation));
  sqlite3_bind_int64(st.s, 5, run.start_unix_us());
  rc = sqlite3_step(st.s);
  if (rc != SQLITE_DONE) return Error(rc, absl::StrCat("put run ", run.id()));
  if (run.state() != emu::v1::RUN_RUNNING) return DeleteCheckpointLocked(run.id());
  return absl::OkStatus();
}

absl::Status SqliteExperimentStore::DeleteCheckpointLocked(
    const std::string& id) {
  Stmt st;
  int rc = sqlite3_prepare_v2(
      db_, "DELETE FROM experiment_checkpoints WHERE id = ?", -1, &st.s,
      nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare delete checkpoint");
  sqlite3_bind_text(st.s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(st.s);
  if (rc != SQLITE_DONE) {
    return Error(rc, absl::StrCat("delete checkpoint of run ", id));
  }
  return absl::OkStatus();
}

absl::Status SqliteExperimentStore::PutCheckpoint(
    const emu::v1::RunCheckpoint& cp) {
  absl::MutexLock lock(&mu_);
  // One write per Task: in the WAL (lab_store sets it on this file) with
  // synchronous=NORMAL it is not fsync'd at once; it survives the
  // controller's death (the case it is for), and the next FULL commit (a
  // run record) syncs it. Back to FULL for the records.
  sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  Stmt st;
  int rc = sqlite3_prepare_v2(
      db_,
      "INSERT OR REPLACE INTO experiment_checkpoints(id, checkpoint)"
      " VALUES(?, ?)",
      -1, &st.s, nullptr);
  absl::Status out;
  if (rc != SQLITE_OK) {
    out = Error(rc, "prepare put checkpoint");
  } else {
    const std::string blob = cp.SerializeAsString();
    sqlite3_bind_text(st.s, 1, cp.run_id().c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st.s, 2, blob.data(), blob.size(), SQLITE_TRANSIENT);
    rc = sqlite3_step(st.s);
    if (rc != SQLITE_DONE) {
      out = Error(rc, absl::StrCat("put checkpoint of run ", cp.run_id()));
    }
  }
  sqlite3_exec(db_, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  return out;
}

absl::StatusOr<std::vector<emu::v1::RunCheckpoint>>
SqliteExperimentStore::Checkpoints() {
  absl::MutexLock lock(&mu_);
  Stmt st;
  int rc = sqlite3_prepare_v2(
      db_,
      "SELECT c.checkpoint FROM experiment_checkpoints c JOIN experiment_runs"
      " r ON c.id = r.id WHERE r.state = ? ORDER BY r.start_us",
      -1, &st.s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare checkpoints");
  sqlite3_bind_int(st.s, 1, emu::v1::RUN_RUNNING);
  std::vector<emu::v1::RunCheckpoint> out;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    emu::v1::RunCheckpoint cp;
    if (!cp.ParseFromArray(sqlite3_column_blob(st.s, 0),
                           sqlite3_column_bytes(st.s, 0))) {
      continue;  // unreadable: FailRunning ends its run
    }
    out.push_back(std::move(cp));
  }
  if (rc != SQLITE_DONE) return Error(rc, "list checkpoints");
  return out;
}

absl::Status SqliteExperimentStore::EndRun(const std::string& id,
                                           emu::v1::RunState state,
                                           const std::string& why) {
  auto runs = List();
  if (!runs.ok()) return runs.status();
  for (auto& run : *runs) {
    if (run.id() != id) continue;
    uint64_t generation = 0;
    {
      absl::MutexLock lock(&mu_);
      Stmt st;
      int rc = sqlite3_prepare_v2(
          db_, "SELECT generation FROM experiment_runs WHERE id = ?", -1,
          &st.s, nullptr);
      if (rc != SQLITE_OK) return Error(rc, "prepare run generation");
      sqlite3_bind_text(st.s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st.s) == SQLITE_ROW) {
        generation = static_cast<uint64_t>(sqlite3_column_int64(st.s, 0));
      }
    }
    run.set_state(state);
    run.set_error(why);
    run.set_end_unix_us(absl::ToUnixMicros(absl::Now()));
    return Put(run, generation);
  }
  absl::MutexLock lock(&mu_);
  return DeleteCheckpointLocked(id);
}

absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>>
SqliteExperimentStore::List() {
  absl::MutexLock lock(&mu_);
  Stmt st;
  int rc = sqlite3_prepare_v2(
      db_, "SELECT summary FROM experiment_runs ORDER BY start_us DESC", -1,
      &st.s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare list");
  std::vector<emu::v1::ExperimentRunSummary> out;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    emu::v1::ExperimentRunSummary run;
    run.ParseFromArray(sqlite3_column_blob(st.s, 0),
                       sqlite3_column_bytes(st.s, 0));
    out.push_back(std::move(run));
  }
  if (rc != SQLITE_DONE) return Error(rc, "list runs");
  return out;
}

absl::StatusOr<uint64_t> SqliteExperimentStore::MaxGeneration() {
  absl::MutexLock lock(&mu_);
  Stmt st;
  int rc = sqlite3_prepare_v2(
      db_, "SELECT COALESCE(MAX(generation), 0) FROM experiment_runs", -1,
      &st.s, nullptr);
  if (rc != SQLITE_OK) return Error(rc, "prepare max generation");
  if (sqlite3_step(st.s) != SQLITE_ROW) return Error(rc, "max generation");
  return static_cast<uint64_t>(sqlite3_column_int64(st.s, 0));
}

absl::StatusOr<int> SqliteExperimentStore::FailRunning(const std::string& why) {
  auto runs = List();
  if (!runs.ok()) return runs.status();
  auto gen = MaxGeneration();
  if (!gen.ok()) return gen.status();
  auto resumable = Checkpoints();
  if (!resumable.ok()) return resumable.status();
  std::set<std::string> kept;
  for (const auto& cp : *resumable) kept.insert(cp.run_id());
  int n = 0;
  for (auto& run : *runs) {
    if (run.state() != emu::v1::RUN_RUNNING || kept.count(run.id())) continue;
    run.set_state(emu::v1::RUN_FAILED);
    run.set_error(why);
    run.set_end_unix_us(absl::ToUnixMicros(absl::Now()));
    absl::Status s = Put(run, *gen);
    if (!s.ok()) return s;
    ++n;
  }
  return n;
}

}  // namespace emu::controller::experiment
