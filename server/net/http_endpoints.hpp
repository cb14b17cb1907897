#pragma once
// The HTTP endpoints (docs/protocol.md, "HTTP"), one handler each; http_session.cpp's table
// routes to them by path and method. `rest` is what follows a prefix route's path (the document
// id of /api/documents/{id}), empty for exact routes.
//
//   GET  /healthz              http_status.cpp     liveness, database, counts
//   GET  /metrics              http_status.cpp     the OpenMetrics text
//   POST /login                http_auth.cpp       name and password -> token, refresh token
//   POST /refresh              http_auth.cpp       refresh token -> token, rotated refresh token
//   POST /logout               http_auth.cpp       revokes the token and the user's refresh tokens
//   GET  /api/documents/{id}   http_documents.cpp  the document as a welcome shows it
//   GET  /api/documents/{id}?version=N                  http_history.cpp  the document as of version N
//   GET  /api/documents/{id}/history?after=V&limit=N    http_history.cpp  who, when, what, version; paged
//   POST /api/documents/{id}/restore?version=N          http_restore.cpp  a new edit back to version N
// (http_documents.cpp's document() parses the id and routes the three others.)
//
// May call: the HttpSession's helpers, the App, the store (on the pool, through blocking()).
#include "server/core/result.hpp"
#include "server/core/strategy.hpp"
#include "server/core/types.hpp"

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::pg {
class Store;
}
namespace convlab::auth {
struct Claims;
}

namespace convlab::net {

class HttpSession;

// A history page's entries: by default, and at most (a larger limit is a 400).
inline constexpr std::uint64_t kHistoryPageDefault = 100;
inline constexpr std::uint64_t kHistoryPageMax = 1000;

namespace endpoint {
void healthz(HttpSession& session, std::string_view rest);
void metrics(HttpSession& session, std::string_view rest);
void login(HttpSession& session, std::string_view rest);
void refresh(HttpSession& session, std::string_view rest);
void logout(HttpSession& session, std::string_view rest);
void document(HttpSession& session, std::string_view id_text);

// http_history.cpp and http_restore.cpp, routed by document() once the document's strategy is
// claimed and the token passed.
void history(HttpSession& session, std::uint32_t doc, const Strategy& strategy);
void document_version(HttpSession& session, std::uint32_t doc, const Strategy& strategy, std::uint64_t version);
void restore(HttpSession& session, std::uint32_t doc, const auth::Claims& claims, std::uint64_t version);

// The query's parameters, each a whole number, only those `allowed`, each at most once; an
// Error names the parameter and the problem.
Result<std::map<std::string, std::uint64_t>> query_numbers(const HttpSession& session,
                                                          std::initializer_list<std::string_view> allowed);
// Under persistence: snapshot answers 409 ("no change log") and returns true.
bool refuse_without_log(HttpSession& session, const char* route);

// The document as of `version`: its first `version` records replayed through a fresh server
// replica. Blocking (the store). Errors start "store unavailable" (the read failed), "version"
// (the log is shorter) or "the log does not replay".
struct ReplayedVersion {
  std::uint64_t version = 0;
  std::u32string text;
  std::vector<CharId> ids;
};
Result<ReplayedVersion> replay_version(pg::Store& store, const Strategy& strategy, std::uint32_t doc,
                                       std::uint64_t version);
}  // namespace endpoint

}  // namespace convlab::net
