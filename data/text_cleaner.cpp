// clean_poem(): the cleaning rules, one pass each, over UTF-32 text.
#include "data/text_cleaner.h"

namespace poet {

namespace {

bool is_note_open(char32_t c) { return c == U'（' || c == U'(' || c == U'〔' || c == U'〖' || c == U'【'; }
bool is_note_close(char32_t c) { return c == U'）' || c == U')' || c == U'〕' || c == U'〗' || c == U'】'; }
bool is_editorial_bracket(char32_t c) { return c == U'[' || c == U']' || c == U'［' || c == U'］'; }
bool is_lost_marker(char32_t c) { return c == U'□' || c == U'■' || c == U'●'; }
bool is_private_use(char32_t c) { return (c >= 0xE000 && c <= 0xF8FF) || (c >= 0xF0000 && c <= 0x10FFFF); }
bool is_ids_operator(char32_t c) { return c >= 0x2FF0 && c <= 0x2FFB; }

// Half-width and variant marks mapped to the full-width set; 0 when `c` is not one of them.
char32_t normalised_mark(char32_t c) {
  switch (c) {
    case U',': case U'﹐': case U'､': return U'，';
    case U'.': case U'．': case U'｡': return U'。';
    case U'?': case U'﹖': return U'？';
    case U'!': case U'﹗': return U'！';
    case U';': case U'﹔': return U'；';
    case U':': case U'﹕': return U'：';
    case U'﹑': return U'、';
    default: return 0;
  }
}

std::u32string remove_notes(std::u32string_view in, CleanStats& stats) {
  std::u32string out;
  out.reserve(in.size());
  int depth = 0;
  for (char32_t c : in) {
    if (is_note_open(c)) {
      if (depth == 0) ++stats.notes_removed;
      ++depth;
    } else if (is_note_close(c)) {
      if (depth == 0) {
        ++stats.unbalanced_brackets;
      } else {
        --depth;
      }
    } else if (depth == 0) {
      out.push_back(c);
    }
  }
  if (depth > 0) ++stats.unbalanced_brackets;
  return out;
}

// Length of the ideographic description sequence starting at `i` (operator plus operands).
size_t ids_length(std::u32string_view s, size_t i) {
  const int operands = (s[i] == 0x2FF2 || s[i] == 0x2FF3) ? 3 : 2;
  size_t j = i + 1;
  for (int k = 0; k < operands && j < s.size(); ++k) j += is_ids_operator(s[j]) ? ids_length(s, j) : 1;
  return j - i;
}

std::u32string mark_unencodable(std::u32string_view in, CleanStats& stats) {
  std::u32string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    const char32_t c = in[i];
    if (c == U'{' || c == U'｛') {
      const size_t close = in.find_first_of(U"}｝", i + 1);
      if (close != std::u32string_view::npos) {
        out.push_back(kUnencodable);
        ++stats.unencodable;
        i = close + 1;
        continue;
      }
    } else if (is_ids_operator(c)) {
      out.push_back(kUnencodable);
      ++stats.unencodable;
      i += ids_length(in, i);
      continue;
    } else if (is_private_use(c) || c == kUnencodable) {
      out.push_back(kUnencodable);
      ++stats.unencodable;
      ++i;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace

CleanStats& CleanStats::operator+=(const CleanStats& o) {
  notes_removed += o.notes_removed;
  unbalanced_brackets += o.unbalanced_brackets;
  unencodable += o.unencodable;
  editorial_brackets += o.editorial_brackets;
  punctuation_normalised += o.punctuation_normalised;
  junk_removed += o.junk_removed;
  return *this;
}

bool is_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) ||    // CJK Unified Ideographs
         (c >= 0x3400 && c <= 0x4DBF) ||    // Extension A
         (c >= 0x20000 && c <= 0x3134F) ||  // Extensions B to G
         (c >= 0xF900 && c <= 0xFAFF) ||    // Compatibility Ideographs
         c == 0x3007 ||                     // 〇
         c == kUnencodable;
}

bool is_line_end(char32_t c) { return c == U'，' || c == U'。' || c == U'？' || c == U'！' || c == U'；'; }

bool is_verse_punctuation(char32_t c) { return is_line_end(c) || c == U'：' || c == U'、'; }

CleanedPoem clean_poem(std::u32string_view raw, CleanStats& stats) {
  const std::u32string encoded = mark_unencodable(remove_notes(raw, stats), stats);
  CleanedPoem poem;
  poem.text.reserve(encoded.size());
  bool lost = false;
  for (char32_t c : encoded) {
    if (is_ideograph(c)) {
      poem.text.push_back(c);
      continue;
    }
    if (is_lost_marker(c)) {
      lost = true;
      continue;
    }
    if (is_editorial_bracket(c)) {
      if (c == U'[' || c == U'［') ++stats.editorial_brackets;
      continue;
    }
    if (const char32_t mark = normalised_mark(c)) {
      ++stats.punctuation_normalised;
      c = mark;
    }
    if (is_verse_punctuation(c) && !poem.text.empty() && !is_verse_punctuation(poem.text.back())) {
      poem.text.push_back(c);
    } else {
      ++stats.junk_removed;
    }
  }
  if (lost) {
    poem.outcome = CleanOutcome::kLostCharacters;
  } else if (poem.text.empty()) {
    poem.outcome = CleanOutcome::kEmpty;
  }
  return poem;
}

}  // namespace poet
