// A lab's picture for the web view: the DOT text of cli/graph_dot.h (the
// same picture as `emuctl graph`) drawn to SVG by Graphviz's `dot` on the
// controller. Server-side because Graphviz is already a dependency of emu
// (deploy/setup.sh), the browser then needs no layout code (nothing to
// vendor or build with npm), and the page shows the graph without
// JavaScript. Results are cached by the DOT text: a page reload of an
// unchanged lab runs no process.
#ifndef EMU_CONTROLLER_WEB_GRAPH_SVG_H_
#define EMU_CONTROLLER_WEB_GRAPH_SVG_H_

#include <deque>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/process_launcher.h"

namespace emu::controller::web {

// DOT text to an <svg> element (no XML prolog, ready to inline in HTML).
// Thread-safe.
class SvgRenderer {
 public:
  virtual ~SvgRenderer() = default;
  virtual absl::StatusOr<std::string> Svg(const std::string& dot,
                                          const std::string& layout) = 0;
};

// Runs `dot -Tsvg -KLAYOUT` (10 s limit). Borrows the launcher.
class GraphvizSvgRenderer : public SvgRenderer {
 public:
  explicit GraphvizSvgRenderer(ProcessLauncher* launcher,
                               size_t cache_entries = 32)
      : launcher_(launcher), cache_entries_(cache_entries) {}
  absl::StatusOr<std::string> Svg(const std::string& dot,
                                  const std::string& layout) override;

 private:
  ProcessLauncher* const launcher_;
  const size_t cache_entries_;
  absl::Mutex mu_;
  std::map<std::string, std::string> cache_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // oldest first
};

// The <svg ...>...</svg> part of Graphviz's output; INTERNAL when none.
absl::StatusOr<std::string> InlineSvg(const std::string& document);

}  // namespace emu::controller::web

#endif  // EMU_CONTROLLER_WEB_GRAPH_SVG_H_
