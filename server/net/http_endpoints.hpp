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
//
// May call: the HttpSession's helpers, the App, the store (on the pool, through blocking()).
#include <string_view>

namespace convlab::net {

class HttpSession;

namespace endpoint {
void healthz(HttpSession& session, std::string_view rest);
void metrics(HttpSession& session, std::string_view rest);
void login(HttpSession& session, std::string_view rest);
void refresh(HttpSession& session, std::string_view rest);
void logout(HttpSession& session, std::string_view rest);
void document(HttpSession& session, std::string_view id_text);
}  // namespace endpoint

}  // namespace convlab::net
