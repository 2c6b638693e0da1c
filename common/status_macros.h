// Status propagation helpers. Debian's Abseil (20220623) has no status
// macros, so emu carries these two.
#ifndef EMU_COMMON_STATUS_MACROS_H_
#define EMU_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define EMU_STATUS_CONCAT_INNER_(a, b) a##b
#define EMU_STATUS_CONCAT_(a, b) EMU_STATUS_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (an absl::Status) is not OK.
#define EMU_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::absl::Status emu_status_ = (expr);          \
    if (!emu_status_.ok()) return emu_status_;    \
  } while (0)

// `lhs = value of expr` (an absl::StatusOr<T>), or returns its error.
#define EMU_ASSIGN_OR_RETURN(lhs, expr)                                      \
  EMU_ASSIGN_OR_RETURN_IMPL_(EMU_STATUS_CONCAT_(emu_statusor_, __LINE__), lhs, \
                             expr)
#define EMU_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

namespace emu {

// Returns `status` with "context: " prepended to its message, same code.
inline absl::Status Annotate(const absl::Status& status,
                             absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      std::string(context) + ": " + std::string(status.message()));
}

}  // namespace emu

#endif  // EMU_COMMON_STATUS_MACROS_H_
