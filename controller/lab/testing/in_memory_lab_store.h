// A LabStore in memory, with SqliteLabStore's semantics, for tests.
#ifndef EMU_CONTROLLER_LAB_TESTING_IN_MEMORY_LAB_STORE_H_
#define EMU_CONTROLLER_LAB_TESTING_IN_MEMORY_LAB_STORE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/lab/lab_store.h"
#include "proto/controller.pb.h"

namespace emu::controller::lab {

// Thread-safe. Forgets everything when destroyed. `puts()` counts Put calls
// so tests can check what a caller wrote. FailPuts/FailDeletes make writes
// fail on demand, as a full disk or a locked SQLite file would, so tests can
// check that callers do not lose such failures.
class InMemoryLabStore : public LabStore {
 public:
  absl::Status Put(const emu::v1::Lab& lab) override;
  absl::StatusOr<emu::v1::Lab> Get(const std::string& name) override;
  absl::StatusOr<std::vector<emu::v1::Lab>> List() override;
  absl::Status Delete(const std::string& name) override;

  int puts() const;
  // The next `times` Put calls (all of them when times < 0) fail with
  // `status` and store nothing; FailPuts(OkStatus(), 0) stops failing.
  // Only Puts of a lab in `state` fail when state is not
  // LAB_STATE_UNSPECIFIED.
  void FailPuts(absl::Status status, int times = -1,
                emu::v1::LabState state = emu::v1::LAB_STATE_UNSPECIFIED);
  void FailDeletes(absl::Status status);
  // Put calls that failed so far.
  int failed_puts() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, emu::v1::Lab> labs_ ABSL_GUARDED_BY(mu_);
  int puts_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status put_error_ ABSL_GUARDED_BY(mu_);
  int put_failures_left_ ABSL_GUARDED_BY(mu_) = 0;
  emu::v1::LabState put_fail_state_ ABSL_GUARDED_BY(mu_) =
      emu::v1::LAB_STATE_UNSPECIFIED;
  int failed_puts_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status delete_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_TESTING_IN_MEMORY_LAB_STORE_H_
