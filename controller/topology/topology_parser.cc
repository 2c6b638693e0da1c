#include "controller/topology/topology_parser.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "controller/topology/env_subst.h"
#include "controller/topology/mgmt_plan.h"
#include "controller/topology/topology_limits.h"
#include "controller/topology/topology_validator.h"
#include "controller/topology/yaml_tree.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "linkemu/engine_choice.h"
#include "linkemu/link_param_text.h"
#include "linkemu/units.h"
#include "proto/topology_names.h"

namespace emu::controller::topology {
namespace {

using ::emu::v1::Interface;
using ::emu::v1::Link;
using ::emu::v1::LinkParams;
using ::emu::v1::Node;
using ::emu::v1::Route;
using ::emu::v1::SourceRef;
using ::emu::v1::Topology;

using KeyList = absl::Span<const absl::string_view>;

// ---- Key sets -------------------------------------------------------------

constexpr absl::string_view kTopKeys[] = {"name",      "topology", "placement",
                                          "engine",    "seed",     "community",
                                          "compensate", "carrier", "mgmt"};
// containerlab's `mgmt:` (docs/topology.md, "Management network"); the
// underscore forms are its older spellings.
constexpr absl::string_view kMgmtKeys[] = {
    "network",    "bridge",     "ipv4-subnet", "ipv6-subnet", "ipv4-gw",
    "ipv6-gw",    "ipv4-range", "ipv6-range",  "mtu",         "ipv4_subnet",
    "ipv6_subnet", "ipv4_gw",   "ipv6_gw"};
// What containerlab's `mgmt:` has that does not apply here.
constexpr absl::string_view kClabMgmtKeys[] = {
    "external-access", "skip-when-unused", "driver-opts"};
// community: {export: [{name: ix1, segment: sw1, to: [bob, carol]}]}
// (docs/community.md).
constexpr absl::string_view kCommunityKeys[] = {"export"};
constexpr absl::string_view kExportKeys[] = {"name", "segment", "interface",
                                             "to"};
// A link endpoint "community:OWNER/NAME" is an attachment, not a node.
constexpr absl::string_view kCommunityEndpoint = "community";
constexpr absl::string_view kPlacementKeys[] = {"strategy", "tolerance",
                                               "overcommit"};
constexpr absl::string_view kClabTopKeys[] = {"prefix", "settings", "debug"};
constexpr absl::string_view kTopologyKeys[] = {"defaults", "kinds", "groups",
                                               "nodes", "links"};
constexpr absl::string_view kNodeKeys[] = {
    "kind",   "image",   "host", "cpus",   "memory", "labels", "interfaces",
    "routes", "sysctls", "exec", "cpuset", "env",    "group",  "stages"};
// A node's own keys: its templates' and containerlab's `network-mode`
// (a bridge inside another node's namespace; elsewhere a warning).
constexpr absl::string_view kOwnNodeKeys[] = {
    "kind",   "image",   "host", "cpus",   "memory", "labels",
    "interfaces", "routes", "sysctls", "exec", "cpuset", "env",
    "group",  "stages",  "network-mode", "mgmt-ipv4", "mgmt-ipv6",
    "mgmt_ipv4", "mgmt_ipv6"};
// containerlab's stages (`stages: {create: {wait-for: [...], exec: [...]}}`).
constexpr absl::string_view kStageNames[] = {"create", "create-links",
                                             "configure", "healthy", "exit"};
constexpr absl::string_view kStageKeys[] = {"wait-for", "exec"};
constexpr absl::string_view kWaitForKeys[] = {"node", "stage"};
constexpr absl::string_view kStageExecKeys[] = {"command", "target", "phase"};
// Keys containerlab gives nodes (and defaults/kinds) that emu has no use
// for; a containerlab file keeps working, with a warning per key.
// clang-format off
constexpr absl::string_view kClabNodeKeys[] = {
    "mgmt-ipv4",      "mgmt-ipv6",
    "mgmt_ipv4",      "mgmt_ipv6",
    "startup-config", "startup-delay",
    "enforce-startup-config", "suppress-startup-config",
    "auto-remove",    "binds",
    "env-files",      "ports",
    "user",           "entrypoint",
    "cmd",            "type",
    "license",        "position",
    "network-mode",   "publish",
    "runtime",        "cpu",
    "cpu-set",        "sandbox",
    "kernel",         "extras",
    "dns",            "certificate",
    "healthcheck",    "aliases",
    "components",
    "wait-for",       "image-pull-policy",
    "restart-policy", "devices",
    "cap-add",        "shm-size",
    "config",         "mgmt-net",
    "ipv4-address",   "ipv6-address",
    "cgroup-parent"};
// clang-format on
constexpr absl::string_view kInterfaceKeys[] = {"addresses", "ipv4", "ipv6",
                                                "mtu", "mac"};
constexpr absl::string_view kRouteKeys[] = {"to", "via", "dev", "metric"};
constexpr absl::string_view kGilbertElliottKeys[] = {"p", "r", "loss-bad",
                                                     "loss-good"};
constexpr absl::string_view kLinkOnlyKeys[] = {
    "endpoints", "mtu", "type", "a-to-b", "b-to-a", "ipv4", "ipv6"};
constexpr absl::string_view kClabLinkKeys[] = {"vars", "labels"};
// containerlab's `type: host` and `type: dummy` links: what they take.
constexpr absl::string_view kHostLinkKeys[] = {"type", "endpoint",
                                               "host-interface", "mtu"};
constexpr absl::string_view kDummyLinkKeys[] = {"type", "endpoint", "mtu"};
// containerlab's vxlan and vxlan-stitch links (udp-port: dst-port's old
// name; src-port and parent-interface are read and warned).
constexpr absl::string_view kVxlanLinkKeys[] = {
    "type",     "endpoint", "remote",   "vni",
    "dst-port", "udp-port", "src-port", "parent-interface", "mtu"};
// containerlab's default VXLAN port (not 4789, which firewalls and other
// overlays may take).
constexpr uint32_t kClabVxlanPort = 14789;
// A link with a host end (brief or veth format) takes no conditions.
constexpr absl::string_view kHostEndLinkKeys[] = {"endpoints", "type", "mtu",
                                                  "ipv4", "ipv6"};
constexpr absl::string_view kEndpointKeys[] = {"node", "interface", "mac",
                                               "ipv4", "ipv6"};
constexpr absl::string_view kClabEndpointKeys[] = {"vars"};
constexpr absl::string_view kNone[] = {""};

// containerlab endpoints that are not nodes, and the link types that make
// them (each needs something outside the lab: the management network, a
// host NIC, the host's root namespace).
constexpr absl::string_view kSpecialEndpoints[] = {"mgmt-net", "host",
                                                   "macvlan"};
constexpr absl::string_view kMgmtEndpoint = "mgmt-net";

bool Contains(KeyList keys, absl::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string Suggestion(absl::string_view key, KeyList known) {
  absl::string_view best;
  size_t best_distance = 3;  // suggest only close matches
  for (absl::string_view k : known) {
    size_t d = EditDistance(absl::AsciiStrToLower(key), k);
    if (d < best_distance && d < k.size()) {
      best = k;
      best_distance = d;
    }
  }
  if (best.empty()) return "";
  return absl::StrCat(" (did you mean '", best, "'?)");
}

// ---- YAML reading ---------------------------------------------------------

struct Entry {
  absl::string_view key;  // the tree's text
  YamlNode key_node;
  YamlNode value;
};

// Per-node settings from topology.defaults or topology.kinds.<kind>,
// applied under the node's own.
struct Template {
  std::string object;  // "topology.defaults", "topology.kinds.linux"
  Node node;
  std::map<std::string, YamlNode> keys;  // key -> key node, as set
  // defaults and groups may name a kind (kinds cannot: their name is it);
  // checked only when a node takes it, so one every node overrides is fine.
  std::string kind;
  int kind_line = 0;
  // defaults may name the group of every node that names none.
  std::string group;
  // containerlab's network-mode as the template sets it (warned; "host"
  // and "none" keep a node off the management network).
  std::string network_mode;
};

// Things a link sets on its endpoints' interfaces, applied after every node
// is known.
struct InterfaceSetting {
  int link_index;
  bool a_side;
  std::string what;  // "mtu", "mac" or "address"
  std::string value;
  int line;
};

// A containerlab host link or dummy link: not an emu Link, but settings of
// its node's interface (Interface.host_end, Interface.dummy), applied once
// every node and link is read.
struct SpecialEnd {
  std::string object;  // the link's name in messages
  SourceRef source;    // the link
  std::string node;
  std::string interface;
  bool dummy = false;
  // containerlab's mgmt-net link: the host end is a port of the lab's
  // management bridge (Interface.mgmt).
  bool mgmt = false;
  emu::v1::HostEnd host_end;  // the host link's end in the root namespace
  // containerlab's vxlan / vxlan-stitch link: the interface is a VXLAN
  // device to a VTEP outside the lab (Interface.vxlan).
  std::optional<emu::v1::VxlanEnd> vxlan;
  std::vector<InterfaceSetting> settings;  // of the node's interface
};

// containerlab's `kind: bridge` node "NAME|NODE" with `network-mode:
// container:NODE`: bridge NAME inside NODE's namespace (Interface.bridge),
// its links' ends NODE's interfaces and the bridge's ports.
struct InNodeBridge {
  std::string bridge;  // NAME
  std::string holder;  // NODE
  SourceRef source;
};

// Refuses flow collections ("[[[[...", "{{{{...") nested deeper than
// kMaxYamlDepth by looking at the text alone: yaml-cpp's scanner queues a
// token per opening bracket before its parser emits the first event (2 MB
// of '[' took 16 s and 500 MB there), so YamlBudget would see them too
// late. Brackets in comments do not count. Inside a quoted scalar (one
// starts where a YAML scalar can start) brackets count on top of the depth
// outside and are forgotten when the quote ends: balanced ones ("awk
// '{print $1}'") cost nothing, a quoted "]" cannot hide the nesting around
// it, and a quote this scan sees where YAML sees a plain scalar still
// counts what it holds. Unbalanced brackets in plain scalars count, so a
// scalar with more than kMaxYamlDepth unclosed ones is refused.
absl::Status CheckFlowNesting(absl::string_view content,
                              absl::string_view file) {
  size_t depth = 0;        // outside quotes
  size_t quote_depth = 0;  // inside the current quote
  int line = 1;
  char quote = 0;  // '"' or '\'' while inside a quoted scalar
  bool comment = false;
  for (size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    const char prev = i == 0 ? '\n' : content[i - 1];
    if (c == '\n') {
      ++line;
      comment = false;
      continue;
    }
    if (comment) continue;
    size_t* level = quote != 0 ? &quote_depth : &depth;
    if (c == '[' || c == '{') {
      if (++*level + (quote != 0 ? depth : 0) > kMaxYamlDepth) {
        return absl::InvalidArgumentError(
            absl::StrCat(file, ":", line, ": lists and maps nest deeper than ",
                         kMaxYamlDepth, " levels; the limit is kMaxYamlDepth"));
      }
    } else if (c == ']' || c == '}') {
      if (*level > 0) --*level;
    } else if (quote != 0) {
      if (quote == '"' && c == '\\') {
        ++i;  // the escaped character (a newline here is still a line)
        if (i < content.size() && content[i] == '\n') ++line;
      } else if (c == quote) {
        quote = 0;
        quote_depth = 0;
      }
    } else if (c == '#' && (prev == ' ' || prev == '\t' || prev == '\n')) {
      comment = true;
    } else if ((c == '"' || c == '\'') &&
               absl::StrContains(" \t\n[{,:-?", prev)) {
      quote = c;
    }
  }
  return absl::OkStatus();
}

class YamlReader {
 public:
  // `tree` is the file's; merge keys are expanded in it.
  YamlReader(absl::string_view file, YamlTree* tree)
      : file_(file), tree_(tree) {}

  void Read(Topology* topology) {
    const YamlNode root = tree_->root();
    if (root.IsNull()) {
      Error(1, "lab", "the file is empty");
      return;
    }
    if (!root.IsMap()) {
      Error(root, "lab",
            "expected a map with 'name' and 'topology' at the top level");
      return;
    }
    ExpandMerges(root, 0);
    topology->mutable_source()->set_file(file_);
    topology->mutable_source()->set_line(1);
    bool have_name = false, have_topology = false;
    for (const Entry& e : Entries(root, "lab", kTopKeys, kClabTopKeys)) {
      if (e.key == "name") {
        have_name = true;
        std::string name;
        if (Scalar(e, "lab", &name)) topology->set_name(name);
        topology->mutable_source()->set_line(LineOf(e.key_node));
      } else if (e.key == "topology") {
        have_topology = true;
        ReadTopology(e, topology);
      } else if (e.key == "placement") {
        ReadPlacement(e, topology->mutable_placement());
      } else if (e.key == "engine") {
        std::string text;
        if (Scalar(e, "lab", &text)) {
          auto v = linkemu::ParseEngineChoice(text);
          if (v.ok()) {
            topology->set_engine(*v);
          } else {
            Error(e, "lab", absl::StrCat("engine: ", v.status().message()));
          }
        }
      } else if (e.key == "carrier") {
        std::string text;
        if (Scalar(e, "lab", &text)) {
          if (text == "tunnel" || text == "vxlan") {
            topology->set_carrier(text == "vxlan" ? "vxlan" : "");
          } else {
            Error(e, "lab",
                  absl::StrCat("carrier: '", text,
                               "' is not one of tunnel, vxlan (what carries "
                               "the lab's cross-host links; docs/tunnel.md)"));
          }
        }
      } else if (e.key == "compensate") {
        bool on = false;
        if (Bool(e, "lab", &on)) topology->set_compensate(on);
      } else if (e.key == "seed") {
        uint64_t seed;
        if (Uint(e, "lab", UINT64_MAX, &seed)) topology->set_seed(seed);
      } else if (e.key == "community") {
        ReadCommunity(e, topology->mutable_community());
      } else if (e.key == "mgmt") {
        ReadMgmt(e);
      }
    }
    if (!have_name) Error(1, "lab", "missing required key 'name'");
    if (!have_topology) {
      Error(1, "lab", "missing required key 'topology' (with nodes and links)");
    }
  }

  std::vector<std::string>& errors() { return errors_; }
  std::vector<std::string>& warnings() { return warnings_; }

 private:
  // ---- YAML merge keys ----

  static bool IsMergeKey(const YamlNode& key) {
    // A quoted "<<" is an ordinary key.
    return key.IsScalar() && key.Scalar() == "<<" && key.IsPlain();
  }

  // Expands YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) in place, as
  // YAML 1.1 and containerlab do: the map takes every key of the merged
  // maps that it does not set itself; of several merged maps the first
  // that sets a key wins. yaml-cpp 0.7 keeps "<<" as an ordinary key.
  // Merged keys keep their own nodes, so messages name the line where the
  // anchor wrote them. What this adds was counted by ParseYamlTree already
  // (an alias counts all its anchor expands to, where it is used), so a
  // walk here is bounded by kMaxYamlValues; expanded nesting, which events
  // do not show, is bounded here by kMaxYamlDepth.
  void ExpandMerges(YamlNode node, size_t depth) {
    if (!node.IsMap() && !node.IsSequence()) return;
    if (depth >= kMaxYamlDepth) {
      if (!merge_depth_reported_) {
        merge_depth_reported_ = true;
        Error(node, "lab",
              absl::StrCat("lists and maps nest deeper than ", kMaxYamlDepth,
                           " levels once aliases are expanded; the limit "
                           "is kMaxYamlDepth"));
      }
      return;
    }
    if (node.IsSequence()) {
      for (YamlNode child : node) ExpandMerges(child, depth + 1);
      return;
    }
    bool has_merge = false;
    for (auto it = node.begin(); it != node.end(); ++it) {
      has_merge = has_merge || IsMergeKey(it->first);
      ExpandMerges(it->second, depth + 1);
    }
    if (!has_merge) return;
    std::vector<std::pair<YamlNode, YamlNode>> merged;
    std::set<std::string> own;
    std::vector<YamlNode> sources;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!IsMergeKey(it->first)) {
        merged.emplace_back(it->first, it->second);
        if (it->first.IsScalar()) own.insert(std::string(it->first.Scalar()));
        continue;
      }
      const YamlNode value = it->second;  // a copy: the iterator yields a temporary
      bool ok = value.IsMap();
      if (ok) {
        sources.push_back(value);
      } else if (value.IsSequence()) {
        ok = true;
        for (const YamlNode& item : value) {
          ok = ok && item.IsMap();
          if (item.IsMap()) sources.push_back(item);
        }
      }
      if (!ok) {
        Error(it->first, "lab",
              "merge key '<<' expects a map or a list of maps (e.g. "
              "'<<: *defaults')");
      }
    }
    for (const YamlNode& source : sources) {
      for (auto it = source.begin(); it != source.end(); ++it) {
        if (it->first.IsScalar() &&
            !own.insert(std::string(it->first.Scalar())).second) {
          continue;
        }
        merged.emplace_back(it->first, it->second);
      }
    }
    tree_->ReplaceMap(node, merged);
  }

  // ---- reporting ----
  static int LineOf(const YamlNode& n) { return n.Line(); }
  // The line to blame for a bad value: the value's own, unless it is null
  // (the parser may mark an empty value at the next token).
  static int LineOf(const Entry& e) {
    return e.value.IsNull() ? LineOf(e.key_node) : LineOf(e.value);
  }
  std::string Prefix(int line) const {
    return line > 0 ? absl::StrCat(file_, ":", line, ": ")
                    : absl::StrCat(file_, ": ");
  }
  void Error(int line, absl::string_view object, absl::string_view cause) {
    errors_.push_back(absl::StrCat(Prefix(line), object, ": ", cause));
  }
  void Error(const YamlNode& at, absl::string_view object,
             absl::string_view cause) {
    Error(LineOf(at), object, cause);
  }
  void Error(const Entry& e, absl::string_view object,
             absl::string_view cause) {
    Error(LineOf(e), object, cause);
  }
  void Warn(int line, absl::string_view object, absl::string_view cause) {
    warnings_.push_back(absl::StrCat(Prefix(line), object, ": ", cause));
  }
  SourceRef Source(const YamlNode& n) const {
    SourceRef s;
    s.set_file(file_);
    s.set_line(LineOf(n));
    return s;
  }

  // The entries of `map` whose keys are in `known`, in file order. Reports
  // duplicate and unknown keys as errors and `ignored` keys as warnings.
  std::vector<Entry> Entries(const YamlNode& map, absl::string_view object,
                             KeyList known, KeyList ignored) {
    std::vector<Entry> out;
    // Key -> its line. Called for every node, link and endpoint of the
    // file: a small map is scanned in place (no allocation), a large one
    // hashed.
    absl::InlinedVector<std::pair<absl::string_view, int>, 16> small;
    absl::flat_hash_map<absl::string_view, int> seen;
    const bool large = map.size() > 16;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YamlNode key = it->first;  // a copy: the iterator yields a temporary
      if (!key.IsScalar()) {
        Error(key, object, "map keys must be plain names");
        continue;
      }
      const absl::string_view name = key.Scalar();  // lives in the tree
      int first_line = 0;
      if (large) {
        auto [first, inserted] = seen.emplace(name, LineOf(key));
        if (!inserted) first_line = first->second;
      } else {
        for (const auto& [k, line] : small) {
          if (k == name) first_line = line;
        }
        if (first_line == 0) small.emplace_back(name, LineOf(key));
      }
      if (first_line != 0) {
        Error(key, object,
              absl::StrCat("duplicate key '", name, "' (first at line ",
                           first_line, ")"));
        continue;
      }
      if (Contains(known, name)) {
        out.push_back({name, key, it->second});
      } else if (Contains(ignored, name)) {
        Warn(LineOf(key), object,
             absl::StrCat("ignored containerlab key '", name,
                          "' (emu does not use it)"));
      } else {
        Error(key, object,
              absl::StrCat("unknown key '", name, "'",
                           Suggestion(name, known)));
      }
    }
    return out;
  }

  // ---- typed values ----
  bool Scalar(const Entry& e, absl::string_view object, std::string* out) {
    if (!e.value.IsScalar()) {
      Error(e, object,
            absl::StrCat(e.key, ": expected a single value",
                         e.value.IsNull() ? ", found nothing" : ""));
      return false;
    }
    out->assign(e.value.Scalar().data(), e.value.Scalar().size());
    return true;
  }
  bool Uint(const Entry& e, absl::string_view object, uint64_t max,
            uint64_t* out) {
    std::string text;
    if (!Scalar(e, object, &text)) return false;
    uint64_t v = 0;
    if (text.empty() || !absl::ascii_isdigit(static_cast<unsigned char>(text[0])) ||
        !absl::SimpleAtoi(text, &v) || v > max) {
      Error(e, object,
            absl::StrCat(e.key, ": \"", text, "\" is not a whole number in 0..",
                         max));
      return false;
    }
    *out = v;
    return true;
  }
  bool Bool(const Entry& e, absl::string_view object, bool* out) {
    std::string text;
    if (!Scalar(e, object, &text)) return false;
    if (text != "true" && text != "false") {
      Error(e, object,
            absl::StrCat(e.key, ": \"", text, "\" is not true or false"));
      return false;
    }
    *out = text == "true";
    return true;
  }
  bool Map(const Entry& e, absl::string_view object) {
    if (e.value.IsMap()) return true;
    Error(e, object, absl::StrCat(e.key, ": expected a map"));
    return false;
  }
  bool Sequence(const Entry& e, absl::string_view object) {
    if (e.value.IsSequence()) return true;
    Error(e, object, absl::StrCat(e.key, ": expected a list"));
    return false;
  }
  // A map of plain name -> plain value (labels, sysctls).
  void StringMap(const Entry& e, absl::string_view object,
                 google::protobuf::Map<std::string, std::string>* out) {
    if (e.value.IsNull()) return;
    if (!Map(e, object)) return;
    std::set<std::string> seen;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      if (!it->first.IsScalar() || !it->second.IsScalar()) {
        Error(it->first, object,
              absl::StrCat(e.key, ": expected name: value pairs"));
        continue;
      }
      if (!seen.insert(std::string(it->first.Scalar())).second) {
        Error(it->first, object,
              absl::StrCat(e.key, ": duplicate key '", it->first.Scalar(),
                           "'"));
        continue;
      }
      (*out)[std::string(it->first.Scalar())] =
          std::string(it->second.Scalar());
    }
  }

  // ---- topology ----
  void ReadTopology(const Entry& top, Topology* topology) {
    if (!Map(top, "lab")) return;
    std::vector<Entry> entries =
        Entries(top.value, "topology", kTopologyKeys, kNone);
    // Defaults, kinds and groups first: nodes build on them, wherever they
    // sit.
    for (const Entry& e : entries) {
      if (e.key == "defaults") {
        defaults_.object = "topology.defaults";
        if (!e.value.IsNull() && Map(e, "topology")) {
          ReadTemplate(e.value, &defaults_);
        }
      } else if (e.key == "kinds" || e.key == "groups") {
        if (e.value.IsNull() || !Map(e, "topology")) continue;
        for (auto it = e.value.begin(); it != e.value.end(); ++it) {
          if (!it->first.IsScalar()) {
            Error(it->first, "topology",
                  absl::StrCat(e.key, ": names must be plain names"));
            continue;
          }
          const std::string name(it->first.Scalar());
          // Settings of a kind emu cannot run go nowhere: a node using the
          // kind says why.
          if (e.key == "kinds" && !IsSupportedKind(name)) continue;
          Template& t = e.key == "kinds" ? kinds_[name] : groups_[name];
          t.object = absl::StrCat("topology.", e.key, ".", name);
          if (it->second.IsNull()) continue;
          if (!it->second.IsMap()) {
            Error(it->first, t.object, "expected a map of node settings");
            continue;
          }
          ReadTemplate(it->second, &t);
        }
      }
    }
    for (const Entry& e : entries) {
      if (e.key == "nodes") {
        if (e.value.IsNull()) continue;
        if (!e.value.IsMap()) {
          Error(e, "topology",
                "nodes: expected a map of node name -> node settings");
          continue;
        }
        for (auto it = e.value.begin(); it != e.value.end(); ++it) {
          ReadNode(it->first, it->second, topology);
        }
      }
    }
    for (const Entry& e : entries) {
      if (e.key == "links") {
        if (e.value.IsNull()) continue;
        if (!Sequence(e, "topology")) continue;
        int index = 0;
        for (const YamlNode& item : e.value) {
          ReadLink(item, ++index, topology);
        }
      }
    }
    // Host and dummy ends first: an interface they declare names their
    // link as its source, also when a link uses it too (an error).
    ApplySpecialEnds(topology);
    std::vector<std::pair<std::string, std::string>> ports =
        RetargetInNodeBridgeLinks(topology);
    NormalizeTopology(topology);
    AddInNodeBridges(ports, topology);
    ApplyInterfaceSettings(topology);
    ResolveSharedNamespaces(topology);
    ApplyMgmt(topology);
  }

  // ---- the management network (docs/topology.md) ----

  // mgmt: {network, bridge, ipv4-subnet, ipv6-subnet, ipv4-gw, ipv6-gw,
  //        ipv4-range, ipv6-range, mtu}
  void ReadMgmt(const Entry& entry) {
    mgmt_section_ = true;
    mgmt_.net.mutable_source()->set_file(file_);
    mgmt_.net.mutable_source()->set_line(LineOf(entry.key_node));
    if (entry.value.IsNull() || !Map(entry, "mgmt")) return;
    emu::v1::ManagementNetwork& net = mgmt_.net;
    for (const Entry& e :
         Entries(entry.value, "mgmt", kMgmtKeys, kClabMgmtKeys)) {
      std::string v;
      if (e.key == "mtu") {
        uint64_t mtu;
        if (Uint(e, "mgmt", 65535, &mtu)) net.set_mtu(static_cast<uint32_t>(mtu));
        continue;
      }
      if (!Scalar(e, "mgmt", &v)) continue;
      if (e.key == "network") {
        net.set_network(v);
      } else if (e.key == "bridge") {
        net.set_bridge(v);
      } else if (e.key == "ipv4-subnet" || e.key == "ipv4_subnet") {
        net.set_ipv4_subnet(v);
      } else if (e.key == "ipv6-subnet" || e.key == "ipv6_subnet") {
        net.set_ipv6_subnet(v);
      } else if (e.key == "ipv4-gw" || e.key == "ipv4_gw") {
        net.set_ipv4_gateway(v);
      } else if (e.key == "ipv6-gw" || e.key == "ipv6_gw") {
        net.set_ipv6_gateway(v);
      } else if (e.key == "ipv4-range") {
        mgmt_.ipv4_range = v;
      } else if (e.key == "ipv6-range") {
        mgmt_.ipv6_range = v;
      }
    }
  }

  // A lab gets a management network when its file asks for one: a `mgmt:`
  // section, a node's mgmt-ipv4/6, or a mgmt-net link. Then every netns
  // node with a namespace of its own gets eth0 on it (Interface.mgmt, its
  // host end named by the agent) with its addresses, and a default route
  // through the gateway unless it routes `default` itself, as Docker gives
  // containerlab's nodes.
  void ApplyMgmt(Topology* topology) {
    const bool any_end =
        std::any_of(special_ends_.begin(), special_ends_.end(),
                    [](const SpecialEnd& e) { return e.mgmt; });
    if (!mgmt_section_ && node_mgmt_.empty() && !any_end) return;
    if (!mgmt_section_) {
      // Asked for by the first mgmt-ipv4/6 or mgmt-net link: messages
      // name that line.
      int line = 0;
      for (const auto& [name, ask] : node_mgmt_) {
        for (int l : {ask.ipv4_line, ask.ipv6_line}) {
          if (l > 0 && (line == 0 || l < line)) line = l;
        }
      }
      for (const SpecialEnd& e : special_ends_) {
        if (e.mgmt && (line == 0 || e.source.line() < line)) {
          line = e.source.line();
        }
      }
      mgmt_.net.mutable_source()->set_file(file_);
      mgmt_.net.mutable_source()->set_line(line);
    }
    std::vector<MgmtNodeAsk> asks;
    asks.reserve(topology->nodes_size());
    for (const Node& n : topology->nodes()) {
      MgmtNodeAsk ask;
      auto it = node_mgmt_.find(n.name());
      if (it != node_mgmt_.end()) ask = it->second;
      ask.node = n.name();
      ask.line = n.source().line();
      ask.attached = n.kind() == emu::v1::NODE_KIND_NETNS &&
                     n.netns_of().empty() &&
                     no_mgmt_nodes_.count(n.name()) == 0;
      asks.push_back(std::move(ask));
    }
    MgmtPlan plan = PlanManagementNetwork(mgmt_, asks);
    for (const MgmtProblem& w : plan.warnings) Warn(w.line, w.object, w.cause);
    for (const MgmtProblem& e : plan.errors) Error(e.line, e.object, e.cause);
    if (!plan.errors.empty()) return;
    const std::string where =
        absl::StrCat("the lab's management network, ", file_, ":",
                     mgmt_.net.source().line());
    // eth0 is the management interface of every attached node: no link,
    // host, dummy or mgmt-net link may use it.
    for (const Link& link : topology->links()) {
      for (const emu::v1::Endpoint* e : {&link.a(), &link.b()}) {
        if (e->interface() != "eth0" || !plan.addresses.count(e->node())) {
          continue;
        }
        Error(link.source().line(), absl::StrCat("link ", LinkName(link)),
              absl::StrCat("eth0 of node ", e->node(),
                           " is its management interface (", where,
                           "): a link cannot use it; use another interface"));
      }
    }
    for (Node& n : *topology->mutable_nodes()) {
      auto addresses = plan.addresses.find(n.name());
      if (addresses == plan.addresses.end()) continue;
      Interface* eth0 = nullptr;
      for (Interface& i : *n.mutable_interfaces()) {
        if (i.name() == "eth0") eth0 = &i;
      }
      if (eth0 != nullptr &&
          (eth0->has_host_end() || eth0->dummy() || eth0->bridge() ||
           eth0->addresses_size() > 0)) {
        Error(eth0->source().line(),
              absl::StrCat("interface ", EndpointName(n.name(), "eth0")),
              absl::StrCat("eth0 is node ", n.name(),
                           "'s management interface (", where,
                           "): its addresses come from mgmt-ipv4/mgmt-ipv6, "
                           "and no host, dummy or mgmt-net link may use it"));
        continue;
      }
      if (eth0 == nullptr) {
        eth0 = n.add_interfaces();
        eth0->set_name("eth0");
        *eth0->mutable_source() = n.source();
      }
      eth0->set_mgmt(true);
      eth0->mutable_host_end();  // named by the agent
      if (eth0->mtu() == 0) eth0->set_mtu(plan.net.mtu());
      for (const std::string& a : addresses->second) eth0->add_addresses(a);
      bool default4 = false, default6 = false;
      for (const Route& r : n.routes()) {
        default4 = default4 || r.destination() == "default" ||
                   r.destination() == "0.0.0.0/0";
        default6 = default6 || r.destination() == "default6" ||
                   r.destination() == "::/0";
      }
      auto add_default = [&](const char* to, const std::string& gateway) {
        Route* r = n.add_routes();
        r->set_destination(to);
        r->set_via(gateway.substr(0, gateway.find('/')));
        r->set_dev("eth0");
        *r->mutable_source() = n.source();
      };
      if (!default4 && !plan.net.ipv4_gateway().empty()) {
        add_default("default", plan.net.ipv4_gateway());
      }
      if (!default6 && !plan.net.ipv6_gateway().empty()) {
        add_default("default6", plan.net.ipv6_gateway());
      }
    }
    *topology->mutable_mgmt() = std::move(plan.net);
  }

  // `network-mode: container:NODE` of netns nodes: NODE must be a node of
  // this file (containerlab also joins containers outside the lab; emu
  // joins only namespaces it made, so such a node gets its own, with a
  // warning), and a chain (a shares b, b shares c) ends at c. Everything
  // else about the target (kind, host, names in the shared namespace) is
  // the validator's (it sees JSON and proto text too).
  void ResolveSharedNamespaces(Topology* topology) {
    if (shared_netns_lines_.empty()) return;
    absl::flat_hash_map<std::string, const Node*> by_name;
    for (const Node& n : topology->nodes()) by_name[n.name()] = &n;
    for (Node& n : *topology->mutable_nodes()) {
      if (n.netns_of().empty()) continue;
      const int line = shared_netns_lines_[n.name()];
      if (!by_name.contains(n.netns_of())) {
        Warn(line, absl::StrCat("node ", n.name()),
             absl::StrCat("ignored containerlab key 'network-mode' "
                          "(container:", n.netns_of(), "): ", n.netns_of(),
                          " is no node of this file, and emu joins only "
                          "namespaces of its own lab: the node gets a "
                          "namespace of its own"));
        n.clear_netns_of();
      }
    }
    for (Node& n : *topology->mutable_nodes()) {
      std::string root = n.netns_of();
      for (size_t hops = 0; !root.empty() && hops < by_name.size(); ++hops) {
        auto it = by_name.find(root);
        if (it == by_name.end() || it->second->netns_of().empty() ||
            it->second->netns_of() == n.name()) {
          break;
        }
        root = it->second->netns_of();
      }
      if (!root.empty()) n.set_netns_of(root);
    }
  }

  // Links to a bridge inside a node end on that node instead; returns
  // (node, interface) of each such end with its bridge's name as
  // "node\0interface" -> bridge pairs.
  std::vector<std::pair<std::string, std::string>> RetargetInNodeBridgeLinks(
      Topology* topology) {
    std::vector<std::pair<std::string, std::string>> ports;
    if (in_node_bridges_.empty()) return ports;
    for (Link& link : *topology->mutable_links()) {
      for (emu::v1::Endpoint* e : {link.mutable_a(), link.mutable_b()}) {
        auto it = in_node_bridges_.find(e->node());
        if (it == in_node_bridges_.end()) continue;
        e->set_node(it->second.holder);
        ports.push_back({absl::StrCat(e->node(), ":", e->interface()),
                         it->second.bridge});
      }
    }
    return ports;
  }

  // Declares each in-node bridge on its node (Interface.bridge) and makes
  // its links' ends there its ports (Interface.master).
  void AddInNodeBridges(
      const std::vector<std::pair<std::string, std::string>>& ports,
      Topology* topology) {
    for (const auto& [name, b] : in_node_bridges_) {
      Node* holder = nullptr;
      for (Node& n : *topology->mutable_nodes()) {
        if (n.name() == b.holder) holder = &n;
      }
      if (holder == nullptr) {
        Error(b.source.line(), absl::StrCat("node ", name),
              absl::StrCat("network-mode: container:", b.holder,
                           " names no node of this file"));
        continue;
      }
      Interface* iface = nullptr;
      for (Interface& i : *holder->mutable_interfaces()) {
        if (i.name() == b.bridge) iface = &i;
      }
      if (iface == nullptr) {
        iface = holder->add_interfaces();
        iface->set_name(b.bridge);
        *iface->mutable_source() = b.source;
      }
      iface->set_bridge(true);
      for (const auto& [port, bridge] : ports) {
        if (bridge != b.bridge ||
            !absl::StartsWith(port, absl::StrCat(b.holder, ":"))) {
          continue;
        }
        const std::string ifname = port.substr(b.holder.size() + 1);
        for (Interface& i : *holder->mutable_interfaces()) {
          if (i.name() == ifname) i.set_master(b.bridge);
        }
      }
    }
  }

  static bool IsSupportedKind(absl::string_view kind) {
    return KindFromName(kind) != emu::v1::NODE_KIND_UNSPECIFIED;
  }

  void ReadTemplate(const YamlNode& map, Template* t) {
    const YamlNode mode = map["network-mode"];
    if (mode.IsDefined() && mode.IsScalar()) {
      t->network_mode = std::string(mode.Scalar());
    }
    for (const Entry& e : Entries(map, t->object, kNodeKeys, kClabNodeKeys)) {
      if (e.key == "interfaces" || e.key == "routes") {
        Error(e.key_node, t->object,
              absl::StrCat(e.key, " belong to a node, not to ", t->object));
        continue;
      }
      if (e.key == "group") {
        if (t->object != "topology.defaults") {
          Error(e.key_node, t->object,
                "group belongs to a node (or to topology.defaults)");
        } else {
          Scalar(e, t->object, &t->group);
        }
        continue;
      }
      if (e.key == "kind") {
        if (absl::StartsWith(t->object, "topology.kinds.")) {
          Error(e.key_node, t->object,
                "kind is set by the kind's name here; remove it");
          continue;
        }
        if (Scalar(e, t->object, &t->kind)) t->kind_line = LineOf(e);
        continue;
      }
      if (ApplyNodeKey(e, t->object, &t->node)) {
        t->keys[std::string(e.key)] = e.key_node;
      }
    }
  }

  // The kinds a file may name; UNSPECIFIED for the others.
  static emu::v1::NodeKind KindFromName(absl::string_view kind) {
    if (kind == "netns" || kind == "linux") return emu::v1::NODE_KIND_NETNS;
    if (kind == "qemu") return emu::v1::NODE_KIND_QEMU;
    if (kind == "bridge") return emu::v1::NODE_KIND_BRIDGE;
    if (kind == "switch") return emu::v1::NODE_KIND_SWITCH;
    if (kind == "hub") return emu::v1::NODE_KIND_HUB;
    return emu::v1::NODE_KIND_UNSPECIFIED;
  }

  static std::string UnsupportedKind(absl::string_view kind) {
    return absl::StrCat("kind '", kind,
                        "' is not supported: emu runs netns, linux (deployed "
                        "as netns), qemu, bridge, switch and hub nodes");
  }

  // Applies one node setting to `node`; false when the value was bad.
  bool ApplyNodeKey(const Entry& e, absl::string_view object, Node* node) {
    if (e.key == "image") {
      std::string v;
      if (!Scalar(e, object, &v)) return false;
      node->set_image(v);
    } else if (e.key == "host") {
      std::string v;
      if (!Scalar(e, object, &v)) return false;
      node->set_host(v);
    } else if (e.key == "cpus") {
      uint64_t v;
      if (!Uint(e, object, kMaxNodeCpus, &v)) return false;
      node->mutable_resources()->set_cpus(static_cast<uint32_t>(v));
    } else if (e.key == "memory") {
      std::string text;
      if (!Scalar(e, object, &text)) return false;
      absl::StatusOr<uint64_t> bytes = linkemu::ParseSizeBytes(text);
      if (!bytes.ok()) {
        Error(e, object, absl::StrCat("memory: ", bytes.status().message()));
        return false;
      }
      constexpr uint64_t kMiB = 1024 * 1024;
      if (*bytes % kMiB != 0 || *bytes == 0) {
        Error(e, object,
              absl::StrCat("memory: \"", text,
                           "\" is not a whole, non-zero number of MiB"));
        return false;
      }
      node->mutable_resources()->set_memory_mib(*bytes / kMiB);
    } else if (e.key == "cpuset") {  // qemu: pin vCPU i to cpuset[i % n]
      if (!Sequence(e, object)) return false;
      node->clear_cpu_set();
      for (const YamlNode& cpu : e.value) {
        uint32_t v = 0;
        if (!cpu.IsScalar() || !absl::SimpleAtoi(cpu.Scalar(), &v) ||
            v > 4095) {
          Error(cpu, object, "cpuset: expected a list of host CPU numbers");
          return false;
        }
        node->add_cpu_set(v);
      }
    } else if (e.key == "labels") {
      StringMap(e, object, node->mutable_labels());
    } else if (e.key == "sysctls") {
      StringMap(e, object, node->mutable_sysctls());
    } else if (e.key == "env") {
      StringMap(e, object, node->mutable_env());
    } else if (e.key == "stages") {
      return ReadStages(e, object, node);
    } else if (e.key == "exec") {
      if (e.value.IsNull()) return true;
      if (!Sequence(e, object)) return false;
      node->clear_exec();
      for (const YamlNode& line : e.value) {
        if (!line.IsScalar()) {
          Error(line, object, "exec: expected a list of command lines");
          return false;
        }
        node->add_exec(std::string(line.Scalar()));
      }
    }
    return true;
  }

  // Copies the setting `key` of a template onto a node.
  static void CopyNodeKey(const std::string& key, const Node& from, Node* to) {
    if (key == "image") {
      to->set_image(from.image());
    } else if (key == "host") {
      to->set_host(from.host());
    } else if (key == "cpus") {
      to->mutable_resources()->set_cpus(from.resources().cpus());
    } else if (key == "memory") {
      to->mutable_resources()->set_memory_mib(from.resources().memory_mib());
    } else if (key == "cpuset") {
      *to->mutable_cpu_set() = from.cpu_set();
    } else if (key == "labels") {
      for (const auto& [k, v] : from.labels()) (*to->mutable_labels())[k] = v;
    } else if (key == "sysctls") {
      for (const auto& [k, v] : from.sysctls()) (*to->mutable_sysctls())[k] = v;
    } else if (key == "env") {
      for (const auto& [k, v] : from.env()) (*to->mutable_env())[k] = v;
    } else if (key == "exec") {
      *to->mutable_exec() = from.exec();
    } else if (key == "stages") {
      AppendStages(from, to);
    }
  }

  // containerlab merges stages by appending, without duplicates.
  static void AppendStages(const Node& from, Node* to) {
    for (const emu::v1::StageExec& x : from.stage_execs()) {
      if (std::none_of(to->stage_execs().begin(), to->stage_execs().end(),
                       [&](const emu::v1::StageExec& y) {
                         return y.stage() == x.stage() &&
                                y.on_exit() == x.on_exit() &&
                                y.on_host() == x.on_host() &&
                                y.command() == x.command();
                       })) {
        *to->add_stage_execs() = x;
      }
    }
    for (const emu::v1::StageWait& x : from.stage_waits()) {
      if (std::none_of(to->stage_waits().begin(), to->stage_waits().end(),
                       [&](const emu::v1::StageWait& y) {
                         return y.stage() == x.stage() && y.node() == x.node() &&
                                y.node_stage() == x.node_stage();
                       })) {
        *to->add_stage_waits() = x;
      }
    }
  }

  static emu::v1::NodeStage StageFromName(absl::string_view name) {
    if (name == "create") return emu::v1::NODE_STAGE_CREATE;
    if (name == "create-links") return emu::v1::NODE_STAGE_CREATE_LINKS;
    if (name == "configure") return emu::v1::NODE_STAGE_CONFIGURE;
    if (name == "healthy") return emu::v1::NODE_STAGE_HEALTHY;
    if (name == "exit") return emu::v1::NODE_STAGE_EXIT;
    return emu::v1::NODE_STAGE_UNSPECIFIED;
  }

  // `stages:` into Node.stage_execs / stage_waits (appended: a node's own
  // come after its templates'). What emu cannot do at a stage is the
  // validator's to refuse.
  bool ReadStages(const Entry& e, absl::string_view object, Node* node) {
    if (e.value.IsNull()) return true;
    if (!Map(e, object)) return false;
    Node read;
    bool ok = true;
    for (const Entry& st : Entries(e.value, object, kStageNames, kNone)) {
      const std::string what = absl::StrCat("stages.", st.key);
      if (st.value.IsNull()) continue;
      if (!Map(st, object)) {
        ok = false;
        continue;
      }
      const emu::v1::NodeStage stage = StageFromName(st.key);
      for (const Entry& k : Entries(st.value, object, kStageKeys, kNone)) {
        if (k.value.IsNull()) continue;
        if (!Sequence(k, object)) {
          ok = false;
          continue;
        }
        for (const YamlNode& item : k.value) {
          if (!item.IsMap()) {
            Error(item, object,
                  absl::StrCat(what, ".", k.key,
                               k.key == "exec"
                                   ? ": expected {command, target, phase}"
                                   : ": expected {node, stage}"));
            ok = false;
            continue;
          }
          if (k.key == "wait-for") {
            emu::v1::StageWait* w = read.add_stage_waits();
            w->set_stage(stage);
            *w->mutable_source() = Source(item);
            w->set_node_stage(emu::v1::NODE_STAGE_CREATE);  // containerlab's
            for (const Entry& f : Entries(item, object, kWaitForKeys, kNone)) {
              std::string v;
              if (!Scalar(f, object, &v)) {
                ok = false;
              } else if (f.key == "node") {
                w->set_node(v);
              } else if (StageFromName(v) == emu::v1::NODE_STAGE_UNSPECIFIED) {
                Error(f, object,
                      absl::StrCat(what, ".wait-for: unknown stage '", v,
                                   "' (create, create-links, configure, "
                                   "healthy, exit)"));
                ok = false;
              } else {
                w->set_node_stage(StageFromName(v));
              }
            }
            if (w->node().empty()) {
              Error(item, object, absl::StrCat(what, ".wait-for: needs a node"));
              ok = false;
            }
            continue;
          }
          emu::v1::StageExec* x = read.add_stage_execs();
          x->set_stage(stage);
          *x->mutable_source() = Source(item);
          std::string target = "container";
          for (const Entry& f : Entries(item, object, kStageExecKeys, kNone)) {
            std::string v;
            if (!Scalar(f, object, &v)) {
              ok = false;
            } else if (f.key == "command") {
              x->set_command(v);
            } else if (f.key == "target") {
              target = v;
              if (v != "container" && v != "host") {
                Error(f, object,
                      absl::StrCat(what, ".exec: target '", v,
                                   "' is neither container nor host"));
                ok = false;
              }
            } else if (v == "on-enter" || v == "on-exit") {
              x->set_on_exit(v == "on-exit");
            } else {
              Error(f, object,
                    absl::StrCat(what, ".exec: phase '", v,
                                 "' is neither on-enter nor on-exit"));
              ok = false;
            }
          }
          if (x->command().empty()) {
            Error(item, object, absl::StrCat(what, ".exec: needs a command"));
            ok = false;
          }
          // Who may deploy it and which agents run it is checked at
          // deploy (controller/lab/host_commands.h).
          x->set_on_host(target == "host");
        }
      }
    }
    if (ok) AppendStages(read, node);
    return ok;
  }

  void ReadNode(const YamlNode& key, const YamlNode& value,
                Topology* topology) {
    if (!key.IsScalar()) {
      Error(key, "topology", "nodes: node names must be plain names");
      return;
    }
    const std::string name(key.Scalar());
    const std::string object = absl::StrCat("node ", name);
    auto [first, inserted] = node_lines_.emplace(name, LineOf(key));
    if (!inserted) {
      Error(key, object,
            absl::StrCat("duplicate node: already defined at ", file_, ":",
                         first->second));
      return;
    }
    if (!value.IsNull() && !value.IsMap()) {
      Error(key, object, "expected a map of node settings");
      return;
    }
    std::vector<Entry> entries;
    if (value.IsMap()) {
      entries = Entries(value, object, kOwnNodeKeys, kClabNodeKeys);
    }

    // containerlab's order, most specific first: node > group > kind >
    // defaults. The group comes first: it may name the kind.
    const Template* group = nullptr;
    bool own_group = false;
    for (const Entry& e : entries) own_group = own_group || e.key == "group";
    if (!own_group && !defaults_.group.empty()) {
      auto it = groups_.find(defaults_.group);
      if (it != groups_.end()) group = &it->second;
    }
    for (const Entry& e : entries) {
      if (e.key != "group") continue;
      std::string group_name;
      if (!Scalar(e, object, &group_name)) continue;
      auto it = groups_.find(group_name);
      if (it != groups_.end()) {
        group = &it->second;
      } else {
        Warn(LineOf(e), object,
             absl::StrCat("group '", group_name,
                          "' is not defined under topology.groups: the node "
                          "takes no settings from it"));
      }
    }
    // Kind: the node's own, else its group's, else topology.defaults', else
    // netns. A kind emu cannot run is blamed where it was written, once.
    std::string kind = "netns";
    bool kind_ok = true;
    bool own_kind = false;
    for (const Entry& e : entries) {
      if (e.key != "kind") continue;
      own_kind = true;
      if (!Scalar(e, object, &kind)) return;
      if (!IsSupportedKind(kind)) {
        Error(e, object, UnsupportedKind(kind));
        return;
      }
    }
    if (!own_kind) {
      for (const Template* t :
           {group, static_cast<const Template*>(&defaults_)}) {
        if (t == nullptr || t->kind.empty()) continue;
        kind = t->kind;
        if (!IsSupportedKind(kind)) {
          kind_ok = false;
          if (reported_kind_lines_.insert(t->kind_line).second) {
            Error(t->kind_line, t->object,
                  absl::StrCat(UnsupportedKind(kind), " (first taken by node ",
                               name, ")"));
          }
        }
        break;
      }
    }
    if (!kind_ok) return;
    std::string shares;  // network-mode: container:NODE of a netns node
    bool own_mode = false;
    for (const Entry& e : entries) {
      if (e.key != "network-mode") continue;
      own_mode = true;
      std::string mode;
      if (!Scalar(e, object, &mode)) return;
      if (mode == "host" || mode == "none") no_mgmt_nodes_.insert(name);
      if (kind == "bridge" && absl::StartsWith(mode, "container:")) {
        // containerlab: the bridge is made inside that node's namespace and
        // the node's name is "BRIDGE|NODE".
        const std::string holder(absl::StripPrefix(mode, "container:"));
        const size_t bar = name.find('|');
        if (bar == std::string::npos || bar == 0 ||
            name.substr(bar + 1) != holder) {
          Error(e, object,
                absl::StrCat("network-mode: ", mode, ": a bridge inside node ",
                             holder, "'s namespace is named BRIDGE|", holder,
                             " (containerlab's convention), e.g. br0|",
                             holder));
          return;
        }
        for (const Entry& other : entries) {
          if (other.key != "kind" && other.key != "network-mode" &&
              other.key != "group") {
            Warn(LineOf(other), object,
                 absl::StrCat("ignored: '", other.key,
                              "' does not apply to a bridge inside node ",
                              holder));
          }
        }
        in_node_bridges_[name] = {name.substr(0, bar), holder, Source(key)};
        return;
      }
      if ((kind == "linux" || kind == "netns") &&
          absl::StartsWith(mode, "container:")) {
        // containerlab: the node joins NODE's network namespace
        // (ResolveSharedNamespaces checks NODE once every node is read).
        shares = std::string(absl::StripPrefix(mode, "container:"));
        shared_netns_lines_[name] = LineOf(e);
        continue;
      }
      Warn(LineOf(e), object,
           absl::StartsWith(mode, "container:")
               ? absl::StrCat("ignored containerlab key 'network-mode' (",
                              mode, "): the node gets a namespace of its own, "
                              "not ", absl::StripPrefix(mode, "container:"),
                              "'s")
               : absl::StrCat("ignored containerlab key 'network-mode' (",
                              mode, ")"));
    }

    if (!own_mode) {
      // containerlab's order; the template's key was warned where written.
      for (const Template* t : {group, static_cast<const Template*>(&kinds_[kind]),
                                static_cast<const Template*>(&defaults_)}) {
        if (t == nullptr || t->network_mode.empty()) continue;
        if (t->network_mode == "host" || t->network_mode == "none") {
          no_mgmt_nodes_.insert(name);
        }
        break;
      }
    }
    Node* node = topology->add_nodes();
    node->set_name(name);
    *node->mutable_source() = Source(key);
    node->set_kind(KindFromName(kind));
    if (!shares.empty()) node->set_netns_of(shares);

    // Where the image came from, to blame the right line if it is ignored.
    std::string image_object;
    int image_line = 0;
    const Template* templates[] = {&defaults_, &kinds_[kind], group};
    for (const Template* t : templates) {
      if (t == nullptr) continue;
      for (const auto& [k, key_node] : t->keys) {
        CopyNodeKey(k, t->node, node);
        if (k == "image") {
          image_object = t->object;
          image_line = LineOf(key_node);
        }
      }
    }
    for (const Entry& e : entries) {
      if (e.key == "kind" || e.key == "group") continue;
      if (absl::StartsWith(e.key, "mgmt")) {  // mgmt-ipv4, mgmt_ipv6, ...
        std::string v;
        if (!Scalar(e, object, &v)) continue;
        MgmtNodeAsk& ask = node_mgmt_[name];
        const bool v4 = absl::EndsWith(e.key, "ipv4");
        (v4 ? ask.ipv4 : ask.ipv6) = v;
        (v4 ? ask.ipv4_line : ask.ipv6_line) = LineOf(e);
        continue;
      }
      if (e.key == "interfaces") {
        ReadInterfaces(e, name, node);
      } else if (e.key == "routes") {
        ReadRoutes(e, name, node);
      } else {
        if (e.key == "exec") node->clear_exec();
        if (ApplyNodeKey(e, object, node) && e.key == "image") {
          image_object = object;
          image_line = LineOf(e);
        }
      }
    }
    const bool segment = IsSegmentKind(node->kind());
    if ((node->kind() == emu::v1::NODE_KIND_NETNS || segment) &&
        !node->image().empty()) {
      // Blame a template's image once, not once per node.
      if (image_object == object || warned_image_lines_.insert(image_line).second) {
        Warn(image_line, image_object,
             segment ? absl::StrCat("image ignored: a ", kind,
                                    " is emu's own Linux bridge")
                     : absl::StrCat("image ignored: netns nodes share the "
                                    "host's file system",
                                    kind == "linux"
                                        ? " (kind linux deploys as netns)"
                                        : ""));
      }
      node->clear_image();
    }
  }

  void ReadInterfaces(const Entry& e, const std::string& node_name,
                      Node* node) {
    const std::string node_object = absl::StrCat("node ", node_name);
    if (e.value.IsNull()) return;
    if (!e.value.IsMap()) {
      Error(e, node_object,
            "interfaces: expected a map of interface name -> settings");
      return;
    }
    std::set<std::string> seen;
    for (auto it = e.value.begin(); it != e.value.end(); ++it) {
      if (!it->first.IsScalar()) {
        Error(it->first, node_object, "interfaces: names must be plain names");
        continue;
      }
      const std::string name(it->first.Scalar());
      const std::string object =
          absl::StrCat("interface ", EndpointName(node_name, name));
      if (!seen.insert(name).second) {
        Error(it->first, object, "declared twice");
        continue;
      }
      Interface* iface = node->add_interfaces();
      iface->set_name(name);
      *iface->mutable_source() = Source(it->first);
      if (it->second.IsNull()) continue;
      if (!it->second.IsMap()) {
        Error(it->first, object,
              "expected a map (addresses, ipv4, ipv6, mtu, mac) or nothing");
        continue;
      }
      for (const Entry& ie :
           Entries(it->second, object, kInterfaceKeys, kNone)) {
        std::string text;
        if (ie.key == "addresses") {
          if (ie.value.IsScalar()) {
            iface->add_addresses(std::string(ie.value.Scalar()));
            continue;
          }
          if (!Sequence(ie, object)) continue;
          for (const YamlNode& a : ie.value) {
            if (!a.IsScalar()) {
              Error(a, object, "addresses: expected CIDR strings");
              continue;
            }
            iface->add_addresses(std::string(a.Scalar()));
          }
        } else if (ie.key == "ipv4" || ie.key == "ipv6") {
          if (!Scalar(ie, object, &text)) continue;
          if (absl::StrContains(text, ':') != (ie.key == "ipv6")) {
            Error(ie, object,
                  absl::StrCat(ie.key, ": \"", text, "\" is not an ",
                               ie.key == "ipv4" ? "IPv4" : "IPv6",
                               " address (use addresses: for a list)"));
            continue;
          }
          iface->add_addresses(text);
        } else if (ie.key == "mtu") {
          uint64_t mtu;
          if (Uint(ie, object, 65535, &mtu)) {
            iface->set_mtu(static_cast<uint32_t>(mtu));
          }
        } else if (ie.key == "mac") {
          if (Scalar(ie, object, &text)) iface->set_mac(text);
        }
      }
    }
  }

  void ReadRoutes(const Entry& e, const std::string& node_name, Node* node) {
    const std::string node_object = absl::StrCat("node ", node_name);
    if (e.value.IsNull()) return;
    if (!Sequence(e, node_object)) return;
    for (const YamlNode& item : e.value) {
      if (!item.IsMap()) {
        Error(item, node_object,
              "routes: each route is a map like {to: 10.0.2.0/24, via: "
              "10.0.1.2}");
        continue;
      }
      Route* route = node->add_routes();
      *route->mutable_source() = Source(item);
      const std::string object = absl::StrCat(node_object, ": route");
      bool have_to = false;
      for (const Entry& re : Entries(item, object, kRouteKeys, kNone)) {
        std::string text;
        if (re.key == "to") {
          have_to = true;
          if (Scalar(re, object, &text)) route->set_destination(text);
        } else if (re.key == "via") {
          if (Scalar(re, object, &text)) route->set_via(text);
        } else if (re.key == "dev") {
          if (Scalar(re, object, &text)) route->set_dev(text);
        } else if (re.key == "metric") {
          uint64_t metric;
          if (Uint(re, object, UINT32_MAX, &metric)) {
            route->set_metric(static_cast<uint32_t>(metric));
          }
        }
      }
      if (!have_to) {
        Error(item, object,
              "missing required key 'to' (a CIDR, default or default6)");
      }
    }
  }

  // ---- links ----

  // An endpoint as its link's name shows it: "r1:eth1" as written, or
  // "node:interface" of containerlab's map form; "" when it is neither.
  static std::string EndpointText(const YamlNode& n) {
    if (n.IsScalar()) {
      const absl::string_view text = n.Scalar();
      const size_t colon = text.find(':');
      if (colon == absl::string_view::npos || colon == 0 ||
          colon + 1 == text.size())
        return "";
      return std::string(text);
    }
    if (!n.IsMap()) return "";
    const YamlNode node = n["node"];
    const YamlNode iface = n["interface"];
    // A missing key is an invalid node, which throws on any question but
    // IsDefined().
    if (!node.IsDefined() || !iface.IsDefined() || !node.IsScalar() ||
        !iface.IsScalar()) {
      return "";
    }
    return EndpointName(node.Scalar(), iface.Scalar());
  }

  // The one name every message about a link uses, decided before anything
  // of it is read: "link r1:eth1<->r2:eth1" (as LinkName prints it), or
  // "link #N" when its endpoints cannot be read at all.
  static std::string LinkObject(const YamlNode& item, int index) {
    const YamlNode eps = item["endpoints"];
    if (eps.IsDefined() && eps.IsSequence() && eps.size() == 2) {
      std::string a = EndpointText(eps[0]);
      std::string b = EndpointText(eps[1]);
      if (!a.empty() && !b.empty()) return absl::StrCat("link ", a, "<->", b);
    }
    const YamlNode ep = item["endpoint"];
    if (ep.IsDefined() && !EndpointText(ep).empty()) {
      return absl::StrCat("link #", index, " (", EndpointText(ep), ")");
    }
    return absl::StrCat("link #", index);
  }

  // Checks that `text` is an address of `family` ("ipv4"/"ipv6") and queues
  // it for the endpoint's interface.
  void QueueAddress(const YamlNode& at, absl::string_view object,
                    absl::string_view family, absl::string_view text,
                    int link_index, bool a_side) {
    if (absl::StrContains(text, ':') != (family == "ipv6")) {
      Error(at, object,
            absl::StrCat(family, ": \"", text, "\" is not an ",
                         family == "ipv4" ? "IPv4" : "IPv6", " address"));
      return;
    }
    interface_settings_.push_back(
        {link_index, a_side, "address", std::string(text), LineOf(at)});
  }

  // Parses one endpoint: "r1:eth1" or {node: r1, interface: eth1, mac: ..,
  // ipv4: .., ipv6: ..}.
  bool ReadEndpoint(const YamlNode& n, absl::string_view object,
                    int link_index, bool a_side, emu::v1::Endpoint* out) {
    std::string text;
    std::string mac;
    int line = LineOf(n);
    std::vector<std::pair<Entry, std::string>> addresses;
    if (n.IsScalar()) {
      text = std::string(n.Scalar());
      size_t colon = text.find(':');
      if (colon == std::string::npos || colon == 0 ||
          colon + 1 == text.size()) {
        Error(n, object,
              absl::StrCat("endpoint \"", text,
                           "\": expected node:interface, e.g. r1:eth1"));
        return false;
      }
      out->set_node(text.substr(0, colon));
      out->set_interface(text.substr(colon + 1));
    } else if (n.IsMap()) {
      for (const Entry& e :
           Entries(n, object, kEndpointKeys, kClabEndpointKeys)) {
        std::string v;
        if (!Scalar(e, object, &v)) return false;
        if (e.key == "node") out->set_node(v);
        if (e.key == "interface") out->set_interface(v);
        if (e.key == "mac") mac = v;
        if (e.key == "ipv4" || e.key == "ipv6") addresses.push_back({e, v});
      }
      if (out->node().empty() || out->interface().empty()) {
        Error(n, object, "endpoint: needs both node and interface");
        return false;
      }
      text = EndpointName(*out);
    } else {
      Error(n, object, "endpoint: expected \"node:interface\"");
      return false;
    }
    if (IsHostEndpoint(*out) || IsMgmtEndpoint(*out)) {
      // A host link's end in the root namespace, or a port of the
      // management bridge (ReadLink makes the link a SpecialEnd).
    } else if (Contains(kSpecialEndpoints, out->node()) &&
               node_lines_.count(out->node()) == 0) {
      Error(n, object,
            absl::StrCat("endpoint \"", text, "\": containerlab's '",
                         out->node(),
                         "' endpoints are not supported: an emu link "
                         "connects two emu nodes"));
      return false;
    }
    if (!mac.empty()) {
      interface_settings_.push_back({link_index, a_side, "mac", mac, line});
    }
    for (const auto& [e, v] : addresses) {
      QueueAddress(e.value, object, e.key, v, link_index, a_side);
    }
    return true;
  }

  // containerlab's link types (the extended format's `type:`), read before
  // anything else of the link: a type emu cannot build is one error, not
  // one per key the type brings. False when the link is refused.
  bool CheckLinkType(const YamlNode& item, const std::string& object,
                     std::string* type_out) {
    YamlNode type_node;
    bool typed = false;
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == "type") {
        type_node = it->second;
        typed = true;
        break;
      }
    }
    const bool single = item["endpoint"].IsDefined();
    if (!typed) {
      if (!single) return true;
      Error(item, object,
            "a single 'endpoint' belongs to a containerlab link with a "
            "type (dummy, host, mgmt-net, vxlan, vxlan-stitch); a link "
            "between two nodes has 'endpoints: [a, b]'");
      return false;
    }
    if (!type_node.IsScalar()) {
      Error(type_node, object, "type: expected a single value");
      return false;
    }
    const std::string type(type_node.Scalar());
    *type_out = type;
    if (type == "veth" || type == "host" || type == "dummy" ||
        type == "mgmt-net" || type == "vxlan" || type == "vxlan-stitch") {
      return true;
    }
    if (type == "macvlan") {
      Error(type_node, object,
            "containerlab link type 'macvlan' is not supported: it connects "
            "a node to a NIC of the host (macvlan), which emu does not "
            "create or own; a host link (type: host) gives a node an "
            "interface in the host's namespace");
      return false;
    }
    Error(type_node, object,
          absl::StrCat("link type '", type,
                       "' is not a containerlab link type (veth, dummy, "
                       "host, mgmt-net, macvlan, vxlan, vxlan-stitch)"));
    return false;
  }

  void ReadLink(const YamlNode& item, int index, Topology* topology) {
    if (!item.IsMap()) {
      Error(item, absl::StrCat("link #", index),
            "expected a map with endpoints: [a:iface, b:iface]");
      return;
    }
    const std::string object = LinkObject(item, index);
    std::string type;
    if (!CheckLinkType(item, object, &type)) return;
    if (type == "host" || type == "dummy" || type == "mgmt-net") {
      ReadSingleEndpointLink(item, index, type, object, topology);
      return;
    }
    if (type == "vxlan" || type == "vxlan-stitch") {
      ReadVxlanLink(item, type, object, topology);
      return;
    }
    // A link's keys, made once (per link they cost an allocation).
    static const std::vector<absl::string_view>* const kKnown = [] {
      auto* known = new std::vector<absl::string_view>(
          std::begin(kLinkOnlyKeys), std::end(kLinkOnlyKeys));
      const KeyList param_keys = linkemu::LinkParamKeys();
      known->insert(known->end(), param_keys.begin(), param_keys.end());
      return known;
    }();
    const KeyList known = *kKnown;
    const int link_index = topology->links_size();
    const size_t settings_before = interface_settings_.size();
    Link link;
    *link.mutable_source() = Source(item);
    bool endpoints_ok = false;
    bool have_endpoints = false;
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (!it->first.IsScalar() || it->first.Scalar() != "endpoints") continue;
      if (have_endpoints) break;  // the duplicate is reported below
      have_endpoints = true;
      const YamlNode eps = it->second;  // a copy: the iterator yields a temporary
      if (!eps.IsSequence() || eps.size() != 2) {
        Error(eps.IsNull() ? it->first : eps, object,
              "endpoints: expected exactly two, e.g. [\"r1:eth1\", "
              "\"r2:eth1\"]");
        break;
      }
      bool a_ok = ReadEndpoint(eps[0], object, link_index, true,
                               link.mutable_a());
      bool b_ok = ReadEndpoint(eps[1], object, link_index, false,
                               link.mutable_b());
      endpoints_ok = a_ok && b_ok;
    }
    if (!have_endpoints) {
      Error(item, object, "missing required key 'endpoints'");
    }

    LinkParams base;
    const Entry* a_to_b = nullptr;
    const Entry* b_to_a = nullptr;
    std::vector<Entry> entries = Entries(item, object, known, kClabLinkKeys);
    for (const Entry& e : entries) {
      if (e.key == "endpoints" || e.key == "type") continue;
      if (e.key == "a-to-b") {
        a_to_b = &e;
      } else if (e.key == "b-to-a") {
        b_to_a = &e;
      } else if (e.key == "mtu") {
        uint64_t mtu;
        if (Uint(e, object, 65535, &mtu)) {
          for (bool a_side : {true, false}) {
            interface_settings_.push_back({link_index, a_side, "mtu",
                                           absl::StrCat(mtu), LineOf(e)});
          }
        }
      } else if (e.key == "ipv4" || e.key == "ipv6") {
        // containerlab: one address per endpoint, in endpoint order.
        if (!e.value.IsSequence() || e.value.size() != 2) {
          Error(e, object,
                absl::StrCat(e.key,
                             ": expected two addresses, one per endpoint in "
                             "endpoint order (\"\" for none), e.g. [",
                             e.key == "ipv4" ? "10.0.0.1/30, 10.0.0.2/30"
                                             : "\"fd00::1/64\", \"fd00::2/64\"",
                             "]"));
          continue;
        }
        for (size_t i = 0; i < 2; ++i) {
          const YamlNode addr = e.value[i];
          if (!addr.IsScalar()) {
            Error(addr.IsNull() ? e.key_node : addr, object,
                  absl::StrCat(e.key, ": expected an address (CIDR) or \"\""));
            continue;
          }
          if (addr.Scalar().empty()) continue;
          QueueAddress(addr, object, e.key, addr.Scalar(), link_index, i == 0);
        }
      } else {
        ApplyParam(e, object, &base);
      }
    }
    *link.mutable_a_to_b() = base;
    *link.mutable_b_to_a() = base;
    const struct {
      const Entry* entry;
      LinkParams* params;
    } directions[] = {{a_to_b, link.mutable_a_to_b()},
                      {b_to_a, link.mutable_b_to_a()}};
    for (const auto& d : directions) {
      if (d.entry == nullptr || d.entry->value.IsNull()) continue;
      const std::string dir_object = absl::StrCat(object, ": ", d.entry->key);
      if (!Map(*d.entry, object)) continue;
      for (const Entry& pe :
           Entries(d.entry->value, dir_object, linkemu::LinkParamKeys(), kNone)) {
        ApplyParam(pe, dir_object, d.params);
      }
    }
    if (endpoints_ok && (IsRootEndpoint(link.a()) || IsRootEndpoint(link.b()))) {
      AddHostEndLink(item, object, link, link_index, settings_before);
      return;
    }
    const bool attachment = endpoints_ok && (IsCommunityEndpoint(link.a()) ||
                                             IsCommunityEndpoint(link.b()));
    if (!endpoints_ok || attachment) {
      // Keep link indexes in step with interface_settings_ (this link's
      // are the last ones: dropping them costs no scan).
      if (attachment && interface_settings_.size() > settings_before) {
        Error(interface_settings_[settings_before].line, object,
              "a community attachment sets no mtu, mac or address on the "
              "link: declare them under the node's interfaces");
      }
      interface_settings_.resize(settings_before);
      if (attachment) AddAttachment(link, object, topology);
      return;
    }
    *topology->add_links() = std::move(link);
  }

  // ---- containerlab host and dummy links ----

  // "host:NAME" (or {node: host, ...}) unless the file has a node named
  // host: containerlab's end in the host's root namespace.
  bool IsHostEndpoint(const emu::v1::Endpoint& e) const {
    return e.node() == "host" && node_lines_.count("host") == 0;
  }
  // "mgmt-net:NAME" unless the file has a node named mgmt-net: a veth
  // whose end NAME is a port of the management bridge.
  bool IsMgmtEndpoint(const emu::v1::Endpoint& e) const {
    return e.node() == kMgmtEndpoint &&
           node_lines_.count(std::string(kMgmtEndpoint)) == 0;
  }
  // Either: an end in the agent's host namespace.
  bool IsRootEndpoint(const emu::v1::Endpoint& e) const {
    return IsHostEndpoint(e) || IsMgmtEndpoint(e);
  }

  // The settings ReadEndpoint and ReadLink queued for this link (from
  // `settings_before` on), moved to `end`: the node side's to its
  // interface, the host side's to host_end (an mtu goes to both ends: the
  // agent gives the host end the interface's).
  void TakeSettings(size_t settings_before, bool node_is_a, SpecialEnd* end) {
    for (size_t i = settings_before; i < interface_settings_.size(); ++i) {
      InterfaceSetting& s = interface_settings_[i];
      if (s.what == "mtu" || s.a_side == node_is_a) {
        if (s.what != "mtu" || s.a_side == node_is_a) {
          end->settings.push_back(std::move(s));
        }
      } else if (s.what == "mac") {
        end->host_end.set_mac(s.value);
      } else if (s.what == "address") {
        end->host_end.add_addresses(s.value);
      }
    }
    interface_settings_.resize(settings_before);
  }

  // A brief or veth-format link with a "host:NAME" end.
  void AddHostEndLink(const YamlNode& item, const std::string& object,
                      const Link& link, int link_index,
                      size_t settings_before) {
    (void)link_index;
    const bool a_host = IsRootEndpoint(link.a());
    if (a_host && IsRootEndpoint(link.b())) {
      Error(item, object,
            "both ends are in the host's namespace: a host link joins a "
            "node's interface to one interface of the host's");
      interface_settings_.resize(settings_before);
      return;
    }
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string key(it->first.Scalar());
      if (Contains(kHostEndLinkKeys, key) || Contains(kClabLinkKeys, key)) {
        continue;
      }
      Error(it->first, object,
            absl::StrCat(key,
                         ": a host link takes no link conditions (its host "
                         "end is outside the lab): only mtu, ipv4, ipv6"));
      interface_settings_.resize(settings_before);
      return;
    }
    const emu::v1::Endpoint& node_end = a_host ? link.b() : link.a();
    SpecialEnd end;
    end.object = object;
    end.source = Source(item);
    end.node = node_end.node();
    end.interface = node_end.interface();
    end.host_end.set_name((a_host ? link.a() : link.b()).interface());
    end.mgmt = IsMgmtEndpoint(a_host ? link.a() : link.b());
    TakeSettings(settings_before, /*node_is_a=*/!a_host, &end);
    special_ends_.push_back(std::move(end));
  }

  // A single-endpoint link's own keys and the link conditions, which are
  // known there only to be refused clearly.
  static std::vector<absl::string_view> SingleEndpointKnownKeys(KeyList own) {
    std::vector<absl::string_view> known(own.begin(), own.end());
    const KeyList param_keys = linkemu::LinkParamKeys();
    known.insert(known.end(), param_keys.begin(), param_keys.end());
    known.push_back("a-to-b");
    known.push_back("b-to-a");
    return known;
  }

  // The keys every single-endpoint link type reads alike: a link condition
  // (refused: `why` says why the type takes none), `endpoint` (the node's
  // interface, into `end`) and `mtu`. True when `e` is one of them (read,
  // or reported with *ok cleared).
  bool ReadSingleEndpointCommonKey(const Entry& e, const std::string& type,
                                   const std::string& object,
                                   absl::string_view why, int link_index,
                                   SpecialEnd* end, bool* have_endpoint,
                                   bool* ok) {
    if (Contains(linkemu::LinkParamKeys(), e.key) || e.key == "a-to-b" ||
        e.key == "b-to-a") {
      Error(e, object,
            absl::StrCat(e.key, ": a '", type, "' link takes no link "
                         "conditions (", why,
                         "); put them on a link between two nodes"));
      *ok = false;
      return true;
    }
    if (e.key == "endpoint") {
      *have_endpoint = true;
      emu::v1::Endpoint ep;
      if (e.value.IsSequence()) {
        Error(e, object,
              absl::StrCat("endpoint: a '", type,
                           "' link has one endpoint, {node: r1, interface: "
                           "eth1}, not a list"));
        *ok = false;
      } else if (!ReadEndpoint(e.value, object, link_index, true, &ep)) {
        *ok = false;
      } else if (IsRootEndpoint(ep)) {
        Error(e, object,
              absl::StrCat("endpoint: the node end of a '", type,
                           "' link is a node of the lab, not the host"));
        *ok = false;
      } else {
        end->node = ep.node();
        end->interface = ep.interface();
      }
      return true;
    }
    if (e.key == "mtu") {
      uint64_t mtu;
      if (Uint(e, object, 65535, &mtu)) {
        interface_settings_.push_back(
            {link_index, true, "mtu", absl::StrCat(mtu), LineOf(e)});
      } else {
        *ok = false;
      }
      return true;
    }
    return false;
  }

  // A single-endpoint link read: kept with the interface settings its keys
  // added since `settings_before` when `ok`, else those settings dropped.
  void FinishSpecialEnd(bool ok, size_t settings_before, SpecialEnd end) {
    if (!ok) {
      interface_settings_.resize(settings_before);
      return;
    }
    TakeSettings(settings_before, /*node_is_a=*/true, &end);
    special_ends_.push_back(std::move(end));
  }

  // A single-endpoint link without its `endpoint`: reported.
  void RequireEndpoint(const YamlNode& item, const std::string& object,
                       bool have_endpoint, bool* ok) {
    if (have_endpoint) return;
    Error(item, object,
          "missing required key 'endpoint' (the node's interface: {node: "
          "r1, interface: eth1})");
    *ok = false;
  }

  // containerlab's `type: host` (endpoint + host-interface) and
  // `type: dummy` (endpoint).
  void ReadSingleEndpointLink(const YamlNode& item, int index,
                              const std::string& type,
                              const std::string& object, Topology* topology) {
    (void)index;
    const bool host = type == "host" || type == "mgmt-net";
    const int link_index = topology->links_size();
    const size_t settings_before = interface_settings_.size();
    SpecialEnd end;
    end.object = object;
    end.source = Source(item);
    end.dummy = !host;
    end.mgmt = type == "mgmt-net";
    bool ok = true;
    bool have_endpoint = false;
    bool have_host_interface = false;
    const absl::string_view why =
        host ? "its other end is the host's, outside the lab"
             : "it has no other end";
    for (const Entry& e :
         Entries(item, object,
                 SingleEndpointKnownKeys(host ? KeyList(kHostLinkKeys)
                                              : KeyList(kDummyLinkKeys)),
                 kClabLinkKeys)) {
      if (ReadSingleEndpointCommonKey(e, type, object, why, link_index, &end,
                                      &have_endpoint, &ok)) {
        continue;
      }
      if (e.key == "host-interface") {
        have_host_interface = true;
        std::string v;
        if (!Scalar(e, object, &v)) {
          ok = false;
        } else {
          end.host_end.set_name(v);
        }
      }
    }
    RequireEndpoint(item, object, have_endpoint, &ok);
    if (host && !have_host_interface) {
      Error(item, object,
            "missing required key 'host-interface' (the name of the "
            "interface in the host's namespace)");
      ok = false;
    }
    FinishSpecialEnd(ok, settings_before, std::move(end));
  }

  // containerlab's `type: vxlan` / `type: vxlan-stitch`: the endpoint's
  // interface is a VXLAN device to `remote` (a VTEP outside the lab).
  void ReadVxlanLink(const YamlNode& item, const std::string& type,
                     const std::string& object, Topology* topology) {
    if (item["endpoints"].IsDefined()) {
      Error(item, object,
            absl::StrCat("a '", type,
                         "' link has one endpoint, {node: r1, interface: "
                         "eth1}, and a remote VTEP (remote:, vni:) as its "
                         "other end, not 'endpoints'"));
      return;
    }
    const int link_index = topology->links_size();
    const size_t settings_before = interface_settings_.size();
    SpecialEnd end;
    end.object = object;
    end.source = Source(item);
    emu::v1::VxlanEnd vxlan;
    vxlan.set_stitch(type == "vxlan-stitch");
    bool ok = true;
    bool have_endpoint = false;
    bool have_dst_port = false;
    for (const Entry& e :
         Entries(item, object, SingleEndpointKnownKeys(kVxlanLinkKeys),
                 kClabLinkKeys)) {
      if (ReadSingleEndpointCommonKey(
              e, type, object, "its other end is a VTEP outside the lab",
              link_index, &end, &have_endpoint, &ok)) {
        continue;
      }
      if (e.key == "remote") {
        std::string v;
        if (!Scalar(e, object, &v)) {
          ok = false;
        } else {
          vxlan.set_remote(v);  // checked by the validator (an address)
        }
      } else if (e.key == "vni") {
        uint64_t vni;
        if (Uint(e, object, (1u << 24) - 1, &vni)) {
          vxlan.set_vni(static_cast<uint32_t>(vni));
        } else {
          ok = false;
        }
      } else if (e.key == "dst-port" || e.key == "udp-port") {
        uint64_t port;
        if (!Uint(e, object, 65535, &port)) {
          ok = false;
        } else if (e.key == "dst-port" || !have_dst_port) {
          // udp-port is dst-port's old name: dst-port wins.
          vxlan.set_port(static_cast<uint32_t>(port));
          have_dst_port = have_dst_port || e.key == "dst-port";
        }
      } else if (e.key == "src-port") {
        Warn(LineOf(e), object,
             "src-port: ignored (the kernel picks each packet's source "
             "port from its flow, in its default range)");
      } else if (e.key == "parent-interface") {
        Warn(LineOf(e), object,
             "parent-interface: ignored (the host's route to the remote "
             "picks the interface the VXLAN packets leave by)");
      }
    }
    RequireEndpoint(item, object, have_endpoint, &ok);
    for (const char* key : {"remote", "vni"}) {
      if (!item[key].IsDefined()) {
        Error(item, object,
              absl::StrCat("missing required key '", key, "' (",
                           std::string(key) == "remote"
                               ? "the remote VTEP's address"
                               : "the VXLAN network identifier, 1-16777215",
                           ")"));
        ok = false;
      }
    }
    if (vxlan.port() == 0) vxlan.set_port(kClabVxlanPort);
    end.vxlan = std::move(vxlan);
    FinishSpecialEnd(ok, settings_before, std::move(end));
  }

  // Makes each SpecialEnd its node's interface (declared if the node lacks
  // it), with the link's mac, addresses and mtu.
  void ApplySpecialEnds(Topology* topology) {
    absl::flat_hash_map<absl::string_view, Node*> nodes;
    for (Node& node : *topology->mutable_nodes()) {
      nodes.emplace(node.name(), &node);
    }
    for (const SpecialEnd& end : special_ends_) {
      auto found = nodes.find(end.node);
      if (found == nodes.end()) {
        Error(end.source.line(), end.object,
              absl::StrCat("unknown node ", end.node));
        continue;
      }
      Node* node = found->second;
      Interface* iface = nullptr;
      for (Interface& i : *node->mutable_interfaces()) {
        if (i.name() == end.interface) iface = &i;
      }
      if (iface == nullptr) {
        iface = node->add_interfaces();
        iface->set_name(end.interface);
        *iface->mutable_source() = end.source;
      }
      const std::string name = EndpointName(end.node, end.interface);
      if (IsSpecialEnd(*iface)) {
        Error(end.source.line(), end.object,
              absl::StrCat("duplicate interface ", name, ": already the end "
                           "of a host, dummy or vxlan link at ",
                           SourceText(iface->source())));
        continue;
      }
      if (end.mgmt && end.host_end.addresses_size() > 0) {
        Error(end.source.line(), end.object,
              "the mgmt-net end is a port of the management bridge: it "
              "takes no address (the bridge has the gateway's)");
        continue;
      }
      if (end.vxlan.has_value()) {
        *iface->mutable_vxlan() = *end.vxlan;
      } else if (end.dummy) {
        iface->set_dummy(true);
      } else {
        *iface->mutable_host_end() = end.host_end;
        iface->set_mgmt(end.mgmt);
      }
      for (const InterfaceSetting& s : end.settings) {
        if (s.what == "mtu") {
          uint32_t mtu = 0;
          if (!absl::SimpleAtoi(s.value, &mtu)) continue;  // we wrote it
          if (iface->mtu() == 0) {
            iface->set_mtu(mtu);
          } else if (iface->mtu() != mtu) {
            Error(s.line, end.object,
                  absl::StrCat("mtu ", mtu, " conflicts with mtu ",
                               iface->mtu(), " of interface ", name, " at ",
                               SourceText(iface->source())));
          }
        } else if (s.what == "address") {
          if (std::find(iface->addresses().begin(), iface->addresses().end(),
                        s.value) == iface->addresses().end()) {
            iface->add_addresses(s.value);
          }
        } else if (iface->mac().empty()) {
          iface->set_mac(s.value);
        } else if (!absl::EqualsIgnoreCase(iface->mac(), s.value)) {
          Error(s.line, end.object,
                absl::StrCat("mac ", s.value, " conflicts with mac ",
                             iface->mac(), " of interface ", name, " at ",
                             SourceText(iface->source())));
        }
      }
    }
  }

  // ---- community (docs/community.md) ----

  // "community:alice/ix1" (or "community:ix1") unless the file has a node
  // named community.
  bool IsCommunityEndpoint(const emu::v1::Endpoint& e) const {
    return e.node() == kCommunityEndpoint &&
           node_lines_.count(std::string(kCommunityEndpoint)) == 0;
  }

  // A link with a community end becomes Topology.attachments: the other
  // end is this lab's, both directions' conditions are this lab's.
  void AddAttachment(const Link& link, absl::string_view object,
                     Topology* topology) {
    const bool a_remote = IsCommunityEndpoint(link.a());
    if (a_remote && IsCommunityEndpoint(link.b())) {
      Error(link.source().line(), object,
            "both ends are community endpoints: an attachment joins a node "
            "of this lab to a community endpoint");
      return;
    }
    emu::v1::Attachment* at = topology->add_attachments();
    *at->mutable_local() = a_remote ? link.b() : link.a();
    at->set_endpoint(a_remote ? link.a().interface() : link.b().interface());
    *at->mutable_to_community() = a_remote ? link.b_to_a() : link.a_to_b();
    *at->mutable_from_community() = a_remote ? link.a_to_b() : link.b_to_a();
    *at->mutable_source() = link.source();
  }

  // community: {export: [{name: ix1, segment: sw1 | interface: r1:eth9,
  //                      to: [bob, carol] | all}]}
  void ReadCommunity(const Entry& entry, emu::v1::Community* out) {
    if (entry.value.IsNull() || !Map(entry, "community")) return;
    for (const Entry& e :
         Entries(entry.value, "community", kCommunityKeys, kNone)) {
      if (e.value.IsNull() || !Sequence(e, "community")) continue;
      int index = 0;
      for (const YamlNode item : e.value) {
        ++index;
        const std::string object = absl::StrCat("community export #", index);
        if (!item.IsMap()) {
          Error(item, object,
                "expected a map: {name: ix1, segment: sw1, to: [bob]}");
          continue;
        }
        emu::v1::Export ex;
        *ex.mutable_source() = Source(item);
        for (const Entry& f : Entries(item, object, kExportKeys, kNone)) {
          if (f.key == "to") {
            if (f.value.IsScalar()) {  // to: all
              ex.add_to(std::string(f.value.Scalar()));
              continue;
            }
            if (!Sequence(f, object)) continue;
            for (const YamlNode who : f.value) {
              if (!who.IsScalar()) {
                Error(who, object, "to: expected user names or all");
                continue;
              }
              ex.add_to(std::string(who.Scalar()));
            }
            continue;
          }
          std::string v;
          if (!Scalar(f, object, &v)) continue;
          if (f.key == "name") ex.set_name(v);
          if (f.key == "segment") ex.set_segment(v);
          if (f.key == "interface") {
            // A free interface, NODE:IFACE (community/exports.h).
            const size_t colon = v.find(':');
            if (colon == std::string::npos || colon == 0 ||
                colon + 1 == v.size() ||
                v.find(':', colon + 1) != std::string::npos) {
              Error(f.value, object,
                    absl::StrCat("interface \"", v,
                                 "\": expected NODE:IFACE"));
              continue;
            }
            ex.mutable_interface()->set_node(v.substr(0, colon));
            ex.mutable_interface()->set_interface(v.substr(colon + 1));
          }
        }
        if (ex.name().empty()) {
          Error(item, object, "missing required key 'name'");
          continue;
        }
        if (ex.segment().empty() == !ex.has_interface()) {
          Error(item, object,
                "give exactly one of 'segment' (a switch, hub or bridge) and "
                "'interface' (a free NODE:IFACE)");
          continue;
        }
        *out->add_exports() = std::move(ex);
      }
    }
  }

  // placement: {strategy: spread|pack, tolerance: 10%, overcommit: false}
  // (docs/cluster.md).
  void ReadPlacement(const Entry& entry, emu::v1::PlacementOptions* out) {
    if (entry.value.IsNull() || !Map(entry, "placement")) return;
    for (const Entry& e :
         Entries(entry.value, "placement", kPlacementKeys, {})) {
      std::string text;
      if (!Scalar(e, "placement", &text)) continue;
      if (e.key == "strategy") {
        if (text == "spread") {
          out->set_strategy(emu::v1::PlacementOptions::SPREAD);
        } else if (text == "pack") {
          out->set_strategy(emu::v1::PlacementOptions::PACK);
        } else {
          Error(e, "placement",
                absl::StrCat("strategy: \"", text,
                             "\" is not a strategy: use spread or pack"));
        }
      } else if (e.key == "tolerance") {
        absl::StatusOr<double> v = linkemu::ParsePercent(text);
        if (v.ok()) {
          out->set_tolerance_percent(*v);
        } else {
          Error(e, "placement",
                absl::StrCat("tolerance: ", v.status().message()));
        }
      } else if (e.key == "overcommit") {
        if (text == "true" || text == "false") {
          out->set_overcommit(text == "true");
        } else {
          Error(e, "placement",
                absl::StrCat("overcommit: \"", text,
                             "\" is not true or false"));
        }
      }
    }
  }

  // Sets one link condition from its text (linkemu/link_param_text.h, the
  // table emuctl link set uses too), reporting a bad value.
  void ApplyParam(const Entry& e, absl::string_view object, LinkParams* p) {
    if (e.key == "gilbert-elliott" && e.value.IsMap()) {
      ReadGilbertElliott(e, object, p);
      return;
    }
    std::string text;
    if (!Scalar(e, object, &text)) return;
    absl::StatusOr<std::string> set =
        linkemu::SetLinkParamFromText(e.key, text, p);
    if (!set.ok()) {
      Error(e, object, absl::StrCat(e.key, ": ", set.status().message()));
    }
  }

  // gilbert-elliott: {p: 1%, r: 25%, loss-bad: 100%, loss-good: 0%} (tc's
  // "loss gemodel p r 1-h 1-k"; loss-bad defaults to 100%, the rest to 0%,
  // r to 100%).
  void ReadGilbertElliott(const Entry& entry, absl::string_view object,
                          LinkParams* p) {
    if (!Map(entry, object)) return;
    const std::string ge_object = absl::StrCat(object, ": gilbert-elliott");
    emu::v1::GilbertElliottParams ge;
    ge.set_r_percent(100);
    ge.set_loss_in_bad_percent(100);
    for (const Entry& e :
         Entries(entry.value, ge_object, kGilbertElliottKeys, kNone)) {
      std::string text;
      if (!Scalar(e, ge_object, &text)) continue;
      absl::StatusOr<double> v = linkemu::ParsePercent(text);
      if (!v.ok()) {
        Error(e, ge_object, absl::StrCat(e.key, ": ", v.status().message()));
        continue;
      }
      if (e.key == "p") ge.set_p_percent(*v);
      if (e.key == "r") ge.set_r_percent(*v);
      if (e.key == "loss-bad") ge.set_loss_in_bad_percent(*v);
      if (e.key == "loss-good") ge.set_loss_in_good_percent(*v);
    }
    *p->mutable_gilbert_elliott() = ge;
  }

  // Applies link-level mtu and endpoint macs to the (possibly implicit)
  // interfaces; a conflict with a declared value is an error.
  void ApplyInterfaceSettings(Topology* topology) {
    if (interface_settings_.empty()) return;  // no map of every node
    absl::flat_hash_map<absl::string_view, Node*> nodes;
    nodes.reserve(topology->nodes_size());
    for (Node& node : *topology->mutable_nodes()) {
      nodes.emplace(node.name(), &node);
    }
    for (const InterfaceSetting& s : interface_settings_) {
      const Link& link = topology->links(s.link_index);
      const emu::v1::Endpoint& ep = s.a_side ? link.a() : link.b();
      auto found = nodes.find(ep.node());
      if (found == nodes.end()) continue;  // the validator names the node
      for (Interface& iface : *found->second->mutable_interfaces()) {
        if (iface.name() != ep.interface()) continue;
        const std::string object = absl::StrCat("link ", LinkName(link));
        if (s.what == "mtu") {
          uint32_t mtu = 0;
          if (!absl::SimpleAtoi(s.value, &mtu)) {  // ReadLink wrote it
            Error(s.line, object,
                  absl::StrCat("mtu \"", s.value, "\" is not a number"));
            continue;
          }
          if (iface.mtu() == 0) {
            iface.set_mtu(mtu);
          } else if (iface.mtu() != mtu) {
            Error(s.line, object,
                  absl::StrCat("mtu ", mtu, " conflicts with mtu ", iface.mtu(),
                               " of interface ", EndpointName(ep), " at ",
                               SourceText(iface.source())));
          }
        } else if (s.what == "address") {
          // The same address on the interface and the link is one address.
          if (std::find(iface.addresses().begin(), iface.addresses().end(),
                        s.value) == iface.addresses().end()) {
            iface.add_addresses(s.value);
          }
        } else if (iface.mac().empty()) {
          iface.set_mac(s.value);
        } else if (!absl::EqualsIgnoreCase(iface.mac(), s.value)) {
          Error(s.line, object,
                absl::StrCat("mac ", s.value, " conflicts with mac ",
                             iface.mac(), " of interface ", EndpointName(ep),
                             " at ", SourceText(iface.source())));
        }
      }
    }
  }

  const std::string file_;
  YamlTree* const tree_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
  Template defaults_;
  std::map<std::string, Template> kinds_;
  std::map<std::string, Template> groups_;
  bool merge_depth_reported_ = false;
  std::set<int> reported_kind_lines_;
  absl::flat_hash_map<std::string, int> node_lines_;
  std::set<int> warned_image_lines_;
  std::vector<InterfaceSetting> interface_settings_;
  std::vector<SpecialEnd> special_ends_;
  // containerlab bridges inside a node, by their node name "NAME|NODE".
  std::map<std::string, InNodeBridge> in_node_bridges_;
  // Line of each netns node's `network-mode: container:NODE`.
  absl::flat_hash_map<std::string, int> shared_netns_lines_;
  // The management network: `mgmt:` as written, each node's mgmt-ipv4/6,
  // and the nodes containerlab keeps off it (network-mode host or none).
  bool mgmt_section_ = false;
  MgmtSettings mgmt_;
  std::map<std::string, MgmtNodeAsk> node_mgmt_;
  std::set<std::string> no_mgmt_nodes_;
};

// ---- protobuf text format -------------------------------------------------

class TextErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit TextErrorCollector(absl::string_view file) : file_(file) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_.push_back(absl::StrCat(file_, ":", line + 1, ":", column + 1,
                                   ": malformed textproto: ", message));
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    warnings_.push_back(
        absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message));
  }
  std::vector<std::string>& errors() { return errors_; }
  std::vector<std::string>& warnings() { return warnings_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

using ParseInfoTree = google::protobuf::TextFormat::ParseInfoTree;

// Sets `source` from where the parser saw the message, unless the file
// spelled a source out itself.
void SetSource(const ParseInfoTree* tree, const google::protobuf::Message& parent,
               const char* field_name, int index, absl::string_view file,
               SourceRef* source) {
  if (!source->file().empty() || source->line() != 0) return;
  const google::protobuf::FieldDescriptor* field =
      parent.GetDescriptor()->FindFieldByName(field_name);
  google::protobuf::TextFormat::ParseLocation loc =
      tree->GetLocation(field, index);
  source->set_file(std::string(file));
  source->set_line(loc.line >= 0 ? loc.line + 1 : 0);
}

const ParseInfoTree* Nested(const ParseInfoTree* tree,
                            const google::protobuf::Message& parent,
                            const char* field_name, int index) {
  return const_cast<ParseInfoTree*>(tree)->GetTreeForNested(
      parent.GetDescriptor()->FindFieldByName(field_name), index);
}

// "FILE:LINE: <object>: ..." for every `source` the file sets itself.
std::vector<std::string> ForgedSources(const ParseInfoTree* tree,
                                       const Topology& t,
                                       absl::string_view file) {
  std::vector<std::string> out;
  auto refuse = [&](const ParseInfoTree* at,
                    const google::protobuf::Message& parent,
                    const char* field_name, int index,
                    absl::string_view object) {
    int line = 0;
    if (at != nullptr) {
      line = at->GetLocation(
                   parent.GetDescriptor()->FindFieldByName(field_name), index)
                 .line +
             1;
    }
    out.push_back(absl::StrCat(file, ":", line, ": ", object,
                               ": 'source' is set by the parser, not by the "
                               "file; remove it"));
  };
  if (t.has_source()) refuse(tree, t, "source", -1, "lab");
  for (int i = 0; i < t.nodes_size(); ++i) {
    const Node& node = t.nodes(i);
    const ParseInfoTree* node_tree = Nested(tree, t, "nodes", i);
    const std::string object = absl::StrCat("node ", node.name());
    if (node.has_source()) refuse(node_tree, node, "source", -1, object);
    for (int j = 0; j < node.interfaces_size(); ++j) {
      if (!node.interfaces(j).has_source()) continue;
      refuse(
          node_tree == nullptr ? nullptr
                               : Nested(node_tree, node, "interfaces", j),
          node.interfaces(j), "source", -1,
          absl::StrCat("interface ",
                       EndpointName(node.name(), node.interfaces(j).name())));
    }
    for (int j = 0; j < node.routes_size(); ++j) {
      if (!node.routes(j).has_source()) continue;
      refuse(
          node_tree == nullptr ? nullptr : Nested(node_tree, node, "routes", j),
          node.routes(j), "source", -1, absl::StrCat(object, ": route"));
    }
  }
  for (int i = 0; i < t.links_size(); ++i) {
    if (!t.links(i).has_source()) continue;
    refuse(Nested(tree, t, "links", i), t.links(i), "source", -1,
           absl::StrCat("link ", LinkName(t.links(i))));
  }
  return out;
}

absl::StatusOr<ParsedTopology> ParseTextproto(absl::string_view content,
                                              absl::string_view file) {
  ParsedTopology out;
  TextErrorCollector collector(file);
  ParseInfoTree tree;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(content), &out.topology)) {
    if (collector.errors().empty()) {
      collector.errors().push_back(
          absl::StrCat(file, ": malformed textproto"));
    }
    return absl::InvalidArgumentError(absl::StrJoin(collector.errors(), "\n"));
  }
  Topology& t = out.topology;
  // Only the parser says where an object was written: a `source` spelled
  // out in the file would make every later message point elsewhere.
  std::vector<std::string> forged = ForgedSources(&tree, t, file);
  if (!forged.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(forged, "\n"));
  }
  t.mutable_source()->set_file(std::string(file));
  t.mutable_source()->set_line(1);
  for (int i = 0; i < t.nodes_size(); ++i) {
    Node* node = t.mutable_nodes(i);
    SetSource(&tree, t, "nodes", i, file, node->mutable_source());
    const ParseInfoTree* node_tree = Nested(&tree, t, "nodes", i);
    if (node_tree == nullptr) continue;
    for (int j = 0; j < node->interfaces_size(); ++j) {
      SetSource(node_tree, *node, "interfaces", j, file,
                node->mutable_interfaces(j)->mutable_source());
    }
    for (int j = 0; j < node->routes_size(); ++j) {
      SetSource(node_tree, *node, "routes", j, file,
                node->mutable_routes(j)->mutable_source());
    }
  }
  for (int i = 0; i < t.links_size(); ++i) {
    SetSource(&tree, t, "links", i, file, t.mutable_links(i)->mutable_source());
  }
  NormalizeTopology(&t);
  out.warnings = std::move(collector.warnings());
  return out;
}

bool IsTextprotoName(absl::string_view file_name) {
  return absl::EndsWith(file_name, ".textproto") ||
         absl::EndsWith(file_name, ".txtpb") ||
         absl::EndsWith(file_name, ".pbtxt");
}

}  // namespace

void NormalizeTopology(Topology* topology) {
  absl::flat_hash_map<absl::string_view, int> index;
  index.reserve(topology->nodes_size());
  for (int i = 0; i < topology->nodes_size(); ++i) {
    Node& node = *topology->mutable_nodes(i);
    if (node.kind() == emu::v1::NODE_KIND_UNSPECIFIED) {
      node.set_kind(emu::v1::NODE_KIND_NETNS);
    }
    index.emplace(node.name(), i);  // the first one wins, as in lookups
  }
  // The link ends (then the attachments'), grouped by node and in their
  // order within a node: each node's interfaces are looked at while they
  // are in cache, not once per end scattered over the whole topology,
  // which was more than half of parsing 200k links (issue 14).
  struct End {
    const emu::v1::Endpoint* endpoint;
    const SourceRef* source;
  };
  std::vector<std::pair<int, End>> found;
  found.reserve(2 * static_cast<size_t>(topology->links_size()) +
                topology->attachments_size());
  auto find = [&](const emu::v1::Endpoint& ep, const SourceRef& source) {
    auto it = index.find(ep.node());
    if (it == index.end() || ep.interface().empty()) return;
    found.push_back({it->second, End{&ep, &source}});
  };
  for (const Link& link : topology->links()) {
    find(link.a(), link.source());
    find(link.b(), link.source());
  }
  for (const emu::v1::Attachment& at : topology->attachments()) {
    find(at.local(), at.source());
  }
  // A counting sort by node: stable.
  std::vector<size_t> first(topology->nodes_size() + 1, 0);
  for (const auto& [node, end] : found) ++first[node + 1];
  for (int i = 0; i < topology->nodes_size(); ++i) first[i + 1] += first[i];
  std::vector<End> ends(found.size());
  {
    std::vector<size_t> next(first.begin(), first.end() - 1);
    for (const auto& [node, end] : found) ends[next[node]++] = end;
  }
  // A node with many interfaces (a hub, a spine switch) gets a set of their
  // names: scanning its list per link end was quadratic in its degree
  // (a 100k-link star: 5e9 comparisons). The views are of the Interface
  // messages' own names, which do not move while the list grows.
  constexpr int kScanInterfaces = 8;
  absl::flat_hash_set<absl::string_view> names;
  for (int n = 0; n < topology->nodes_size(); ++n) {
    if (first[n] == first[n + 1]) continue;
    Node* node = topology->mutable_nodes(n);
    names.clear();
    bool many = false;
    for (size_t e = first[n]; e < first[n + 1]; ++e) {
      const std::string& name = ends[e].endpoint->interface();
      if (!many && node->interfaces_size() > kScanInterfaces) {
        many = true;
        for (const Interface& i : node->interfaces()) names.insert(i.name());
      }
      if (many ? names.contains(name)
               : std::any_of(node->interfaces().begin(),
                             node->interfaces().end(),
                             [&](const Interface& i) {
                               return i.name() == name;
                             })) {
        continue;
      }
      Interface* iface = node->add_interfaces();
      iface->set_name(name);
      *iface->mutable_source() = *ends[e].source;
      if (many) names.insert(iface->name());
    }
  }
}

namespace {

// `status` with `warnings` attached as kWarningsPayload (none: unchanged).
absl::Status WithWarnings(absl::Status status,
                          const std::vector<std::string>& warnings) {
  if (!warnings.empty() && !status.ok()) {
    status.SetPayload(kWarningsPayload,
                      absl::Cord(absl::StrJoin(warnings, "\n")));
  }
  return status;
}

absl::StatusOr<ParsedTopology> ParseYaml(absl::string_view raw,
                                         absl::string_view file_name,
                                         const ParseOptions& options) {
  // Variables first, as containerlab does: they may stand for any text.
  absl::StatusOr<SubstitutedText> substituted =
      SubstituteEnv(raw, file_name, options.env);
  if (!substituted.ok()) return substituted.status();
  const std::string& content = substituted->text;
  std::vector<std::string> warnings = std::move(substituted->warnings);
  // Bounds first: the text's flow nesting, then every bound on the
  // parser's events while the tree is built (yaml_tree.h).
  if (absl::Status nesting = CheckFlowNesting(content, file_name);
      !nesting.ok()) {
    return WithWarnings(nesting, warnings);
  }
  absl::StatusOr<std::unique_ptr<YamlTree>> tree =
      ParseYamlTree(content, file_name);
  if (!tree.ok()) return WithWarnings(tree.status(), warnings);
  ParsedTopology out;
  YamlReader reader(file_name, tree->get());
  reader.Read(&out.topology);
  warnings.insert(warnings.end(), reader.warnings().begin(),
                  reader.warnings().end());
  if (!reader.errors().empty()) {
    return WithWarnings(
        absl::InvalidArgumentError(absl::StrJoin(reader.errors(), "\n")),
        warnings);
  }
  out.warnings = std::move(warnings);
  return out;
}

}  // namespace

absl::StatusOr<ParsedTopology> ParseTopology(absl::string_view content,
                                             absl::string_view file_name,
                                             const ParseOptions& options) {
  if (content.size() > kMaxTopologyFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_name, ": the file is ", content.size(), " bytes, more than ",
        kMaxTopologyFileBytes, "; the limit is kMaxTopologyFileBytes"));
  }
  if (IsTextprotoName(file_name)) return ParseTextproto(content, file_name);
  return ParseYaml(content, file_name, options);
}

absl::StatusOr<ParsedTopology> ParseAndValidateTopology(
    absl::string_view content, absl::string_view file_name,
    const ParseOptions& options) {
  absl::StatusOr<ParsedTopology> parsed =
      ParseTopology(content, file_name, options);
  if (!parsed.ok()) return parsed.status();
  absl::Status valid = ValidateTopology(parsed->topology, &parsed->warnings);
  if (!valid.ok()) return WithWarnings(valid, parsed->warnings);
  return parsed;
}

std::vector<std::string> WarningsOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kWarningsPayload);
  if (!payload.has_value()) return {};
  return absl::StrSplit(std::string(*payload), '\n', absl::SkipEmpty());
}

}  // namespace emu::controller::topology
