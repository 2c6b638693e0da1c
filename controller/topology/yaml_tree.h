// A YAML document read into a compact tree: what the topology parser walks.
//
// Why not yaml-cpp's YAML::Load: for a 100k-node / 200k-link file (14 MB)
// it took 13 s and 780 MB, and its event parser alone 5 s (bench:
// topology_bench). libyaml (Debian's libyaml-dev, C) emits the same events
// in well under a second; this file builds one flat array of nodes from
// them (20 bytes a value, and every scalar's text in one buffer: a string
// per scalar cost an allocation each), checking the bounds of
// topology_limits.h on every event, before anything is built past them.
//
// The handle, YamlNode, reads like yaml-cpp's YAML::Node (IsMap, Scalar,
// operator[], iteration with it->first / it->second over maps, items over
// sequences) so the reader's code stays what it was. An alias is the node
// its anchor names (a DAG, as yaml-cpp builds it).
//
// Thread-safety: a YamlTree is immutable after ParseYamlTree except for
// ReplaceMap; handles are valid while their tree lives (it does not move:
// ParseYamlTree returns it on the heap).
#ifndef EMU_CONTROLLER_TOPOLOGY_YAML_TREE_H_
#define EMU_CONTROLLER_TOPOLOGY_YAML_TREE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::controller::topology {

class YamlTree;
class YamlIterator;

class YamlNode {
 public:
  YamlNode() = default;  // undefined: a lookup that found nothing

  bool IsDefined() const { return tree_ != nullptr; }
  bool IsNull() const;
  bool IsScalar() const;
  bool IsSequence() const;
  bool IsMap() const;
  // The text of a scalar ("" for anything else); valid while the tree
  // lives.
  absl::string_view Scalar() const;
  // True for a plain scalar without a tag (a "<<" written so is a merge
  // key; a quoted one is text).
  bool IsPlain() const;
  // 1-based line where the value starts; 0 when undefined.
  int Line() const;
  // Items of a sequence, pairs of a map, else 0.
  size_t size() const;
  // Item i of a sequence (undefined when out of range or not a sequence).
  YamlNode operator[](int i) const;
  // The value of the first pair whose key is the scalar `key` (undefined
  // when there is none or this is not a map).
  YamlNode operator[](absl::string_view key) const;

  // Over a sequence: its items; over a map: (key, value) pairs.
  YamlIterator begin() const;
  YamlIterator end() const;

  bool operator==(const YamlNode& o) const {
    return tree_ == o.tree_ && index_ == o.index_;
  }

 private:
  friend class YamlTree;
  friend class YamlIterator;
  YamlNode(const YamlTree* tree, uint32_t index) : tree_(tree), index_(index) {}

  const YamlTree* tree_ = nullptr;
  uint32_t index_ = 0;
};

// What iterating yields: the item (as a YamlNode) over a sequence, the pair
// (first = key, second = value) over a map, as yaml-cpp's iterator_value.
struct YamlIteratorValue : public YamlNode, public std::pair<YamlNode, YamlNode> {
  YamlIteratorValue() = default;
  explicit YamlIteratorValue(YamlNode item) : YamlNode(item) {}
  YamlIteratorValue(YamlNode key, YamlNode value)
      : std::pair<YamlNode, YamlNode>(key, value) {}
};

class YamlIterator {
 public:
  YamlIterator(const YamlTree* tree, uint32_t index, uint32_t position)
      : tree_(tree), index_(index), position_(position) {}
  YamlIteratorValue operator*() const;
  const YamlIteratorValue* operator->() const {
    value_ = **this;
    return &value_;
  }
  YamlIterator& operator++() {
    ++position_;
    return *this;
  }
  bool operator==(const YamlIterator& o) const {
    return position_ == o.position_ && index_ == o.index_ && tree_ == o.tree_;
  }
  bool operator!=(const YamlIterator& o) const { return !(*this == o); }

 private:
  const YamlTree* tree_;
  uint32_t index_;
  uint32_t position_;
  mutable YamlIteratorValue value_;
};

class YamlTree {
 public:
  YamlTree() = default;
  YamlTree(const YamlTree&) = delete;
  YamlTree& operator=(const YamlTree&) = delete;

  // The document's root; a null node for an empty file.
  YamlNode root() const { return YamlNode(this, root_); }

  // Gives `map` the pairs `pairs` instead of its own (merge keys expanded).
  // Every handle to `map`, and every alias of it, sees the new pairs.
  void ReplaceMap(YamlNode map,
                  const std::vector<std::pair<YamlNode, YamlNode>>& pairs);

 private:
  friend class YamlNode;
  friend class YamlIterator;
  friend class YamlTreeBuilder;
  enum class Type : uint8_t { kNull, kScalar, kSequence, kMap };
  struct Data {
    Type type = Type::kNull;
    bool plain = false;
    int32_t line = 0;   // 1-based
    // Sequences and maps: the first child in children_ and how many (a map
    // has two per pair: key, value). Scalars: the text's offset in text_
    // and its size.
    uint32_t first = 0;
    uint32_t count = 0;
  };
  const Data& data(uint32_t i) const { return nodes_[i]; }

  std::vector<Data> nodes_;
  std::vector<uint32_t> children_;
  std::string text_;  // every scalar's text, one after the other
  uint32_t root_ = 0;
};

// Reads `content` (one YAML document; JSON is YAML) into a tree. Errors are
// INVALID_ARGUMENT "FILE:LINE:COL: malformed YAML: <what>", or, for the
// bounds of topology_limits.h (values and text an alias expands to,
// nesting, a second document, an alias cycle), "FILE:LINE: <cause>; the
// limit is kMaxX" at the first event past the bound.
absl::StatusOr<std::unique_ptr<YamlTree>> ParseYamlTree(
    absl::string_view content, absl::string_view file);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_YAML_TREE_H_
