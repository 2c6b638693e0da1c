#include "controller/users/user_service.h"

#include <utility>

#include "common/log.h"
#include "common/reactors.h"
#include "proto/request_names.h"
#include "common/status_macros.h"
#include "controller/users/lab_ref.h"
#include "controller/users/quota.h"

namespace emu::controller::users {

UserServiceImpl::UserServiceImpl(
    UserDirectory* users,
    std::function<absl::StatusOr<std::vector<emu::v1::Lab>>()> list_labs,
    ThreadPool* pool)
    : users_(users), list_labs_(std::move(list_labs)), pool_(pool) {}

grpc::ServerUnaryReactor* UserServiceImpl::AddUser(
    grpc::CallbackServerContext* context,
    const emu::v1::AddUserRequest* request, emu::v1::UserToken* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(*response, users_->AddUser(caller, *request));
        Log("user ", request->name(), " added by ", caller.name,
            request->admin() ? " (administrator)" : "", ", quota ",
            QuotaText(request->quota()));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* UserServiceImpl::ListUsers(
    grpc::CallbackServerContext* context, const emu::v1::ListUsersRequest*,
    emu::v1::ListUsersResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, response](const Caller& caller) -> absl::Status {
        EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::User> users,
                             users_->ListUsers(caller));
        EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, list_labs_());
        for (auto& u : users) {
          *u.mutable_usage() = InUse(labs, KeyOwner(u.name()));
          *response->add_users() = std::move(u);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* UserServiceImpl::RemoveUser(
    grpc::CallbackServerContext* context,
    const emu::v1::RemoveUserRequest* request,
    emu::v1::RemoveUserResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        auto owns_labs = [this](const std::string& name)
            -> absl::StatusOr<bool> {
          EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, list_labs_());
          return InUse(labs, KeyOwner(name)).labs() > 0;
        };
        EMU_ASSIGN_OR_RETURN(
            bool removed,
            users_->RemoveUser(caller, request->name(), owns_labs));
        response->set_removed(removed);
        if (removed) Log("user ", request->name(), " removed by ", caller.name);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* UserServiceImpl::RotateToken(
    grpc::CallbackServerContext* context,
    const emu::v1::RotateTokenRequest* request, emu::v1::UserToken* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(*response,
                             users_->RotateToken(caller, request->name()));
        Log("token of user ", request->name(), " rotated by ", caller.name);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* UserServiceImpl::ShareLab(
    grpc::CallbackServerContext* context,
    const emu::v1::ShareLabRequest* request, emu::v1::ShareLabResponse*) {
  return OffloadUnary(context, *users_, pool_,
                      [this, request](const Caller& caller) {
                        EMU_RETURN_IF_ERROR(
                            request_names::controller::Check(*request));
                        return users_->Share(caller, request->lab(),
                                             request->grantee(),
                                             request->role());
                      });
}

grpc::ServerUnaryReactor* UserServiceImpl::UnshareLab(
    grpc::CallbackServerContext* context,
    const emu::v1::UnshareLabRequest* request,
    emu::v1::UnshareLabResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(
            bool removed,
            users_->Unshare(caller, request->lab(), request->grantee()));
        response->set_removed(removed);
        return absl::OkStatus();
      });
}

}  // namespace emu::controller::users
