// What the web view reads, always on behalf of one caller: the same answers
// (and the same refusals) as the gRPC API's ListLabs, GetLab, GetLabStats,
// ListExperimentRuns and WatchExperimentRun give that caller.
#ifndef EMU_CONTROLLER_WEB_WEB_SOURCE_H_
#define EMU_CONTROLLER_WEB_WEB_SOURCE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth.h"
#include "proto/controller.pb.h"
#include "proto/counters.pb.h"
#include "proto/experiment.pb.h"

namespace emu::controller::hosts {
class HostRegistry;
}
namespace emu::controller::lab {
class LabManager;
}
namespace emu::controller::users {
class UserDirectory;
}
namespace emu::controller::experiment {
class ExperimentServiceImpl;
}

namespace emu::controller::web {

// Thread-safe implementations only (pages are served concurrently).
class WebSource {
 public:
  virtual ~WebSource() = default;
  // A token to its caller; UNAUTHENTICATED when unknown.
  virtual absl::StatusOr<Caller> Identify(absl::string_view token) const = 0;
  virtual absl::StatusOr<std::vector<emu::v1::Lab>> Labs(
      const Caller& caller) const = 0;
  // `name` as the caller writes it ("core", "alice/core").
  virtual absl::StatusOr<emu::v1::Lab> Lab(const Caller& caller,
                                           const std::string& name) const = 0;
  virtual absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> Runs(
      const Caller& caller) const = 0;
  // The lab's counters now, as GetLabStats answers (emuctl stats).
  virtual absl::StatusOr<emu::v1::LabCounters> Stats(
      const Caller& caller, const std::string& name) const = 0;
  virtual absl::StatusOr<emu::v1::RunResult> Run(
      const Caller& caller, const std::string& id) const = 0;
};

// The controller's own objects, borrowed.
class ControllerWebSource : public WebSource {
 public:
  ControllerWebSource(lab::LabManager* labs, users::UserDirectory* users,
                      experiment::ExperimentServiceImpl* experiments)
      : labs_(labs), users_(users), experiments_(experiments) {}
  absl::StatusOr<Caller> Identify(absl::string_view token) const override;
  absl::StatusOr<std::vector<emu::v1::Lab>> Labs(
      const Caller& caller) const override;
  absl::StatusOr<emu::v1::Lab> Lab(const Caller& caller,
                                   const std::string& name) const override;
  absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> Runs(
      const Caller& caller) const override;
  absl::StatusOr<emu::v1::LabCounters> Stats(
      const Caller& caller, const std::string& name) const override;
  absl::StatusOr<emu::v1::RunResult> Run(const Caller& caller,
                                         const std::string& id) const override;

 private:
  lab::LabManager* const labs_;
  users::UserDirectory* const users_;
  experiment::ExperimentServiceImpl* const experiments_;
};

}  // namespace emu::controller::web

#endif  // EMU_CONTROLLER_WEB_WEB_SOURCE_H_
