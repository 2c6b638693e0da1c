#include "controller/web/graph_svg.h"

#include "absl/strings/str_cat.h"

namespace emu::controller::web {

absl::StatusOr<std::string> InlineSvg(const std::string& document) {
  const size_t start = document.find("<svg");
  const size_t end = document.rfind("</svg>");
  if (start == std::string::npos || end == std::string::npos || end < start) {
    return absl::InternalError("Graphviz wrote no <svg> element");
  }
  return document.substr(start, end + 6 - start);
}

absl::StatusOr<std::string> GraphvizSvgRenderer::Svg(
    const std::string& dot, const std::string& layout) {
  const std::string key = absl::StrCat(layout, "\n", dot);
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  ProcessSpec spec;
  spec.argv = {"dot", "-Tsvg", absl::StrCat("-K", layout)};
  spec.stdin_data = dot;
  spec.timeout = absl::Seconds(10);
  spec.max_output_bytes = 8 << 20;
  absl::StatusOr<ProcessResult> drawn = launcher_->Run(spec);
  if (!drawn.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "drawing the graph needs Graphviz's `dot` on the controller's PATH "
        "(Debian: apt install graphviz): ",
        drawn.status().message()));
  }
  if (drawn->exit_code != 0) {
    return absl::InternalError(absl::StrCat("dot -Tsvg -K", layout,
                                            " exited with ", drawn->exit_code,
                                            ": ", drawn->stderr_data));
  }
  absl::StatusOr<std::string> svg = InlineSvg(drawn->stdout_data);
  if (!svg.ok()) return svg;
  absl::MutexLock lock(&mu_);
  if (cache_.emplace(key, *svg).second) {
    order_.push_back(key);
    if (order_.size() > cache_entries_) {
      cache_.erase(order_.front());
      order_.pop_front();
    }
  }
  return svg;
}

}  // namespace emu::controller::web
