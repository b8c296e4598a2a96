// The page GET / answers with: serve/page.html, built into the binary at configure time so that
// the server needs no file beside it.
#pragma once

namespace poet {

extern const char* const kServePage;

}  // namespace poet
