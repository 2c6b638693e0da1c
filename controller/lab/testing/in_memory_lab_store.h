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
// so tests can check what a caller wrote.
class InMemoryLabStore : public LabStore {
 public:
  absl::Status Put(const emu::v1::Lab& lab) override;
  absl::StatusOr<emu::v1::Lab> Get(const std::string& name) override;
  absl::StatusOr<std::vector<emu::v1::Lab>> List() override;
  absl::Status Delete(const std::string& name) override;

  int puts() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, emu::v1::Lab> labs_ ABSL_GUARDED_BY(mu_);
  int puts_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_TESTING_IN_MEMORY_LAB_STORE_H_
