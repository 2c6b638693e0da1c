// UserDirectory: who a caller is and what they may do. It is the
// controller's one Authenticator (every client-facing service asks it,
// through common/reactors.h, before any work): the cluster token is the
// built-in administrator "admin", a user token (controller/users/token.h)
// is its user, anything else UNAUTHENTICATED. It also keeps users, their
// tokens and quotas, and the shares of labs (in a UserStore), and answers
// "may this caller do this to that lab" from the table in permissions.h.
//
// Thread-safe: the store is; user changes are serialised by one mutex so
// that a rotation and a removal cannot interleave. Borrows the store.
#ifndef EMU_CONTROLLER_USERS_USER_DIRECTORY_H_
#define EMU_CONTROLLER_USERS_USER_DIRECTORY_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "controller/users/lab_ref.h"
#include "controller/users/permissions.h"
#include "controller/users/user_store.h"
#include "proto/users.pb.h"

namespace emu::controller::users {

class UserDirectory : public Authenticator {
 public:
  // `cluster_token`: the agents' and the administrator's (non-empty).
  UserDirectory(UserStore* store, std::string cluster_token);

  grpc::Status Authenticate(const grpc::ServerContextBase& context,
                            Caller* caller) const override;
  // The same from a bare token (what Authenticate reads from the metadata).
  absl::StatusOr<Caller> Identify(absl::string_view token) const;

  // UserService's verbs; each checks that the caller may make it.
  absl::StatusOr<emu::v1::UserToken> AddUser(
      const Caller& caller, const emu::v1::AddUserRequest& request);
  absl::StatusOr<emu::v1::UserToken> RotateToken(const Caller& caller,
                                                 const std::string& name);
  // `owns_labs(name)` says whether the user still has live labs.
  absl::StatusOr<bool> RemoveUser(
      const Caller& caller, const std::string& name,
      const std::function<absl::StatusOr<bool>(const std::string&)>&
          owns_labs);
  // Administrators: everyone; others: themselves. Usage is left empty.
  absl::StatusOr<std::vector<emu::v1::User>> ListUsers(const Caller& caller);
  // The user's quota; an empty (unlimited) one for the cluster caller.
  absl::StatusOr<emu::v1::Quota> QuotaOf(const Caller& caller) const;

  absl::Status Share(const Caller& caller, absl::string_view lab,
                     const std::string& grantee, emu::v1::Role role);
  absl::StatusOr<bool> Unshare(const Caller& caller, absl::string_view lab,
                               const std::string& grantee);

  // The caller's role on the lab with this key, given every share.
  static Role RoleOn(const Caller& caller, absl::string_view key,
                     const std::vector<ShareRecord>& shares);

  // Resolves `lab` for the caller and checks that their role allows `verb`.
  // PERMISSION_DENIED "lab alice/core: bob may not exec in it" when not,
  // whether or not the lab exists (no answer tells what another user has).
  absl::StatusOr<LabRef> Authorize(const Caller& caller, absl::string_view lab,
                                   Verb verb) const;
  // Every share (for filtering a list of labs with RoleOn).
  absl::StatusOr<std::vector<ShareRecord>> Shares() const;

 private:
  absl::Status RequireAdmin(const Caller& caller, absl::string_view what) const;

  UserStore* const store_;
  const std::string cluster_token_;
  absl::Mutex mu_;  // serialises changes to users
};

}  // namespace emu::controller::users

#endif  // EMU_CONTROLLER_USERS_USER_DIRECTORY_H_
