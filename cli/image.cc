// `emuctl image ls|build`: the guest images on the hosts (docs/guests.md,
// "Images").
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/render.h"

namespace emu::cli {
namespace {

// A Debian image takes minutes; the agents stop at 40.
constexpr absl::Duration kBuildTimeout = absl::Minutes(50);

int RunImageList(CommandEnv& env, const std::vector<std::string>& hosts,
                 bool json) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  v1::ListImagesRequest request;
  for (const auto& h : hosts) request.add_hosts(h);
  v1::ListImagesResponse images;
  grpc::Status s = c.stub().ListImages(c.NewContext(kUnaryTimeout).get(),
                                       request, &images);
  if (!s.ok()) return env.Fail(c.Describe(s, "ListImages"));
  if (json) {
    absl::StatusOr<std::string> rendered = ToJson(images);
    if (!rendered.ok()) return env.Fail(rendered.status());
    *env.out << *rendered << std::flush;
  } else {
    *env.out << RenderImages(images) << std::flush;
  }
  return images.unreachable().empty() ? kExitOk : kExitFailure;
}

int RunImageBuild(CommandEnv& env, const v1::BuildImageRequest& request) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  const absl::Time start = absl::Now();
  auto context = c.NewContext(kBuildTimeout);
  auto reader = c.stub().BuildImage(context.get(), request);
  v1::BuildImageEvent e;
  const std::string recipe =
      request.recipe().empty() ? "default" : request.recipe();
  while (reader->Read(&e)) {
    std::string line;
    switch (e.state()) {
      case v1::BuildImageEvent::STARTED:
        line = absl::StrCat("building image ", request.name(), " (recipe ",
                            recipe, ")");
        break;
      case v1::BuildImageEvent::DONE:
        line = e.result().up_to_date()
                   ? absl::StrCat("image ", request.name(), " up to date")
                   : absl::StrFormat("image %s built in %s", request.name(),
                                     HumanDuration(absl::Seconds(
                                         e.result().seconds())));
        break;
      case v1::BuildImageEvent::FAILED:
        line = absl::StrCat("FAILED: ", e.message());
        break;
      default:
        continue;
    }
    *env.out << "[" << HumanDuration(absl::Now() - start) << "] " << e.host()
             << ": " << line << std::endl;
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return env.Fail(c.Describe(s, "BuildImage"));
  return kExitOk;
}

}  // namespace

void AddImageCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("image", "List and build guest images on the hosts");
  cmd->require_subcommand(1);
  cmd->footer(
      "A guest (kind: qemu) boots the image its node names (`image:`, else\n"
      "`default`) from the image directory of the host it lands on\n"
      "(/var/lib/emu/images). Recipes, built into every agent:\n"
      "  default  Debian's cloud kernel + a busybox initramfs (boots in a few\n"
      "           seconds; ip, tc, ping, iperf3); deploy/setup.sh builds it\n"
      "  debian   a full Debian 12 userland (debootstrap) on a disk; each guest\n"
      "           writes to its own qcow2 overlay, kept until the lab goes down;\n"
      "           --package adds Debian packages (frr, tcpdump, ...)\n\n"
      "Examples:\n"
      "  emuctl image ls\n"
      "  sudo emuctl image build debian --recipe debian --package frr\n"
      "  emuctl image build default --host h2 --rebuild");

  auto* ls = cmd->add_subcommand("ls", "List the images on every host");
  auto ls_hosts = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  ls->add_option("--host", *ls_hosts, "Only this host (repeatable)");
  ls->add_flag("--json", *json, "Print the API message as JSON for scripts");
  ls->footer(
      "One line per host and image: HOST IMAGE KIND KERNEL SIZE PACKAGES;\n"
      "an image that cannot boot is explained below the table. Exits 1 when\n"
      "a host did not answer.");
  ls->callback([&env, ls_hosts, json] {
    env.exit_code = RunImageList(env, *ls_hosts, *json);
  });

  auto* build = cmd->add_subcommand(
      "build", "Build (or rebuild) an image on every host (administrators)");
  auto request = std::make_shared<v1::BuildImageRequest>();
  auto name = std::make_shared<std::string>();
  auto recipe = std::make_shared<std::string>("default");
  auto packages = std::make_shared<std::vector<std::string>>();
  auto hosts = std::make_shared<std::vector<std::string>>();
  auto rebuild = std::make_shared<bool>(false);
  build->add_option("name", *name, "Image name (a directory name)")->required();
  build->add_option("--recipe", *recipe, "default | debian")
      ->check(CLI::IsMember({"default", "debian"}));
  build->add_option("--package", *packages,
                    "Extra Debian package in the image (debian recipe; "
                    "repeatable)");
  build->add_option("--host", *hosts, "Only this host (repeatable)");
  build->add_flag("--rebuild", *rebuild, "Build even when up to date");
  build->footer(
      "Runs on the hosts in parallel, as root, downloading from Debian's\n"
      "archive (the default recipe in seconds, debian in minutes). The old\n"
      "image stays in use until the new one is complete; running guests keep\n"
      "theirs. Nothing is built when the image is up to date (same recipe\n"
      "version and packages), unless --rebuild.");
  build->callback([&env, name, recipe, packages, hosts, rebuild] {
    v1::BuildImageRequest r;
    r.set_name(*name);
    r.set_recipe(*recipe);
    for (const auto& p : *packages) r.add_packages(p);
    for (const auto& h : *hosts) r.add_hosts(h);
    r.set_rebuild(*rebuild);
    env.exit_code = RunImageBuild(env, r);
  });
}

}  // namespace emu::cli
