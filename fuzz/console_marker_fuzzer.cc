// Fuzzes the console marker parser (agent/guest/console_session.h,
// MarkerParser) with console output arriving in pieces, as a guest's serial
// console delivers it. The nonce is fixed; the input's first byte picks the
// piece size.
//
// Checks beyond "no crash": feeding in pieces gives the same outcome, exit
// status, stdout and stderr as feeding all at once; a finished command's
// output is found between the markers of its own nonce only; partial
// output is never longer than what was fed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "agent/guest/console_session.h"

namespace {

using emu::agent::guest::MarkerParser;
using emu::agent::guest::ShellResult;

constexpr char kNonce[] = "0123456789abcdef";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "console_marker_fuzzer: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t piece = 1 + data[0] % 32;
  absl::string_view console(reinterpret_cast<const char*>(data) + 1, size - 1);

  MarkerParser whole(kNonce);
  bool whole_done = whole.Feed(console);
  Check(whole_done == whole.done(), "Feed and done() disagree");
  Check(whole.partial_stdout().size() <= console.size(),
        "partial output longer than the input");

  MarkerParser pieces(kNonce);
  for (size_t pos = 0; pos < console.size(); pos += piece) {
    pieces.Feed(console.substr(pos, piece));
  }
  Check(pieces.done() == whole_done, "pieces change whether it finished");
  if (!whole_done) {
    Check(pieces.partial_stdout() == whole.partial_stdout(),
          "pieces change the partial output");
    return 0;
  }
  ShellResult a = whole.result();
  ShellResult b = pieces.result();
  Check(a.exit_code == b.exit_code, "pieces change the exit status");
  Check(a.stdout_data == b.stdout_data, "pieces change stdout");
  Check(a.stderr_data == b.stderr_data, "pieces change stderr");
  Check(a.exit_code >= 0, "a negative exit status");
  // '\r' is dropped from console output before markers are looked for
  // (the tty's "\r\n"), wherever it is.
  std::string without_cr(console);
  without_cr.erase(std::remove(without_cr.begin(), without_cr.end(), '\r'),
                   without_cr.end());
  Check(absl::StrContains(without_cr, "__EMU_0123456789abcdef_S__"),
        "finished without its start marker");
  return 0;
}
