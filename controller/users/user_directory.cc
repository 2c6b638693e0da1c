#include "controller/users/user_directory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "controller/users/token.h"
#include "proto/topology_names.h"

namespace emu::controller::users {
namespace {

constexpr char kEveryone[] = "*";

}  // namespace

UserDirectory::UserDirectory(UserStore* store, std::string cluster_token)
    : store_(store), cluster_token_(std::move(cluster_token)) {}

absl::StatusOr<Caller> UserDirectory::Identify(absl::string_view token) const {
  if (!cluster_token_.empty() && ConstantTimeEquals(token, cluster_token_)) {
    return ClusterTokenAuthenticator::ClusterCaller();
  }
  const std::string user = TokenUser(token);
  if (!user.empty()) {
    absl::StatusOr<UserRecord> record = store_->GetUser(user);
    if (!record.ok() && !absl::IsNotFound(record.status())) {
      return absl::UnavailableError(absl::StrCat(
          "cannot check the token: ", record.status().message()));
    }
    if (record.ok() && TokenMatches(token, record->token)) {
      Caller c;
      c.name = record->user.name();
      c.admin = record->user.admin();
      return c;
    }
  }
  // One answer for a wrong, revoked or unknown token: it names nobody.
  return absl::UnauthenticatedError(
      "wrong bearer token (not the cluster's, nor a current user token)");
}

grpc::Status UserDirectory::Authenticate(
    const grpc::ServerContextBase& context, Caller* caller) const {
  absl::StatusOr<absl::string_view> token = BearerToken(context);
  absl::StatusOr<Caller> who =
      token.ok() ? Identify(*token) : absl::StatusOr<Caller>(token.status());
  if (!who.ok()) {
    return grpc::Status(static_cast<grpc::StatusCode>(who.status().code()),
                        std::string(who.status().message()));
  }
  *caller = *std::move(who);
  return grpc::Status::OK;
}

absl::Status UserDirectory::RequireAdmin(const Caller& caller,
                                         absl::string_view what) const {
  if (caller.admin) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(what, ": ", caller.name, " is not an administrator"));
}

absl::StatusOr<emu::v1::UserToken> UserDirectory::AddUser(
    const Caller& caller, const emu::v1::AddUserRequest& request) {
  const std::string& name = request.name();
  const std::string what = absl::StrCat("add user ", name);
  if (absl::Status s = RequireAdmin(caller, what); !s.ok()) return s;
  if (absl::Status s = CheckName("user", name); !s.ok()) return s;
  if (name == Caller::kAdminName) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": the name is reserved for the cluster token's holder"));
  }
  absl::MutexLock lock(&mu_);
  absl::StatusOr<UserRecord> existing = store_->GetUser(name);
  if (existing.ok()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "user ", name, " already exists; `emuctl user token ", name,
        "` issues a new token"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  absl::StatusOr<IssuedToken> issued = IssueToken(name);
  if (!issued.ok()) return issued.status();
  UserRecord record;
  record.user.set_name(name);
  record.user.set_admin(request.admin());
  *record.user.mutable_quota() = request.quota();
  record.user.set_created_unix_us(absl::ToUnixMicros(absl::Now()));
  record.user.set_token_issued_unix_us(record.user.created_unix_us());
  record.token = issued->hash;
  if (absl::Status s = store_->PutUser(record); !s.ok()) return s;
  emu::v1::UserToken out;
  out.set_user(name);
  out.set_token(issued->token);
  return out;
}

absl::StatusOr<emu::v1::UserToken> UserDirectory::RotateToken(
    const Caller& caller, const std::string& name) {
  if (!caller.admin && caller.name != name) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token of user ", name, ": ", caller.name,
        " may rotate only their own token"));
  }
  absl::MutexLock lock(&mu_);
  absl::StatusOr<UserRecord> record = store_->GetUser(name);
  if (!record.ok()) return record.status();
  absl::StatusOr<IssuedToken> issued = IssueToken(name);
  if (!issued.ok()) return issued.status();
  record->token = issued->hash;  // the old hash is gone: the old token too
  record->user.set_token_issued_unix_us(absl::ToUnixMicros(absl::Now()));
  if (absl::Status s = store_->PutUser(*record); !s.ok()) return s;
  emu::v1::UserToken out;
  out.set_user(name);
  out.set_token(issued->token);
  return out;
}

absl::StatusOr<bool> UserDirectory::RemoveUser(
    const Caller& caller, const std::string& name,
    const std::function<absl::StatusOr<bool>(const std::string&)>&
        owns_labs) {
  if (absl::Status s = RequireAdmin(caller, absl::StrCat("remove user ", name));
      !s.ok()) {
    return s;
  }
  absl::MutexLock lock(&mu_);
  absl::StatusOr<bool> busy = owns_labs(name);
  if (!busy.ok()) return busy.status();
  if (*busy) {
    return absl::FailedPreconditionError(absl::StrCat(
        "user ", name,
        " still has labs; take them down first (`emuctl ls` as an "
        "administrator shows them as ",
        name, "/LAB)"));
  }
  return store_->DeleteUser(name);
}

absl::StatusOr<std::vector<emu::v1::User>> UserDirectory::ListUsers(
    const Caller& caller) {
  absl::StatusOr<std::vector<UserRecord>> all = store_->ListUsers();
  if (!all.ok()) return all.status();
  std::vector<emu::v1::User> out;
  for (UserRecord& r : *all) {
    if (caller.admin || r.user.name() == caller.name) {
      out.push_back(std::move(r.user));
    }
  }
  return out;
}

absl::StatusOr<emu::v1::Quota> UserDirectory::QuotaOf(
    const Caller& caller) const {
  if (caller.cluster) return emu::v1::Quota();
  absl::StatusOr<UserRecord> r = store_->GetUser(caller.name);
  if (!r.ok()) return r.status();
  return r->user.quota();
}

Role UserDirectory::RoleOn(const Caller& caller, absl::string_view key,
                           const std::vector<ShareRecord>& shares) {
  if (caller.admin) return Role::kAdmin;
  const LabRef ref = RefFromKey(caller, key);
  if (ref.owner == OwnLabsOwner(caller)) return Role::kOwner;
  Role role = Role::kNone;
  for (const ShareRecord& s : shares) {
    if (s.lab_key == key && (s.grantee == caller.name || s.grantee == kEveryone)) {
      role = Stronger(role, FromProto(s.role));
    }
  }
  return role;
}

absl::StatusOr<std::vector<ShareRecord>> UserDirectory::Shares() const {
  return store_->ListShares();
}

absl::StatusOr<LabRef> UserDirectory::Authorize(const Caller& caller,
                                                absl::string_view lab,
                                                Verb verb) const {
  absl::StatusOr<LabRef> ref = ResolveLabRef(caller, lab);
  if (!ref.ok()) return ref.status();
  std::vector<ShareRecord> shares;
  if (!caller.admin && ref->owner != OwnLabsOwner(caller)) {
    absl::StatusOr<std::vector<ShareRecord>> all = store_->ListShares();
    if (!all.ok()) return all.status();
    shares = *std::move(all);
  }
  const Role role = RoleOn(caller, ref->key, shares);
  if (!Allows(role, verb)) {
    return absl::PermissionDeniedError(
        absl::StrCat("lab ", ref->display, ": ", caller.name, " may not ",
                     VerbPhrase(verb), " it"));
  }
  return ref;
}

absl::Status UserDirectory::Share(const Caller& caller, absl::string_view lab,
                                  const std::string& grantee,
                                  emu::v1::Role role) {
  absl::StatusOr<LabRef> ref = Authorize(caller, lab, Verb::kShare);
  if (!ref.ok()) return ref.status();
  if (role != emu::v1::VIEWER && role != emu::v1::OPERATOR) {
    return absl::InvalidArgumentError(absl::StrCat(
        "share lab ", ref->display, ": role must be viewer or operator"));
  }
  if (grantee != kEveryone) {
    absl::StatusOr<UserRecord> user = store_->GetUser(grantee);
    if (!user.ok()) {
      return absl::Status(user.status().code(),
                          absl::StrCat("share lab ", ref->display, ": ",
                                       user.status().message()));
    }
  }
  ShareRecord share;
  share.lab_key = ref->key;
  share.grantee = grantee;
  share.role = role;
  return store_->PutShare(share);
}

absl::StatusOr<bool> UserDirectory::Unshare(const Caller& caller,
                                            absl::string_view lab,
                                            const std::string& grantee) {
  absl::StatusOr<LabRef> ref = Authorize(caller, lab, Verb::kShare);
  if (!ref.ok()) return ref.status();
  return store_->DeleteShare(ref->key, grantee);
}

}  // namespace emu::controller::users
