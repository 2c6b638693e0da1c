// Link conditions from text, the way topology files (docs/topology.md,
// "Links") and `emuctl link set --KEY VALUE` write them: one table of keys,
// shared by the topology parser and emuctl so both read a value the same.
//
// Pure; thread-safe.
#ifndef EMU_LINKEMU_LINK_PARAM_TEXT_H_
#define EMU_LINKEMU_LINK_PARAM_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/topology.pb.h"

namespace emu::linkemu {

// Sets the condition `key` names ("delay") from `text` ("10ms") in `p` and
// returns the LinkParams field it set ("delay_us"). INVALID_ARGUMENT with
// the unit parser's words (`bad duration "10": ...`, without the key) for a
// bad value; NOT_FOUND for a key that is not a condition.
// gilbert-elliott takes "P,R[,LOSS-BAD[,LOSS-GOOD]]" here ("1%,25%");
// topology files may also write it as a map (the parser reads that).
absl::StatusOr<std::string> SetLinkParamFromText(absl::string_view key,
                                                 absl::string_view text,
                                                 emu::v1::LinkParams* p);

// Every key SetLinkParamFromText knows, in docs/topology.md's order.
absl::Span<const absl::string_view> LinkParamKeys();

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_LINK_PARAM_TEXT_H_
