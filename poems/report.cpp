// write_report(): metrics -> SVG line charts, evaluation.json -> a table, best.pt -> poems.
#include "poems/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/temp_file.h"
#include "common/utf8.h"
#include "data/script_converter.h"
#include "data/verse_rules.h"
#include "model/checkpoint.h"
#include "poems/load_model.h"
#include "poems/sampler.h"

namespace poet {

namespace fs = std::filesystem;

namespace {

struct Series {
  std::string name;
  std::string color;
  std::vector<std::pair<double, double>> points;
};

std::string escape_html(const std::string& text) {
  std::string e;
  for (char c : text) {
    switch (c) {
      case '<':
        e += "&lt;";
        break;
      case '>':
        e += "&gt;";
        break;
      case '&':
        e += "&amp;";
        break;
      case '"':
        e += "&quot;";
        break;
      default:
        e += c;
    }
  }
  return e;
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), std::fabs(v) >= 1000 ? "%.0f" : "%.3g", v);
  return text;
}

// A line chart: axes with min/max labels, one polyline a series, a legend.
std::string svg_chart(const std::string& id, const std::string& title, const std::string& x_label,
                      const std::vector<Series>& series) {
  constexpr double kW = 640, kH = 300, kLeft = 60, kRight = 20, kTop = 30, kBottom = 40;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  if (!(x1 > x0)) x1 = x0 + 1;
  if (!(y1 > y0)) y1 = y0 + 1;
  const auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * (kW - kLeft - kRight); };
  const auto py = [&](double y) { return kH - kBottom - (y - y0) / (y1 - y0) * (kH - kTop - kBottom); };
  std::ostringstream s;
  s << "<svg class=\"chart\" id=\"" << id << "\" viewBox=\"0 0 " << kW << " " << kH << "\" width=\"" << kW
    << "\" height=\"" << kH << "\">\n";
  s << "<text x=\"" << kLeft << "\" y=\"18\" class=\"title\">" << escape_html(title) << "</text>\n";
  s << "<line x1=\"" << kLeft << "\" y1=\"" << kH - kBottom << "\" x2=\"" << kW - kRight << "\" y2=\"" << kH - kBottom
    << "\" class=\"axis\"/><line x1=\"" << kLeft << "\" y1=\"" << kTop << "\" x2=\"" << kLeft << "\" y2=\""
    << kH - kBottom << "\" class=\"axis\"/>\n";
  s << "<text x=\"" << kLeft << "\" y=\"" << kH - kBottom + 16 << "\">" << number(x0) << "</text><text x=\""
    << kW - kRight << "\" y=\"" << kH - kBottom + 16 << "\" text-anchor=\"end\">" << number(x1) << "</text>\n";
  s << "<text x=\"" << (kW + kLeft) / 2 << "\" y=\"" << kH - 6 << "\" text-anchor=\"middle\">" << escape_html(x_label)
    << "</text>\n";
  s << "<text x=\"" << kLeft - 6 << "\" y=\"" << kTop + 4 << "\" text-anchor=\"end\">" << number(y1)
    << "</text><text x=\"" << kLeft - 6 << "\" y=\"" << kH - kBottom << "\" text-anchor=\"end\">" << number(y0)
    << "</text>\n";
  double legend_x = kW - kRight;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    const Series& ser = *it;
    s << "<polyline fill=\"none\" stroke=\"" << ser.color << "\" stroke-width=\"1.5\" data-series=\""
      << escape_html(ser.name) << "\" points=\"";
    for (const auto& [x, y] : ser.points) s << number(px(x)) << "," << number(py(y)) << " ";
    s << "\"/>\n";
    s << "<text x=\"" << legend_x << "\" y=\"18\" text-anchor=\"end\" fill=\"" << ser.color << "\">"
      << escape_html(ser.name) << "</text>\n";
    legend_x -= 14.0 + 8.0 * static_cast<double>(ser.name.size());
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace

void write_report(const ReportOptions& o, std::ostream& out) {
  const fs::path run(o.run_dir);
  const fs::path metrics_path = run / "metrics.jsonl";
  std::ifstream metrics(metrics_path);
  if (!metrics)
    throw Error(metrics_path.string() + ": no metrics (is " + o.run_dir + " a run directory of poet_dist train?)");
  Series train_step{"training loss", "#1f77b4"}, val_step{"validation loss", "#d62728"};
  Series train_time{"training loss", "#1f77b4"}, val_time{"validation loss", "#d62728"};
  Series speed{"tokens/s", "#2ca02c"};
  int64_t line_number = 0;
  for (std::string line; std::getline(metrics, line);) {
    ++line_number;
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("step") || !j.contains("loss")) {
      throw Error(metrics_path.string() + ":" + std::to_string(line_number) +
                  ": expected a JSON object with step and loss");
    }
    const double step = j["step"].get<double>();
    const double minutes = j.value("elapsed_s", 0.0) / 60.0;
    train_step.points.emplace_back(step, j["loss"].get<double>());
    train_time.points.emplace_back(minutes, j["loss"].get<double>());
    speed.points.emplace_back(step, j.value("tokens_per_s", 0.0));
    if (j.contains("val_loss")) {
      val_step.points.emplace_back(step, j["val_loss"].get<double>());
      val_time.points.emplace_back(minutes, j["val_loss"].get<double>());
    }
  }
  if (train_step.points.empty()) throw Error(metrics_path.string() + ": no steps recorded yet");

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"zh\"><head><meta charset=\"utf-8\"><title>poet_dist run "
       << escape_html(run.filename().string()) << "</title>\n<style>\n"
       << "body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}\n"
       << ".chart{border:1px solid #ddd;margin:0 1em 1em 0;font-size:12px}.chart "
          ".title{font-weight:bold;font-size:14px}\n"
       << ".axis{stroke:#888}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px "
          "8px;text-align:right}\n"
       << "td:nth-child(-n+2),th{text-align:left}.poems{display:flex;flex-wrap:wrap;gap:2em}.poem{font-size:20px;line-"
          "height:1.6}\n"
       << ".poem h3{font-size:14px}.tones{color:#888;font-size:13px}\n</style></head>\n<body data-check=\"pending\">\n";
  html << "<h1>poet_dist run " << escape_html(run.filename().string()) << "</h1>\n";
  const auto& last = train_step.points.back();
  html << "<p>" << static_cast<int64_t>(last.first) << " steps; last training loss " << number(last.second);
  if (!val_step.points.empty()) {
    html << "; last validation loss " << number(val_step.points.back().second) << " (perplexity "
         << number(std::exp(val_step.points.back().second)) << ")";
  }
  html << ".</p>\n<h2>Training</h2>\n<div>\n";
  html << svg_chart("loss-steps", "Loss by step", "step", {train_step, val_step});
  html << svg_chart("loss-time", "Loss by time", "minutes of training", {train_time, val_time});
  html << svg_chart("speed", "Tokens per second", "step", {speed});
  html << "</div>\n";

  const fs::path evaluation = run / "evaluation.json";
  if (fs::exists(evaluation)) {
    const auto e = nlohmann::json::parse(std::ifstream(evaluation), nullptr, false);
    if (e.is_discarded()) throw Error(evaluation.string() + ": not valid JSON (run poet_dist evaluate again)");
    html << "<h2>Evaluation</h2>\n<p>Checkpoint at step " << e.value("step", 0) << "; validation perplexity "
         << number(e.value("val_perplexity", 0.0)) << ".</p>\n<table><tr><th>form</th><th>source</th><th>poems</th>"
         << "<th>form</th><th>tones (whole poem)</th><th>tone share</th><th>rhyme</th><th>line ends</th>"
         << "<th>copied lines</th><th>repeated chars</th><th>log p / char</th></tr>\n";
    const auto percent = [](double v) { return number(100 * v) + "%"; };
    for (const auto& r : e["rows"]) {
      html << "<tr><td>" << escape_html(r.value("form", "")) << "</td><td>" << escape_html(r.value("source", ""))
           << "</td><td>" << r.value("poems", 0) << "</td><td>" << percent(r.value("form_compliance", 0.0))
           << "</td><td>" << percent(r.value("tone_compliance", 0.0)) << "</td><td>"
           << percent(r.value("tone_share", 0.0)) << "</td><td>" << percent(r.value("rhyme_compliance", 0.0))
           << "</td><td>" << percent(r.value("line_end_share", 0.0)) << "</td><td>"
           << percent(r.value("copied_line_share", 0.0)) << "</td><td>" << percent(r.value("repeated_char_share", 0.0))
           << "</td><td>" << number(r.value("mean_log_prob", 0.0)) << "</td></tr>\n";
    }
    html << "</table>\n";
  } else {
    html << "<h2>Evaluation</h2>\n<p>No evaluation.json yet: <code>poet_dist evaluate --checkpoint "
         << escape_html((run / "checkpoints" / "best.pt").string()) << "</code> writes it.</p>\n";
  }

  // Poems from the best checkpoint (else the newest).
  std::string checkpoint = (run / "checkpoints" / "best.pt").string();
  if (!fs::exists(checkpoint)) {
    const auto all = list_checkpoints((run / "checkpoints").string());
    checkpoint = all.empty() ? "" : all.front();
  }
  if (!checkpoint.empty()) {
    LoadedModel m = load_model(checkpoint);
    SampleOptions so;
    VerseRules rules;
    try {
      rules = load_rules_for(m, o.data);
      so.rules = &rules;
    } catch (const Error& e) {
      out << "report: no tones or copy check for the poems: " << e.what() << "\n";
      so.tones = ToneMode::kOff;
      so.avoid_copies = false;
    }
    const Script script = m.script;
    const Script other = other_script(script);
    const ScriptConverter convert(script, other);
    html << "<h2>Poems</h2>\n<p>From " << escape_html(checkpoint) << " (step " << m.meta.step << "), seed 1 (a poem "
         << "of its own for each form), the best of " << so.candidates << " candidates, tones "
         << tone_mode_name(so.tones) << (so.rules != nullptr ? ", rhymes " + rules.rhyme_table : "") << "; each in "
         << script_name(script) << " and " << script_name(other) << " script.</p>\n<div class=\"poems\">\n";
    for (PoemForm form : kRegularForms) {
      so.form = form;
      so.seed = 1;
      const SampledPoem poem = sample_poem(m.model, m.vocab, so);
      for (const Script s : {script, other}) {
        html << "<div class=\"poem\"><h3>" << form_label(form) << " · " << script_name(s)
             << (poem.pattern_name.empty() ? "" : " · " + poem.pattern_name) << "</h3>\n";
        for (const auto& line : poem.lines) {
          const std::string text = s == script ? utf8_encode(line) : convert.convert(utf8_encode(line));
          html << escape_html(text);
          if (so.rules != nullptr) html << " <span class=\"tones\">" << tone_marks(line, m.vocab, rules) << "</span>";
          html << "<br>\n";
        }
        html << "</div>\n";
      }
    }
    html << "</div>\n";
  }
  // On load: every chart must hold a drawn line; the result goes where a headless browser reads it.
  html << "<script>\nwindow.addEventListener('load', function () {\n"
       << "  var charts = document.querySelectorAll('svg.chart');\n  var empty = [];\n"
       << "  charts.forEach(function (c) {\n    var drawn = Array.prototype.some.call(c.querySelectorAll('polyline'),\n"
       << "      function (p) { return p.points.numberOfItems >= 2; });\n    if (!drawn) empty.push(c.id);\n  });\n"
       << "  if (charts.length === 0 || empty.length > 0) {\n"
       << "    console.error('empty charts: ' + empty.join(', '));\n"
       << "    document.body.dataset.check = 'empty: ' + empty.join(',');\n"
       << "  } else {\n    document.body.dataset.check = 'ok';\n  }\n});\n</script>\n</body></html>\n";

  const std::string path = o.output.empty() ? (run / "report.html").string() : o.output;
  write_file_atomically(path, html.str());
  out << "wrote " << path << "\n";
}

}  // namespace poet
