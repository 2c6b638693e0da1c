// The agent's memory of what each lab should look like on this host: one
// file per lab, <state_dir>/labs/<lab>.pb (a serialized ApplyLabRequest),
// written atomically (temp file + rename) BEFORE anything is created, so an
// agent that crashes mid-apply finds the lab again on restart.
//
// Thread-safe: each call touches one file; callers serialise per lab.
#ifndef EMU_AGENT_RECONCILE_LAB_SPEC_STORE_H_
#define EMU_AGENT_RECONCILE_LAB_SPEC_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/agent.pb.h"

namespace emu::agent::reconcile {

class LabSpecStore {
 public:
  // Creates <state_dir>/labs if needed.
  static absl::StatusOr<LabSpecStore> Open(const std::string& state_dir);

  absl::Status Save(const emu::v1::ApplyLabRequest& spec) const;
  absl::StatusOr<emu::v1::ApplyLabRequest> Load(const std::string& lab) const;
  // OK if absent.
  absl::Status Remove(const std::string& lab) const;
  // Labs with a saved spec, sorted.
  absl::StatusOr<std::vector<std::string>> List() const;
  std::string PathFor(const std::string& lab) const;

 private:
  explicit LabSpecStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace emu::agent::reconcile

#endif  // EMU_AGENT_RECONCILE_LAB_SPEC_STORE_H_
