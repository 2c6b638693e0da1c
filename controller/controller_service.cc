#include "controller/controller_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/request_names.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/reactors.h"
#include "common/status_macros.h"
#include "controller/capture_relay.h"
#include "controller/lab/lab_details.h"
#include "controller/lab/link_set.h"
#include "controller/community/attachments.h"
#include "controller/hosts/guest_images.h"
#include "controller/guest/console_relay.h"
#include "controller/placement/lab_planner.h"
#include "controller/topology/problems.h"
#include "controller/users/lab_access.h"

namespace emu::controller {
namespace {

// Work queued on the pool can outlive the caller's interest (it gave up, or
// its deadline passed while a big file was parsed): checked between steps
// so that an abandoned request stops taking the controller's time.
absl::Status CheckCaller(grpc::CallbackServerContext* context,
                         absl::string_view step) {
  if (!context->IsCancelled()) return absl::OkStatus();
  return absl::CancelledError(
      absl::StrCat("stopped before ", step,
                   ": the caller cancelled or its deadline passed"));
}

// The file name the request gave, for problems' `file`.
std::string SourceFileName(const emu::v1::TopologySource& source) {
  return source.has_file() ? source.file().name() : std::string();
}

// A refused topology (INVALID_ARGUMENT) ends the stream with one event
// carrying every problem (in `state`); the status stays a few lines.
template <typename Push>
absl::Status Refused(const absl::Status& s,
                     const emu::v1::TopologySource& source,
                     emu::v1::LabState state, const Push& push) {
  if (absl::IsInvalidArgument(s)) {
    emu::v1::DeployEvent refused;
    refused.set_time_unix_us(absl::ToUnixMicros(absl::Now()));
    refused.set_state(state);
    refused.set_message("topology refused");
    for (auto& p : topology::ProblemsFromStatus(s, SourceFileName(source),
                                                emu::v1::Problem::ERROR)) {
      *refused.add_problems() = std::move(p);
    }
    push(refused);
  }
  return topology::ShortStatus(s);
}

// The agent of guest `node` of the lab the caller names as `lab`, once the
// caller may do `verb` on it: the lab's key (as the agents name it), the
// host and a stub to its GuestService.
struct GuestCall {
  std::string lab_key;
  std::string host;
  std::shared_ptr<emu::v1::GuestService::StubInterface> stub;
};
absl::StatusOr<GuestCall> FindGuest(const Caller& caller,
                                    const std::string& lab,
                                    const std::string& node, users::Verb verb,
                                    users::UserDirectory& users,
                                    lab::LabManager& labs,
                                    guest::GuestAgents& guests) {
  EMU_ASSIGN_OR_RETURN(users::LabRef ref, users.Authorize(caller, lab, verb));
  auto l = labs.Get(ref.key);
  if (!l.ok()) return users::InCallerTerms(l.status(), ref);
  GuestCall call;
  call.lab_key = ref.key;
  EMU_ASSIGN_OR_RETURN(call.host, guest::GuestHost(*l, lab, node));
  EMU_ASSIGN_OR_RETURN(call.stub, guests.Stub(call.host));
  return call;
}

}  // namespace

ControllerServiceImpl::ControllerServiceImpl(lab::LabManager* labs,
                                             hosts::HostRegistry* hosts,
                                             users::UserDirectory* users,
                                             guest::GuestAgents* guests,
                                             ThreadPool* pool)
    : labs_(labs), hosts_(hosts), users_(users), guests_(guests), pool_(pool) {}

grpc::ServerUnaryReactor* ControllerServiceImpl::ValidateTopology(
    grpc::CallbackServerContext* context,
    const emu::v1::ValidateTopologyRequest* request,
    emu::v1::ValidateTopologyResponse* response) {
  return OffloadUnary(context, *users_, pool_,
                      [this, context, request, response](const Caller&) {
                        EMU_RETURN_IF_ERROR(CheckCaller(context, "validating"));
                        auto parsed = labs_->Validate(request->source());
                        EMU_RETURN_IF_ERROR(CheckCaller(context, "answering"));
                        // A refused topology is the answer to this call (status
                        // OK, every problem in the message); other failures
                        // stay failures.
                        auto answer = topology::ToValidateResponse(
                            parsed, SourceFileName(request->source()));
                        if (!answer.ok())
                          return topology::ShortStatus(answer.status());
                        *response = *std::move(answer);
                        return absl::OkStatus();
                      });
}

grpc::ServerWriteReactor<emu::v1::DeployEvent>*
ControllerServiceImpl::DeployLab(grpc::CallbackServerContext* context,
                                 const emu::v1::DeployLabRequest* request) {
  return OffloadStream<emu::v1::DeployEvent>(
      context, *users_, pool_,
      [this, context, source = request->source()](const Caller& caller,
                                                  const auto& push) {
        EMU_RETURN_IF_ERROR(CheckCaller(context, "deploying"));
        absl::Time start = absl::Now();
        lab::LabManager::DeployAs as;
        as.owner = users::KeyOwner(users::OwnLabsOwner(caller));
        as.admin = caller.admin;  // `target: host` stage commands
        as.caller = caller.name;
        if (!caller.cluster) as.admit = users::QuotaAdmission(
            caller, users_, [this] { return labs_->List(); });
        absl::Status s = labs_->Deploy(source, as, push);
        Log("deploy ", source.has_file() ? source.file().name() : "topology",
            ": ", s.ok() ? "ok" : topology::ShortStatus(s).ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        return Refused(s, source, emu::v1::FAILED, push);
      });
}

grpc::ServerWriteReactor<emu::v1::DeployEvent>*
ControllerServiceImpl::ApplyLab(grpc::CallbackServerContext* context,
                                const emu::v1::ApplyTopologyRequest* request) {
  return OffloadStream<emu::v1::DeployEvent>(
      context, *users_, pool_,
      [this, context, source = request->source(),
       dry_run = request->dry_run()](const Caller& caller, const auto& push) {
        EMU_RETURN_IF_ERROR(CheckCaller(context, "applying"));
        absl::Time start = absl::Now();
        // Like a deploy: the file names the caller's own lab.
        lab::LabManager::DeployAs as;
        as.owner = users::KeyOwner(users::OwnLabsOwner(caller));
        as.admin = caller.admin;  // `target: host` stage commands
        as.caller = caller.name;
        if (!caller.cluster) as.admit = users::QuotaAdmission(
            caller, users_, [this] { return labs_->List(); });
        absl::Status s = labs_->Apply(source, as, dry_run, push);
        Log("apply ", dry_run ? "(dry run) " : "",
            source.has_file() ? source.file().name() : "topology", ": ",
            s.ok() ? "ok" : topology::ShortStatus(s).ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        // The lab still runs (its previous topology) when the file is
        // refused.
        return Refused(s, source, emu::v1::RUNNING, push);
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::SetLinkParams(
    grpc::CallbackServerContext* context,
    const emu::v1::LabSetLinkParamsRequest* request,
    emu::v1::LabSetLinkParamsResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(
            users::LabRef ref,
            users_->Authorize(caller, request->lab(), users::Verb::kShape));
        auto lab = labs_->Get(ref.key);
        if (!lab.ok()) return users::InCallerTerms(lab.status(), ref);
        // The stored topology as its file declared it (without the nodes
        // the controller derived for community attachments and interface
        // exports, which apply derives again), edited, through apply: the
        // same checks, host calls (SetLinkParams where only conditions
        // change), rollback and record as `emuctl apply`. An attachment's
        // edit lands in its Attachment, so it survives the reconcile that
        // re-attaches it.
        emu::v1::TopologySource source;
        emu::v1::Topology* topo = source.mutable_topology();
        *topo = community::AsDeclared(lab->topology());
        topo->set_name(ref.name);
        auto link = lab::EditLinkParams(*request, ref.owner, topo);
        if (!link.ok()) return users::InCallerTerms(link.status(), ref);
        *response->mutable_link() = *std::move(link);
        lab::LabManager::DeployAs as;
        as.owner = users::KeyOwner(ref.owner);
        absl::Time start = absl::Now();
        absl::Status s = labs_->Apply(
            source, as, /*dry_run=*/false,
            [response](const emu::v1::DeployEvent& e) {
              for (const auto& c : e.changes()) response->add_changes(c);
            });
        Log("link set ", ref.key, " ", request->link(), " by ", caller.name,
            ": ", s.ok() ? "ok" : topology::ShortStatus(s).ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        return users::InCallerTerms(topology::ShortStatus(s), ref);
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::GetLab(
    grpc::CallbackServerContext* context, const emu::v1::GetLabRequest* request,
    emu::v1::Lab* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(
            users::LabRef ref,
            users_->Authorize(caller, request->lab(), users::Verb::kView));
        auto lab = labs_->Get(ref.key);
        if (!lab.ok()) return users::InCallerTerms(lab.status(), ref);
        *response = users::AsSeenBy(caller, *std::move(lab));
        lab::LeaveOutDetails(request->details_up_to(), response);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListLabs(
    grpc::CallbackServerContext* context, const emu::v1::ListLabsRequest*,
    emu::v1::ListLabsResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, response](const Caller& caller) -> absl::Status {
        EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs,
                             labs_->ListOutlines());
        EMU_ASSIGN_OR_RETURN(
            std::vector<emu::v1::Lab> visible,
            users::VisibleLabs(caller, *users_, std::move(labs)));
        for (auto& l : visible) *response->add_labs() = std::move(l);
        response->set_caller(caller.name);
        response->set_caller_admin(caller.admin);
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<emu::v1::DeployEvent>*
ControllerServiceImpl::DestroyLab(grpc::CallbackServerContext* context,
                                  const emu::v1::DestroyLabRequest* request) {
  return OffloadStream<emu::v1::DeployEvent>(
      context, *users_, pool_,
      [this, lab = request->lab()](const Caller& caller,
                                   const auto& push) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::CheckLabRef("lab", lab));
        EMU_ASSIGN_OR_RETURN(
            users::LabRef ref,
            users_->Authorize(caller, lab, users::Verb::kDestroy));
        absl::Time start = absl::Now();
        absl::Status s = labs_->Destroy(ref.key, push);
        Log("destroy lab ", ref.key, " by ", caller.name, ": ",
            s.ok() ? "ok" : s.ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        return users::InCallerTerms(topology::ShortStatus(s), ref);
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::Exec(
    grpc::CallbackServerContext* context,
    const emu::v1::LabExecRequest* request, emu::v1::ExecResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(
            users::LabRef ref,
            users_->Authorize(caller, request->lab(), users::Verb::kExec));
        emu::v1::LabExecRequest keyed = *request;
        keyed.set_lab(ref.key);
        auto r = labs_->Exec(keyed);
        if (!r.ok()) return users::InCallerTerms(r.status(), ref);
        *response = *std::move(r);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListHosts(
    grpc::CallbackServerContext* context, const emu::v1::ListHostsRequest*,
    emu::v1::ListHostsResponse* response) {
  // Any known caller: the hosts are the cluster's, not a user's.
  return OffloadUnary(context, *users_, pool_, [this, response](const Caller&) {
    for (auto& h : hosts_->Snapshot()) *response->add_hosts() = std::move(h);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::PlanLab(
    grpc::CallbackServerContext* context,
    const emu::v1::PlanLabRequest* request,
    emu::v1::PlanLabResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, context, request, response](const Caller& caller) {
        EMU_RETURN_IF_ERROR(CheckCaller(context, "planning"));
        auto plan = emu::controller::placement::PlanLab(
            *labs_, hosts_, *request, caller.admin, caller.name);
        // A refused topology is a short status here (the first problems and a
        // count); ValidateTopology gives the whole list in its response.
        if (!plan.ok()) return topology::ShortStatus(plan.status());
        EMU_RETURN_IF_ERROR(CheckCaller(context, "answering"));
        *response = *std::move(plan);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListCommunity(
    grpc::CallbackServerContext* context, const emu::v1::ListCommunityRequest*,
    emu::v1::ListCommunityResponse* response) {
  // What MayAttach lets the caller use (an administrator: everything).
  return OffloadUnary(
      context, *users_, pool_,
      [this, response](const Caller& caller) -> absl::Status {
        EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, labs_->List());
        for (auto& e : community::VisibleEndpoints(labs, caller.name,
                                                   caller.admin)) {
          *response->add_endpoints() = std::move(e);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::RemoveHost(
    grpc::CallbackServerContext* context,
    const emu::v1::RemoveHostRequest* request,
    emu::v1::RemoveHostResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        if (!caller.admin) {
          return absl::PermissionDeniedError(absl::StrCat(
              "remove host ", request->host(), ": ", caller.name,
              " is not an administrator"));
        }
        EMU_RETURN_IF_ERROR(hosts_->Client(request->host()).status());
        // The labs that still have nodes there, as OWNER/LAB.
        EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::Lab> labs, labs_->List());
        std::vector<std::string> placed;
        for (auto& l : labs) {
          if (l.state() == emu::v1::DESTROYED || l.state() == emu::v1::FAILED)
            continue;
          for (const auto& n : l.nodes()) {
            if (n.host() != request->host()) continue;
            const emu::v1::Lab seen = users::AsSeenBy(caller, std::move(l));
            placed.push_back(absl::StrCat(seen.owner(), "/", seen.name()));
            break;
          }
        }
        if (!placed.empty() && !request->force()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "host ", request->host(), " has nodes of ",
              placed.size() == 1 ? "lab " : "labs ",
              absl::StrJoin(placed, ", "), ": `emuctl down` ",
              placed.size() == 1 ? "it" : "them",
              " first, or remove the host with --force (they read DEGRADED "
              "until brought down)"));
        }
        EMU_RETURN_IF_ERROR(hosts_->Remove(request->host()));
        for (auto& p : placed) response->add_labs(std::move(p));
        Log("host ", request->host(), " removed by ", caller.name,
            placed.empty() ? std::string()
                           : absl::StrCat(" (forced; labs with nodes there: ",
                                          absl::StrJoin(placed, ", "), ")"));
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::SetCommunityExport(
    grpc::CallbackServerContext* context,
    const emu::v1::SetCommunityExportRequest* request,
    emu::v1::SetCommunityExportResponse* response) {
  // emuctl community export/unexport: the "export" verb (operator or
  // owner, controller/users/permissions.h) on the lab.
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(
            users::LabRef ref,
            users_->Authorize(caller, request->lab(), users::Verb::kExport));
        absl::Time start = absl::Now();
        auto endpoint =
            labs_->SetExport(ref.key, request->spec(), request->remove());
        Log("community ", request->remove() ? "unexport " : "export ",
            ref.key, " ", request->spec().name(), " by ", caller.name, ": ",
            endpoint.ok() ? "ok" : endpoint.status().ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        if (!endpoint.ok()) {
          return users::InCallerTerms(topology::ShortStatus(endpoint.status()),
                                      ref);
        }
        *response->mutable_endpoint() = *std::move(endpoint);
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<emu::v1::CaptureChunk>* ControllerServiceImpl::Capture(
    grpc::CallbackServerContext* context,
    const emu::v1::CaptureRequest* request) {
  return StartCaptureRelay(context, *request, labs_, users_, pool_,
                           &captures_);
}

grpc::ServerUnaryReactor* ControllerServiceImpl::GetLabStats(
    grpc::CallbackServerContext* context,
    const emu::v1::GetLabStatsRequest* request,
    emu::v1::LabCounters* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(
            users::LabRef ref,
            users_->Authorize(caller, request->lab(), users::Verb::kView));
        auto counters = labs_->Stats(ref.key);
        if (!counters.ok()) return users::InCallerTerms(counters.status(), ref);
        *response = *std::move(counters);
        response->set_lab(request->lab());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::ListImages(
    grpc::CallbackServerContext* context,
    const emu::v1::ListImagesRequest* request,
    emu::v1::ListImagesResponse* response) {
  // Any known caller, as ListHosts: images are the hosts', not a user's.
  return OffloadUnary(
      context, *users_, pool_,
      [this, request, response](const Caller&) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(*response,
                             hosts::ListGuestImages(*hosts_, *request));
        return absl::OkStatus();
      });
}

grpc::ServerWriteReactor<emu::v1::BuildImageEvent>*
ControllerServiceImpl::BuildImage(grpc::CallbackServerContext* context,
                                  const emu::v1::BuildImageRequest* request) {
  return OffloadStream<emu::v1::BuildImageEvent>(
      context, *users_, pool_,
      [this, request = *request](const Caller& caller,
                                 const auto& push) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(request));
        if (!caller.admin) {
          return absl::PermissionDeniedError(absl::StrCat(
              "build image ", request.name(), ": ", caller.name,
              " is not an administrator (agents build images as root)"));
        }
        absl::Time start = absl::Now();
        absl::Status s = hosts::BuildGuestImage(*hosts_, request, push);
        Log("image ", request.name(), " built by ", caller.name, ": ",
            s.ok() ? "ok" : s.ToString(), " in ",
            absl::FormatDuration(absl::Now() - start));
        return s;
      });
}

grpc::ServerBidiReactor<emu::v1::ConsoleInput, emu::v1::ConsoleOutput>*
ControllerServiceImpl::Console(grpc::CallbackServerContext* context) {
  // Like Exec: operator or owner ("exec" in permissions.h). The relay
  // checks the first message's names before it calls this resolver.
  return guest::StartConsoleRelay(
      context, *users_, pool_,
      [this](const Caller& caller, const emu::v1::ConsoleInput& first)
          -> absl::StatusOr<guest::ConsoleTarget> {
        EMU_ASSIGN_OR_RETURN(
            GuestCall call, FindGuest(caller, first.lab(), first.node(),
                                      users::Verb::kExec, *users_, *labs_,
                                      *guests_));
        Log("console ", call.lab_key, "/", first.node(), " on host ",
            call.host, " by ", caller.name);
        guest::ConsoleTarget target;
        target.host = call.host;
        target.stub = std::move(call.stub);
        target.token = guests_->token();
        target.hello.set_lab(call.lab_key);
        target.hello.set_node(first.node());
        target.hello.set_data(first.data());
        return target;
      });
}

grpc::ServerUnaryReactor* ControllerServiceImpl::RestartNode(
    grpc::CallbackServerContext* context,
    const emu::v1::RestartNodeRequest* request,
    emu::v1::RestartNodeResponse* response) {
  return OffloadUnary(
      context, *users_, pool_,
      [this, context, request, response](const Caller& caller) -> absl::Status {
        EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
        EMU_ASSIGN_OR_RETURN(
            GuestCall call,
            FindGuest(caller, request->lab(), request->node(),
                      users::Verb::kRestart, *users_, *labs_, *guests_));
        grpc::ClientContext agent;
        AddAuthToken(&agent, guests_->token());
        // The caller's deadline, which a guest's boot fits in (emuctl gives
        // five minutes).
        agent.set_deadline(context->deadline());
        emu::v1::RestartNodeRequest keyed = *request;
        keyed.set_lab(call.lab_key);
        absl::Time start = absl::Now();
        grpc::Status s = call.stub->RestartNode(&agent, keyed, response);
        Log("restart ", call.lab_key, "/", request->node(), " on host ",
            call.host, " by ", caller.name, ": ",
            s.ok() ? "ok" : s.error_message(), " in ",
            absl::FormatDuration(absl::Now() - start));
        if (!s.ok()) {
          return absl::Status(
              static_cast<absl::StatusCode>(s.error_code()),
              absl::StrCat("host ", call.host, ": ", s.error_message()));
        }
        return absl::OkStatus();
      });
}

}  // namespace emu::controller
