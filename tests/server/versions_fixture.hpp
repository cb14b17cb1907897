#pragma once
// Versions on the wire (docs/protocol.md, "Versions"), for the tests that read them: a client
// replica whose hello asks for `version` frames and keeps each one with the kind of the frame it
// came before, and a document read carrying the session's version header.
#include "tests/server/server_fixture.hpp"

namespace convlab::test {

// An Editor whose hello asks for version frames unless `ask` is false (a plain hello: none
// should come; any that does is still kept).
class VersionedEditor : public Editor {
 public:
  VersionedEditor(unsigned short port, const Login& l, const Strategy& s, std::uint32_t doc, bool json_form = false,
                  bool ask = true)
      : Editor(port, l, s, doc, json_form, ask) {}
};

// GET /api/documents/{doc} with X-Convlab-Session-Version: `session_version` (status and body),
// through the test client (tests/server/client.cpp compiles Beast, not the tests).
inline HttpAnswer get_with_session_version(unsigned short port, const std::string& token, std::uint32_t doc,
                                           const std::string& session_version) {
  return http_request(port, http::verb::get, "/api/documents/" + std::to_string(doc), {}, token, {}, {},
                      {{"X-Convlab-Session-Version", session_version}});
}

}  // namespace convlab::test
