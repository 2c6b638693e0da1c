#include "controller/users/lab_ref.h"

#include "absl/strings/str_cat.h"
#include "proto/topology_names.h"

namespace emu::controller::users {

std::string KeyOwner(absl::string_view owner) {
  return owner == Caller::kAdminName ? std::string() : std::string(owner);
}

std::string OwnerName(absl::string_view key_owner) {
  return key_owner.empty() ? std::string(Caller::kAdminName)
                           : std::string(key_owner);
}

std::string OwnLabsOwner(const Caller& caller) {
  return caller.cluster ? std::string(Caller::kAdminName) : caller.name;
}

namespace {

LabRef Make(const Caller& caller, std::string owner, std::string name) {
  LabRef ref;
  ref.key = LabKey(KeyOwner(owner), name);
  ref.display =
      owner == OwnLabsOwner(caller) ? name : absl::StrCat(owner, "/", name);
  ref.owner = std::move(owner);
  ref.name = std::move(name);
  return ref;
}

}  // namespace

absl::StatusOr<LabRef> ResolveLabRef(const Caller& caller,
                                     absl::string_view ref) {
  const size_t slash = ref.find('/');
  std::string owner = OwnLabsOwner(caller);
  absl::string_view name = ref;
  if (slash != absl::string_view::npos) {
    owner = std::string(ref.substr(0, slash));
    name = ref.substr(slash + 1);
  }
  if (!IsValidName(owner) || !IsValidName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lab '", ref,
        "': name a lab LAB (your own) or OWNER/LAB, each 1-32 letters, "
        "digits, '-' or '_'"));
  }
  return Make(caller, std::move(owner), std::string(name));
}

LabRef RefFromKey(const Caller& caller, absl::string_view key) {
  LabKeyParts parts = SplitLabKey(key);
  return Make(caller, OwnerName(parts.owner), std::move(parts.lab));
}

}  // namespace emu::controller::users
