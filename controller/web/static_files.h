// The web view's stylesheet and script (controller/web/static/), compiled
// into the binary by a genrule: nothing to install or build at install time.
#ifndef EMU_CONTROLLER_WEB_STATIC_FILES_H_
#define EMU_CONTROLLER_WEB_STATIC_FILES_H_

namespace emu::controller::web {

extern const char kStyleCss[];
extern const char kAppJs[];

}  // namespace emu::controller::web

#endif  // EMU_CONTROLLER_WEB_STATIC_FILES_H_
