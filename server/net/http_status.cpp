// GET /healthz and GET /metrics (http_endpoints.hpp): what the App knows, no database call
// beyond the store's own health flag.
#include "server/net/http_endpoints.hpp"
#include "server/net/http_session.hpp"

#include <boost/json.hpp>

namespace convlab::net::endpoint {

void healthz(HttpSession& session, std::string_view) {
  App& app = session.app();
  boost::json::object o;
  o["status"] = "ok";
  o["db"] = app.store->healthy() ? "up" : "down";
  o["node"] = app.cfg.node.id;
  o["connections"] = app.sessions.size();
  o["documents"] = app.documents();
  o["draining"] = app.draining;
  session.reply(200, boost::json::serialize(o), "/healthz");
}

void metrics(HttpSession& session, std::string_view) {
  App& app = session.app();
  app.metrics.set_connections(app.sessions.size());
  app.metrics.set_documents(app.documents());
  app.metrics.db_up(app.store->healthy());
  session.reply(200, app.metrics.text(), "/metrics", "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace convlab::net::endpoint
