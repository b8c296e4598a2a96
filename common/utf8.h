// UTF-8 <-> UTF-32 conversion. Invalid bytes become U+FFFD, so no input can stop a run.
#pragma once

#include <string>
#include <string_view>

namespace poet {

std::u32string utf8_decode(std::string_view text);
std::string utf8_encode(std::u32string_view text);
void utf8_append(std::string& out, char32_t cp);

}  // namespace poet
