// `emuctl graph LAB|FILE [-o FILE.svg|.png|.pdf|.dot] [--layout ENGINE]`:
// the topology drawn with Graphviz (cli/graph_dot.h), from a deployed lab
// (hosts as placed) or from a file (offline, hosts as pinned).
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/graph_dot.h"
#include "cli/render.h"
#include "controller/topology/problems.h"
#include "controller/topology/topology_parser.h"

namespace emu::cli {
namespace {

struct GraphArgs {
  std::string target;
  std::string output;
  std::string layout;
};

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The lab to draw: a file is parsed and validated here (no controller
// needed), anything else is a lab name asked of the controller.
absl::StatusOr<v1::Lab> LoadLab(CommandEnv& env, const std::string& target,
                                bool* refused) {
  v1::Lab lab;
  if (IsRegularFile(target)) {
    absl::StatusOr<std::string> content = ReadTopologyFile(target);
    if (!content.ok()) return content.status();
    auto parsed = controller::topology::ParseAndValidateTopology(
        *content, target, controller::topology::ParseOptions{ProcessEnv});
    if (!parsed.ok()) {
      auto response = controller::topology::ToValidateResponse(parsed, target);
      if (!response.ok()) return response.status();
      *refused = ReportRefusal(env, *response);
      return parsed.status();
    }
    *lab.mutable_topology() = std::move(parsed->topology);
    lab.set_name(lab.topology().name());
    return lab;
  }
  auto conn = env.Connect();
  if (!conn.ok()) {
    return absl::Status(conn.status().code(),
                        absl::StrCat("no file ", target, " here, and no "
                                     "controller to ask for a lab of that "
                                     "name: ", conn.status().message()));
  }
  ControllerConnection& c = **conn;
  v1::GetLabRequest request;
  request.set_lab(target);
  grpc::Status s = c.stub().GetLab(c.NewContext(kUnaryTimeout).get(), request, &lab);
  if (!s.ok()) {
    return absl::NotFoundError(absl::StrCat(
        c.Describe(s, "GetLab"), " (", target,
        " is not a file here either; graph takes a lab name or a topology file)"));
  }
  return lab;
}

// "svg" for lab.svg; "" for .dot/.gv (written as text).
absl::StatusOr<std::string> OutputFormat(const std::string& path) {
  const size_t dot = path.rfind('.');
  const std::string ext =
      dot == std::string::npos ? "" : absl::AsciiStrToLower(path.substr(dot + 1));
  if (ext == "dot" || ext == "gv") return std::string();
  if (ext == "svg" || ext == "png" || ext == "pdf") return ext;
  return absl::InvalidArgumentError(absl::StrCat(
      "-o ", path, ": say the format by the extension: .svg, .png, .pdf or .dot"));
}

int RunGraph(CommandEnv& env, const GraphArgs& args) {
  bool refused = false;
  absl::StatusOr<v1::Lab> lab = LoadLab(env, args.target, &refused);
  if (!lab.ok()) {
    if (refused) return kExitFailure;  // the problems are printed
    return env.Fail(lab.status());
  }
  const std::string text = LabToDot(*lab);
  if (args.output.empty() || args.output == "-") {
    *env.out << text << std::flush;
    return kExitOk;
  }
  absl::StatusOr<std::string> format = OutputFormat(args.output);
  if (!format.ok()) return env.Fail(format.status());
  if (format->empty()) {
    std::ofstream file(args.output, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) return env.Fail(absl::StrCat("cannot write ", args.output));
  } else {
    const std::string layout =
        args.layout.empty()
            ? DefaultLayout(lab->topology().nodes_size())
            : args.layout;
    ProcessSpec spec;
    spec.argv = {"dot", absl::StrCat("-T", *format), absl::StrCat("-K", layout),
                 "-o", args.output};
    spec.stdin_data = text;
    spec.timeout = absl::Minutes(5);
    absl::StatusOr<ProcessResult> drawn = env.launcher->Run(spec);
    if (!drawn.ok()) return env.Fail(drawn.status());
    if (drawn->exit_code == 127) {
      return env.Fail(absl::StrCat(
          "drawing ", args.output, " needs Graphviz's `dot` on the PATH "
          "(Debian: apt install graphviz); -o FILE.dot writes the graph "
          "without it"));
    }
    if (drawn->exit_code != 0) {
      return env.Fail(absl::StrCat("dot -T", *format, " -K", layout,
                                   " failed (exit ", drawn->exit_code, "): ",
                                   drawn->stderr_data));
    }
  }
  *env.out << "wrote " << args.output << " (" << lab->topology().nodes_size()
           << " nodes, " << lab->topology().links_size() << " links)\n"
           << std::flush;
  return kExitOk;
}

}  // namespace

void AddGraphCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("graph", "Draw a lab or a topology file");
  auto args = std::make_shared<GraphArgs>();
  cmd->add_option("target", args->target,
                  "A deployed lab's name (OWNER/LAB for another user's), or "
                  "a topology file")
      ->required();
  cmd->add_option("-o,--output", args->output,
                  "Write FILE.svg, .png or .pdf (drawn by Graphviz's dot) or "
                  "FILE.dot; default: DOT text on stdout");
  cmd->add_option("--layout", args->layout,
                  "Graphviz layout engine: dot (default up to 150 nodes), "
                  "sfdp (default above), neato, fdp, circo");
  cmd->footer(
      "Nodes are filled with one colour per host and grouped in a frame per\n"
      "host (a deployed lab: where the controller placed them; a file: its\n"
      "host pins, else no host); guests are 3-D boxes, segments ellipses,\n"
      "community attachments double octagons. Each link is labelled with its\n"
      "conditions (one line per direction when they differ) and its\n"
      "interfaces at its ends; links between hosts (tunnels) are red, bold\n"
      "and dashed. An argument that names an existing file is drawn from the\n"
      "file, with no controller needed.\n\n"
      "Examples:\n"
      "  emuctl graph quickstart -o quickstart.svg\n"
      "  emuctl graph examples/segments.yaml -o segments.png\n"
      "  emuctl graph examples/quickstart.yaml | dot -Tsvg > q.svg");
  cmd->callback([&env, args] { env.exit_code = RunGraph(env, *args); });
}

}  // namespace emu::cli
