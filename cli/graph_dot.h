// A lab as a Graphviz graph (DOT text) for `emuctl graph`: one box per node
// coloured by its host (and grouped in a cluster per host), segments as
// ellipses, guests as 3-D boxes, community anchors as double octagons; one
// edge per link labelled with its conditions (one line per direction when
// they differ) and its interfaces at its ends; links between hosts drawn
// bold and dashed (they are tunnels). containerlab's special ends are drawn
// too, dotted: a host link goes to a house standing for its host's root
// namespace (labelled with the host end's name), a dummy to a "dummy"
// label; a bridge inside a node (Interface.bridge) is an ellipse beside
// it, and links to its ports are drawn to it. Pure function of its input.
#ifndef EMU_CLI_GRAPH_DOT_H_
#define EMU_CLI_GRAPH_DOT_H_

#include <string>

#include "proto/controller.pb.h"

namespace emu::cli {

// "dot" (layered, the default up to kLargeGraphNodes nodes), "sfdp" (large
// graphs), or any layout engine Graphviz knows ("neato", "fdp", "circo").
inline constexpr int kLargeGraphNodes = 150;
std::string DefaultLayout(int nodes);

// The lab's topology; hosts from its node status when it has any (a
// deployed lab), else from the nodes' `host:` pins (a file).
std::string LabToDot(const v1::Lab& lab);

// The conditions of one direction as a short label ("10Mbit/s 5ms±1ms 1%");
// "" when the direction is unshaped.
std::string ConditionsLabel(const v1::LinkParams& p);

}  // namespace emu::cli

#endif  // EMU_CLI_GRAPH_DOT_H_
