// `poet_dist report RUN_DIR`: one self-contained HTML page of a run — training and validation
// loss against steps and against time, tokens/s, the `evaluate` table (RUN_DIR/evaluation.json,
// when present) and a poem of each regular form from the best checkpoint, in traditional and
// simplified script. Charts are inline SVG drawn here; a few lines of script check them on load
// and mark the page (body data-check="ok") so a headless browser can verify it.
#pragma once

#include <ostream>
#include <string>

namespace poet {

struct ReportOptions {
  std::string run_dir;
  std::string output;  // default: RUN_DIR/report.html
  std::string data;    // for tones and the copy check; default: the checkpoint's
};

void write_report(const ReportOptions& options, std::ostream& out);

}  // namespace poet
