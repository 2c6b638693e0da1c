#include "controller/topology/yaml_tree.h"

#include <yaml.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/topology/topology_limits.h"

namespace emu::controller::topology {

bool YamlNode::IsNull() const {
  return tree_ != nullptr && tree_->data(index_).type == YamlTree::Type::kNull;
}
bool YamlNode::IsScalar() const {
  return tree_ != nullptr &&
         tree_->data(index_).type == YamlTree::Type::kScalar;
}
bool YamlNode::IsSequence() const {
  return tree_ != nullptr &&
         tree_->data(index_).type == YamlTree::Type::kSequence;
}
bool YamlNode::IsMap() const {
  return tree_ != nullptr && tree_->data(index_).type == YamlTree::Type::kMap;
}
absl::string_view YamlNode::Scalar() const {
  if (!IsScalar()) return absl::string_view();
  const YamlTree::Data& d = tree_->data(index_);
  return absl::string_view(tree_->text_.data() + d.first, d.count);
}
bool YamlNode::IsPlain() const {
  return tree_ != nullptr && tree_->data(index_).plain;
}
int YamlNode::Line() const {
  return tree_ == nullptr ? 0 : tree_->data(index_).line;
}
size_t YamlNode::size() const {
  if (IsSequence()) return tree_->data(index_).count;
  if (IsMap()) return tree_->data(index_).count / 2;
  return 0;
}
YamlNode YamlNode::operator[](int i) const {
  if (!IsSequence() || i < 0 || static_cast<size_t>(i) >= size()) return {};
  return YamlNode(tree_, tree_->children_[tree_->data(index_).first + i]);
}
YamlNode YamlNode::operator[](absl::string_view key) const {
  if (!IsMap()) return {};
  const YamlTree::Data& d = tree_->data(index_);
  for (uint32_t i = 0; i < d.count; i += 2) {
    YamlNode k(tree_, tree_->children_[d.first + i]);
    if (k.IsScalar() && k.Scalar() == key) {
      return YamlNode(tree_, tree_->children_[d.first + i + 1]);
    }
  }
  return {};
}
YamlIterator YamlNode::begin() const { return YamlIterator(tree_, index_, 0); }
YamlIterator YamlNode::end() const {
  return YamlIterator(tree_, index_, static_cast<uint32_t>(size()));
}

YamlIteratorValue YamlIterator::operator*() const {
  const YamlTree::Data& d = tree_->data(index_);
  if (d.type == YamlTree::Type::kMap) {
    return YamlIteratorValue(
        YamlNode(tree_, tree_->children_[d.first + 2 * position_]),
        YamlNode(tree_, tree_->children_[d.first + 2 * position_ + 1]));
  }
  return YamlIteratorValue(YamlNode(tree_, tree_->children_[d.first + position_]));
}

void YamlTree::ReplaceMap(
    YamlNode map, const std::vector<std::pair<YamlNode, YamlNode>>& pairs) {
  Data& d = nodes_[map.index_];
  d.first = static_cast<uint32_t>(children_.size());
  d.count = static_cast<uint32_t>(2 * pairs.size());
  for (const auto& [key, value] : pairs) {
    children_.push_back(key.index_);
    children_.push_back(value.index_);
  }
}

// Builds a YamlTree from libyaml's events, counting what the document
// expands to: values and scalar bytes (an alias adds the size of what its
// anchor named, so a billion laughs costs one addition per alias), nesting
// depth, and documents. Stops at the first event beyond a bound of
// topology_limits.h, so a bomb is refused after reading about as much as
// its own size. Also refuses an alias to a list or map that contains it (a
// cycle no reader can walk).
class YamlTreeBuilder {
 public:
  YamlTreeBuilder(absl::string_view file, YamlTree* tree)
      : file_(file), tree_(tree) {}

  absl::Status Build(absl::string_view content) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
      return absl::ResourceExhaustedError("libyaml: out of memory");
    }
    // About one value per 8 bytes of text in a topology file.
    tree_->nodes_.reserve(content.size() / 8);
    tree_->children_.reserve(content.size() / 8);
    // Scalars' text is about the file's size (an alias repeats none).
    tree_->text_.reserve(content.size());
    yaml_parser_set_input_string(
        &parser, reinterpret_cast<const unsigned char*>(content.data()),
        content.size());
    absl::Status status;
    bool done = false;
    while (status.ok() && !done) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser, &event)) {
        status = absl::InvalidArgumentError(absl::StrCat(
            file_, ":", parser.problem_mark.line + 1, ":",
            parser.problem_mark.column + 1, ": malformed YAML: ",
            parser.problem != nullptr ? parser.problem : "cannot parse",
            parser.context != nullptr ? absl::StrCat(" (", parser.context, ")")
                                      : ""));
        break;
      }
      done = event.type == YAML_STREAM_END_EVENT;
      status = Handle(event);
      yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    if (!status.ok()) return status;
    if (!have_root_) {  // an empty file: a null document
      tree_->nodes_.push_back({YamlTree::Type::kNull, true, 1, 0, 0});
      tree_->root_ = static_cast<uint32_t>(tree_->nodes_.size() - 1);
    }
    return absl::OkStatus();
  }

 private:
  struct Size {
    uint64_t values = 0;
    uint64_t bytes = 0;
    bool done = false;  // false while an anchored collection is still open
  };
  struct Anchor {
    uint32_t node = 0;
    Size size;
  };
  struct Frame {
    uint32_t node;
    std::string anchor;  // "" when none
    Size size;
    size_t children_start;  // its children so far: pending_[start..]
  };

  static int Line(const yaml_mark_t& mark) {
    return static_cast<int>(mark.line) + 1;
  }
  absl::Status Refuse(const yaml_mark_t& mark, absl::string_view cause) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_, ":", Line(mark), ": ", cause));
  }
  static std::string AnchorName(const yaml_char_t* anchor) {
    return anchor == nullptr ? "" : reinterpret_cast<const char*>(anchor);
  }

  absl::Status Handle(const yaml_event_t& e) {
    switch (e.type) {
      case YAML_DOCUMENT_START_EVENT:
        if (++documents_ > 1) {
          return Refuse(e.start_mark,
                        "a second YAML document starts here: a topology "
                        "file holds exactly one (remove the '---' and what "
                        "follows, or split the file)");
        }
        return absl::OkStatus();
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(AnchorName(e.data.alias.anchor));
        if (it == anchors_.end()) {
          return absl::InvalidArgumentError(absl::StrCat(
              file_, ":", Line(e.start_mark), ":", e.start_mark.column + 1,
              ": malformed YAML: the alias *", AnchorName(e.data.alias.anchor),
              " names no anchor defined before it"));
        }
        if (!it->second.size.done) {
          return Refuse(e.start_mark,
                        "alias names a list or map that contains the alias "
                        "itself (a cycle)");
        }
        EMU_RETURN_IF_ERROR(Add(e.start_mark, it->second.size));
        AddChild(it->second.node);
        return absl::OkStatus();
      }
      case YAML_SCALAR_EVENT: {
        const auto& s = e.data.scalar;
        const bool plain =
            s.tag == nullptr && s.style == YAML_PLAIN_SCALAR_STYLE;
        const absl::string_view value(reinterpret_cast<const char*>(s.value),
                                      s.length);
        // As yaml-cpp: a plain, untagged null word (or nothing) is null.
        const bool null = plain && (value.empty() || value == "~" ||
                                    value == "null" || value == "Null" ||
                                    value == "NULL");
        YamlTree::Data d;
        d.type = null ? YamlTree::Type::kNull : YamlTree::Type::kScalar;
        d.plain = plain;
        d.line = Line(e.start_mark);
        if (!null) {
          d.first = static_cast<uint32_t>(tree_->text_.size());
          d.count = static_cast<uint32_t>(value.size());
          tree_->text_.append(value.data(), value.size());
        }
        const Size size{1, null ? 0 : value.size(), true};
        EMU_RETURN_IF_ERROR(Add(e.start_mark, size));
        const uint32_t node = NewNode(d);
        Record(AnchorName(s.anchor), node, size);
        AddChild(node);
        return absl::OkStatus();
      }
      case YAML_SEQUENCE_START_EVENT:
        return Open(e.start_mark, YamlTree::Type::kSequence,
                    AnchorName(e.data.sequence_start.anchor));
      case YAML_MAPPING_START_EVENT:
        return Open(e.start_mark, YamlTree::Type::kMap,
                    AnchorName(e.data.mapping_start.anchor));
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        Close();
        return absl::OkStatus();
      default:
        return absl::OkStatus();
    }
  }

  uint32_t NewNode(const YamlTree::Data& d) {
    tree_->nodes_.push_back(d);
    return static_cast<uint32_t>(tree_->nodes_.size() - 1);
  }
  void AddChild(uint32_t node) {
    if (stack_.empty()) {
      tree_->root_ = node;
      have_root_ = true;
    } else {
      pending_.push_back(node);
    }
  }
  void Record(const std::string& anchor, uint32_t node, const Size& size) {
    if (anchor.empty()) return;
    anchors_[anchor] = Anchor{node, size};
  }
  // Counts `size` more expanded content at `mark`. Every Size recorded is
  // at most the running total, which never passes a bound without a
  // refusal, so the sums cannot overflow.
  absl::Status Add(const yaml_mark_t& mark, const Size& size) {
    total_.values += size.values;
    total_.bytes += size.bytes;
    if (total_.values > kMaxYamlValues) {
      return Refuse(mark,
                    absl::StrCat("the file expands to more than ",
                                 kMaxYamlValues,
                                 " YAML values (aliases repeat what their "
                                 "anchor names); the limit is kMaxYamlValues"));
    }
    if (total_.bytes > kMaxYamlScalarBytes) {
      return Refuse(
          mark, absl::StrCat("the file expands to more than ",
                             kMaxYamlScalarBytes,
                             " bytes of text (aliases repeat what their "
                             "anchor names); the limit is kMaxYamlScalarBytes"));
    }
    if (!stack_.empty()) {
      stack_.back().size.values += size.values;
      stack_.back().size.bytes += size.bytes;
    }
    return absl::OkStatus();
  }
  absl::Status Open(const yaml_mark_t& mark, YamlTree::Type type,
                    std::string anchor) {
    if (stack_.size() >= kMaxYamlDepth) {
      return Refuse(mark, absl::StrCat("lists and maps nest deeper than ",
                                       kMaxYamlDepth,
                                       " levels; the limit is kMaxYamlDepth"));
    }
    EMU_RETURN_IF_ERROR(Add(mark, Size{1, 0, true}));
    YamlTree::Data d;
    d.type = type;
    d.line = Line(mark);
    const uint32_t node = NewNode(d);
    Record(anchor, node, Size{});  // open: an alias to it now is a cycle
    stack_.push_back(
        Frame{node, std::move(anchor), Size{1, 0, false}, pending_.size()});
    return absl::OkStatus();
  }
  void Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    YamlTree::Data& d = tree_->nodes_[frame.node];
    d.first = static_cast<uint32_t>(tree_->children_.size());
    d.count = static_cast<uint32_t>(pending_.size() - frame.children_start);
    tree_->children_.insert(tree_->children_.end(),
                            pending_.begin() + frame.children_start,
                            pending_.end());
    pending_.resize(frame.children_start);
    frame.size.done = true;
    Record(frame.anchor, frame.node, frame.size);
    if (!stack_.empty()) {
      stack_.back().size.values += frame.size.values - 1;
      stack_.back().size.bytes += frame.size.bytes;
    }
    AddChild(frame.node);
  }

  const std::string file_;
  YamlTree* tree_;
  int documents_ = 0;
  bool have_root_ = false;
  Size total_;
  std::vector<Frame> stack_;
  // The children of every open collection, innermost last: one vector
  // instead of one per collection.
  std::vector<uint32_t> pending_;
  std::map<std::string, Anchor> anchors_;
};

absl::StatusOr<std::unique_ptr<YamlTree>> ParseYamlTree(
    absl::string_view content, absl::string_view file) {
  auto tree = std::make_unique<YamlTree>();
  YamlTreeBuilder builder(file, tree.get());
  if (absl::Status s = builder.Build(content); !s.ok()) return s;
  return tree;
}

}  // namespace emu::controller::topology
