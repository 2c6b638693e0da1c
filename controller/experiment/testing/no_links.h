// A LinkApplier for runner tests whose experiments change no links: every
// change succeeds and does nothing. Thread-safe (stateless).
#ifndef EMU_CONTROLLER_EXPERIMENT_TESTING_NO_LINKS_H_
#define EMU_CONTROLLER_EXPERIMENT_TESTING_NO_LINKS_H_

#include <string>

#include "controller/experiment/experiment_runner.h"

namespace emu::controller::experiment::testing {

class NoLinks : public LinkApplier {
 public:
  absl::Status SetLinkParams(const std::string&,
                             const emu::v1::SetLinkParamsRequest&) override {
    return absl::OkStatus();
  }
  absl::Status SetInterfaceUp(const std::string&, const std::string&,
                              const std::string&, const std::string&,
                              bool) override {
    return absl::OkStatus();
  }
};

}  // namespace emu::controller::experiment::testing

#endif  // EMU_CONTROLLER_EXPERIMENT_TESTING_NO_LINKS_H_
