// Plain-text tables for emuctl's human-readable output: left-aligned columns
// separated by two spaces, a header row, no borders.
#ifndef EMU_CLI_TABLE_H_
#define EMU_CLI_TABLE_H_

#include <string>
#include <vector>

namespace emu::cli {

// Collects rows, then renders them with every column as wide as its widest
// cell. Rows shorter than the header are padded with empty cells; longer rows
// keep their extra cells (unaligned). Widths count bytes, so cells should be
// ASCII. Not thread-safe; a value type.
class Table {
 public:
  explicit Table(std::vector<std::string> header);

  void AddRow(std::vector<std::string> row);
  size_t row_count() const { return rows_.size(); }

  // The header and all rows, each line ending in '\n'. Trailing spaces are
  // trimmed from every line.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace emu::cli

#endif  // EMU_CLI_TABLE_H_
