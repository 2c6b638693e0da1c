#include "cli/wait_ready.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace emu::cli {
namespace {

// One GetLab; the controller asks the lab's agents about their tunnels.
constexpr absl::Duration kGetLabTimeout = absl::Seconds(30);

}  // namespace

absl::Status WaitUntilLabReady(ControllerConnection& c, const std::string& lab,
                               std::ostream& err,
                               const WaitReadyOptions& options) {
  const absl::Time deadline = absl::Now() + options.timeout;
  bool announced = false;
  while (true) {
    v1::GetLabRequest request;
    request.set_lab(lab);
    v1::Lab got;
    grpc::Status s =
        c.stub().GetLab(c.NewContext(kGetLabTimeout).get(), request, &got);
    if (!s.ok()) return absl::OkStatus();
    if (!got.converging()) return absl::OkStatus();
    const std::string why =
        got.error().empty() ? "" : absl::StrCat(" (", got.error(), ")");
    if (!announced) {
      err << "emuctl: lab " << lab << " is " << v1::LabState_Name(got.state())
          << why << "; waiting up to " << absl::FormatDuration(options.timeout)
          << " for it to be RUNNING" << std::endl;
      announced = true;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "lab ", lab, " is still ", v1::LabState_Name(got.state()), " after ",
          absl::FormatDuration(options.timeout), why));
    }
    absl::SleepFor(std::min(options.poll_interval, deadline - now));
  }
}

}  // namespace emu::cli
