// UserService (proto/users.proto) over gRPC's callback API: the caller
// identified by the UserDirectory, the work on a ThreadPool.
//
// Thread-safe. Borrows the directory and the pool.
#ifndef EMU_CONTROLLER_USERS_USER_SERVICE_H_
#define EMU_CONTROLLER_USERS_USER_SERVICE_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/thread_pool.h"
#include "controller/users/user_directory.h"
#include "proto/controller.pb.h"
#include "proto/users.grpc.pb.h"

namespace emu::controller::users {

class UserServiceImpl final : public emu::v1::UserService::CallbackService {
 public:
  // `list_labs`: every stored lab (for usage, and to keep a user who still
  // has labs).
  UserServiceImpl(
      UserDirectory* users,
      std::function<absl::StatusOr<std::vector<emu::v1::Lab>>()> list_labs,
      ThreadPool* pool);

  grpc::ServerUnaryReactor* AddUser(grpc::CallbackServerContext* context,
                                    const emu::v1::AddUserRequest* request,
                                    emu::v1::UserToken* response) override;
  grpc::ServerUnaryReactor* ListUsers(
      grpc::CallbackServerContext* context,
      const emu::v1::ListUsersRequest* request,
      emu::v1::ListUsersResponse* response) override;
  grpc::ServerUnaryReactor* RemoveUser(
      grpc::CallbackServerContext* context,
      const emu::v1::RemoveUserRequest* request,
      emu::v1::RemoveUserResponse* response) override;
  grpc::ServerUnaryReactor* RotateToken(
      grpc::CallbackServerContext* context,
      const emu::v1::RotateTokenRequest* request,
      emu::v1::UserToken* response) override;
  grpc::ServerUnaryReactor* ShareLab(grpc::CallbackServerContext* context,
                                     const emu::v1::ShareLabRequest* request,
                                     emu::v1::ShareLabResponse* response)
      override;
  grpc::ServerUnaryReactor* UnshareLab(
      grpc::CallbackServerContext* context,
      const emu::v1::UnshareLabRequest* request,
      emu::v1::UnshareLabResponse* response) override;

 private:
  UserDirectory* const users_;
  const std::function<absl::StatusOr<std::vector<emu::v1::Lab>>()>
      list_labs_;
  ThreadPool* const pool_;
};

}  // namespace emu::controller::users

#endif  // EMU_CONTROLLER_USERS_USER_SERVICE_H_
