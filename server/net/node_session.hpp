#pragma once
// An incoming link from a peer server at /node (docs/protocol.md, "Server to server"):
// authenticated by a node token, then a stream of binary NodeMessages handed to the App. Anything
// else closes it with a code; the server never crashes on input.
//
// Owns: the incoming link's socket and its checks (token, encoding, sender).
// May call: the App (on_peer_message, inbound, abandon, the metrics), the peer wire decoder.
// Bounds: a message ≤ kNodeMessageBytesMax (peer_link.hpp; Beast closes 1009). A forwarded edit
// while the store's backlog is at kStoreCallsMax closes the link with 1013: the peer's link
// fails and it closes the connections waiting on it with 4012 (reconnect, reload, resend).
#include "server/net/app.hpp"
#include "server/net/request_token.hpp"

namespace convlab::net {

// Starts a node session on a socket whose upgrade request to /node was read.
void start_node_session(App& app, tcp::socket socket, Request req);

}  // namespace convlab::net
