#include "agent/guest/guest_config.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/guest/console_session.h"
#include "linkemu/units.h"

namespace emu::agent::guest {

std::string GuestConfigScript(const emu::v1::Node& node,
                              const std::vector<GuestNicName>& nics) {
  std::string s = "set -e\n";
  absl::StrAppend(&s, kDevByMacShell);
  for (size_t i = 0; i < nics.size(); ++i) {
    absl::StrAppend(&s, "d=$(dev_by_mac ", nics[i].mac, ")\n",
                    "ip link set dev \"$d\" down\n",
                    "ip link set dev \"$d\" name emutmp", i, "\n");
  }
  for (size_t i = 0; i < nics.size(); ++i) {
    std::string name = ShellQuote(nics[i].name);
    absl::StrAppend(&s, "ip link set dev emutmp", i, " name ", name, "\n");
    if (nics[i].mtu > 0) {
      absl::StrAppend(&s, "ip link set dev ", name, " mtu ", nics[i].mtu, "\n");
    }
    absl::StrAppend(&s, "ip link set dev ", name, " up\n");
  }
  absl::StrAppend(&s, "hostname ", ShellQuote(node.name()), "\n");
  std::vector<std::pair<std::string, std::string>> sysctls(
      node.sysctls().begin(), node.sysctls().end());
  std::sort(sysctls.begin(), sysctls.end());
  for (const auto& [k, v] : sysctls) {
    absl::StrAppend(&s, "echo ", ShellQuote(v), " > ",
                    ShellQuote(absl::StrCat(
                        "/proc/sys/", absl::StrReplaceAll(k, {{".", "/"}}))),
                    "\n");
  }
  for (const auto& i : node.interfaces()) {
    if (i.addresses().empty()) continue;
    std::string name = ShellQuote(i.name());
    absl::StrAppend(&s, "ip addr flush dev ", name, " scope global\n");
    for (const auto& a : i.addresses()) {
      absl::StrAppend(&s, "ip addr replace ", ShellQuote(a), " dev ", name,
                      a.find(':') != std::string::npos ? " nodad" : "", "\n");
    }
  }
  for (const auto& r : node.routes()) {
    std::string dest = r.destination();
    std::string family = "-4";
    if (dest == "default6") {
      dest = "default";
      family = "-6";
    } else if (dest.find(':') != std::string::npos ||
               r.via().find(':') != std::string::npos) {
      family = "-6";
    }
    absl::StrAppend(&s, "ip ", family, " route replace ", ShellQuote(dest));
    if (!r.via().empty()) absl::StrAppend(&s, " via ", ShellQuote(r.via()));
    if (!r.dev().empty()) absl::StrAppend(&s, " dev ", ShellQuote(r.dev()));
    if (r.metric() > 0) absl::StrAppend(&s, " metric ", r.metric());
    absl::StrAppend(&s, "\n");
  }
  return s;
}

std::string GuestQdiscScript(const std::string& dev,
                             const linkemu::QdiscPlan& plan) {
  std::string d = ShellQuote(dev);
  std::string s =
      absl::StrCat("tc qdisc del dev ", d, " root 2>/dev/null || true\n");
  std::string tbf_parent = "root handle 10:";
  if (plan.netem) {
    const auto& n = *plan.netem;
    absl::StrAppend(&s, "tc qdisc add dev ", d, " root handle 1: netem");
    if (n.limit_packets > 0) absl::StrAppend(&s, " limit ", n.limit_packets);
    if (n.delay_us > 0 || n.jitter_us > 0) {
      absl::StrAppend(&s, " delay ", n.delay_us, "us");
      if (n.jitter_us > 0) {
        absl::StrAppend(&s, " ", n.jitter_us, "us");
        if (n.delay_correlation_percent > 0) {
          absl::StrAppend(&s, " ", linkemu::FormatPercent(n.delay_correlation_percent));
        }
        // tc reads the table from the guest image's /usr/lib/tc.
        if (n.distribution != emu::v1::DELAY_DISTRIBUTION_UNSPECIFIED &&
            n.distribution != emu::v1::DELAY_DISTRIBUTION_UNIFORM) {
          absl::StrAppend(&s, " distribution ",
                          linkemu::DelayDistributionName(n.distribution));
        }
      }
    }
    if (std::string clauses = linkemu::NetemPacketClauses(n);
        !clauses.empty()) {
      absl::StrAppend(&s, " ", clauses);
    }
    absl::StrAppend(&s, "\n");
    tbf_parent = "parent 1:1 handle 10:";
  }
  if (plan.tbf) {
    absl::StrAppend(&s, "tc qdisc add dev ", d, " ", tbf_parent, " tbf rate ",
                    plan.tbf->rate_bytes_per_sec * 8, "bit burst ",
                    plan.tbf->burst_bytes, " limit ", plan.tbf->limit_bytes,
                    "\n");
  }
  return s;
}

std::string ArpProbeAddress(const emu::v1::Node& node,
                            const std::string& interface) {
  auto ipv4 = [](const std::string& cidr) -> std::string {
    if (cidr.find(':') != std::string::npos) return "";
    return cidr.substr(0, cidr.find('/'));
  };
  for (bool own : {true, false}) {
    for (const auto& i : node.interfaces()) {
      if ((i.name() == interface) != own) continue;
      for (const auto& a : i.addresses()) {
        if (std::string ip = ipv4(a); !ip.empty()) return ip;
      }
    }
  }
  return "";
}

}  // namespace emu::agent::guest
