#include "deploy/local_cluster_layout.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/thread_nice.h"

namespace emu::deploy {
namespace {

uint32_t Mask(int prefix_length) {
  return prefix_length == 0 ? 0 : ~uint32_t{0} << (32 - prefix_length);
}

// "12" -> 12 when it is a decimal index in 1..kMaxHosts without leading zero.
std::optional<int> ParseIndex(absl::string_view text) {
  if (text.empty() || text.size() > 2 || text[0] == '0') return std::nullopt;
  for (char c : text) {
    if (!absl::ascii_isdigit(c)) return std::nullopt;
  }
  int n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 1 || n > kMaxHosts)
    return std::nullopt;
  return n;
}

}  // namespace

absl::Status ValidateClusterId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxClusterIdLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster id \"", id, "\": must be 1 to ", kMaxClusterIdLength,
        " characters (it is part of interface names, at most 15 bytes)"));
  }
  if (!absl::ascii_islower(id[0])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster id \"", id, "\": must start with a lowercase letter"));
  }
  for (char c : id) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("cluster id \"", id,
                       "\": only lowercase letters and digits are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Ipv4Net> ParseIpv4Net(absl::string_view text) {
  auto bad = [text](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("IPv4 network \"", text, "\": ", why));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(text, '/');
  if (parts.size() > 2) return bad("more than one '/'");
  Ipv4Net net;
  std::vector<absl::string_view> octets = absl::StrSplit(parts[0], '.');
  if (octets.size() != 4) return bad("want a.b.c.d");
  for (absl::string_view o : octets) {
    int v = 0;
    if (o.empty() || o.size() > 3 || !absl::ascii_isdigit(o[0]) ||
        !absl::SimpleAtoi(o, &v) || v < 0 || v > 255) {
      return bad("each part of a.b.c.d must be 0..255");
    }
    net.address = (net.address << 8) | static_cast<uint32_t>(v);
  }
  net.prefix_length = 32;
  if (parts.size() == 2) {
    if (parts[1].empty() || parts[1].size() > 2 ||
        !absl::SimpleAtoi(parts[1], &net.prefix_length) ||
        net.prefix_length < 0 || net.prefix_length > 32) {
      return bad("prefix length must be 0..32");
    }
  }
  return net;
}

std::string FormatIpv4(uint32_t a) {
  return absl::StrCat(a >> 24, ".", (a >> 16) & 0xff, ".", (a >> 8) & 0xff, ".",
                      a & 0xff);
}

bool Overlaps(const Ipv4Net& a, const Ipv4Net& b) {
  const int shorter = std::min(a.prefix_length, b.prefix_length);
  return (a.address & Mask(shorter)) == (b.address & Mask(shorter));
}

std::string ClusterStateDir(absl::string_view state_root,
                            absl::string_view id) {
  return absl::StrCat(absl::StripSuffix(state_root, "/"), "/", id);
}

std::string ClusterFilePath(absl::string_view state_root,
                            absl::string_view id) {
  return absl::StrCat(ClusterStateDir(state_root, id), "/cluster.json");
}

std::string BridgeName(absl::string_view id) {
  return absl::StrCat("emubr-", id);
}

std::optional<int> ParseHostNetns(absl::string_view id,
                                  absl::string_view netns) {
  if (!absl::ConsumePrefix(&netns, absl::StrCat("emuhost-", id, "-h"))) {
    return std::nullopt;
  }
  return ParseIndex(netns);
}

std::optional<int> ParseHostVeth(absl::string_view id,
                                 absl::string_view ifname) {
  if (!absl::ConsumePrefix(&ifname, absl::StrCat("emuv-", id, "-"))) {
    return std::nullopt;
  }
  return ParseIndex(ifname);
}

std::string ClusterHostName(absl::string_view id, int index) {
  return id == kDefaultClusterId ? absl::StrCat("h", index)
                                 : absl::StrCat(id, "-h", index);
}

std::optional<int> ParseClusterHostName(absl::string_view id,
                                        absl::string_view host) {
  const std::string prefix =
      id == kDefaultClusterId ? std::string("h") : absl::StrCat(id, "-h");
  if (!absl::ConsumePrefix(&host, prefix)) return std::nullopt;
  return ParseIndex(host);
}

absl::StatusOr<LocalClusterLayout> MakeLocalClusterLayout(
    const LocalClusterOptions& options) {
  if (absl::Status s = ValidateClusterId(options.id); !s.ok()) return s;
  if (options.hosts < 1 || options.hosts > kMaxHosts) {
    return absl::InvalidArgumentError(
        absl::StrCat("local cluster \"", options.id, "\": host count ",
                     options.hosts, " out of range 1..", kMaxHosts));
  }
  if (!options.tunnel_carrier.empty() && options.tunnel_carrier != "tls" &&
      options.tunnel_carrier != "plain" && options.tunnel_carrier != "ssh") {
    return absl::InvalidArgumentError(
        absl::StrCat("--tunnel-carrier '", options.tunnel_carrier,
                     "': want tls, plain or ssh"));
  }
  // 64: LinkEngine::Create's limit (not linked into emuctl).
  if (options.engine_threads < -1 || options.engine_threads > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("--engine-threads ", options.engine_threads,
                     ": want 0 (no userspace engine) to 64"));
  }
  if (absl::Status s = CheckNice(options.engine_nice); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--engine-nice: ", s.message()));
  }
  if (!options.tunnel_ssh_config.empty() &&
      (options.tunnel_carrier != "ssh" ||
       options.tunnel_ssh_config.front() != '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tunnel-ssh-config '", options.tunnel_ssh_config,
        "': want an absolute path, with --tunnel-carrier ssh"));
  }
  absl::StatusOr<Ipv4Net> net = ParseIpv4Net(options.subnet);
  if (!net.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--subnet: ", net.status().message()));
  }
  if (net->prefix_length < 8 || net->prefix_length > 24) {
    return absl::InvalidArgumentError(
        absl::StrCat("--subnet ", options.subnet,
                     ": prefix length must be 8..24 (room for .1 and .11-.",
                     10 + kMaxHosts, ")"));
  }
  if ((net->address & ~Mask(net->prefix_length)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--subnet ", options.subnet, ": not a network address (did you mean ",
        FormatIpv4(net->address & Mask(net->prefix_length)), "/",
        net->prefix_length, "?)"));
  }

  LocalClusterLayout l;
  l.id = options.id;
  l.prefix_length = net->prefix_length;
  l.subnet = absl::StrCat(FormatIpv4(net->address), "/", net->prefix_length);
  l.bridge = BridgeName(options.id);
  l.bridge_address = FormatIpv4(net->address + 1);
  l.bridge_cidr = absl::StrCat(l.bridge_address, "/", l.prefix_length);
  l.state_dir = ClusterStateDir(options.state_root, options.id);
  l.token_file = absl::StrCat(l.state_dir, "/token");
  l.pki_dir = absl::StrCat(l.state_dir, "/pki");
  l.cluster_file = absl::StrCat(l.state_dir, "/cluster.json");
  l.log_dir = absl::StrCat(l.state_dir, "/logs");
  l.controller_log = absl::StrCat(l.log_dir, "/controller.log");
  l.controller_port_file = absl::StrCat(l.state_dir, "/controller.port");
  l.controller_metrics_port_file =
      absl::StrCat(l.state_dir, "/controller.metrics_port");
  l.controller_web_port_file = absl::StrCat(l.state_dir, "/controller.web_port");
  l.controller_db = absl::StrCat(l.state_dir, "/controller.db");
  for (int i = 1; i <= options.hosts; ++i) {
    LocalHostLayout h;
    h.index = i;
    h.name = ClusterHostName(options.id, i);
    h.netns = absl::StrCat("emuhost-", options.id, "-h", i);
    h.veth = absl::StrCat("emuv-", options.id, "-", i);
    h.address = FormatIpv4(net->address + 10 + i);
    h.cidr = absl::StrCat(h.address, "/", l.prefix_length);
    h.agent_address = absl::StrCat(h.address, ":", kAgentPort);
    h.state_dir = absl::StrCat(l.state_dir, "/agents/", h.name);
    h.port_file = absl::StrCat(l.state_dir, "/agents/", h.name, ".port");
    h.metrics_port_file =
        absl::StrCat(l.state_dir, "/agents/", h.name, ".metrics_port");
    h.log_path = absl::StrCat(l.log_dir, "/", h.name, ".log");
    l.hosts.push_back(std::move(h));
  }
  return l;
}

}  // namespace emu::deploy
