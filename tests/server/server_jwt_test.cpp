// The JWT matrix against the live convlab-server (docs/protocol.md, "Authentication"): every
// forged, stale or misdirected token is tried over real sockets, on the WebSocket (its close
// code) and on HTTP (its status and reason), while /healthz answers and acknowledged text stays.
// The tokens are built here with OpenSSL (HMAC-SHA256/512, RSA) and the project's base64url.
#include "tests/server/server_fixture.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <memory>

namespace convlab::test {
namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Claims good for this server (user 1, alice), which each case spoils in one way.
json::object good_claims(const std::string& jti) {
  const std::int64_t now = now_s();
  json::object p;
  p["uid"] = 1;
  p["sub"] = "alice";
  p["agt"] = 4242;
  p["jti"] = jti;
  p["iss"] = "convlab";
  p["aud"] = "convlab";
  p["iat"] = now - 10;
  p["nbf"] = now - 10;
  p["exp"] = now + 600;
  return p;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out, &n);
  return std::string(reinterpret_cast<const char*>(out), n);
}

std::string signing_input(const json::object& header, const json::object& payload) {
  return b64url(json::serialize(header)) + "." + b64url(json::serialize(payload));
}

// header.payload signed with HMAC under `md` and `key`.
std::string hmac_token(const json::object& header, const json::object& payload, const EVP_MD* md, std::string_view key) {
  const std::string in = signing_input(header, payload);
  return in + "." + b64url(hmac(md, key, in));
}

json::object header(const char* alg) {
  json::object h;
  h["alg"] = alg;
  h["typ"] = "JWT";
  return h;
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A real RS256 signature under `key`.
std::string rs256_token(const json::object& payload, EVP_PKEY* key) {
  const std::string in = signing_input(header("RS256"), payload);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t n = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(in.data()), in.size()) == 1) {
    sig.resize(n);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                       reinterpret_cast<const unsigned char*>(in.data()), in.size()) != 1) {
      sig.clear();
    }
    sig.resize(n);
  }
  EVP_MD_CTX_free(ctx);
  EXPECT_FALSE(sig.empty()) << "RSA signing failed";
  return in + "." + b64url(sig);
}

std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

struct Case {
  std::string name;
  std::string token;
  int ws_code;      // the WebSocket close code
  int http_status;  // GET /api/documents/3 with the token as a bearer
  std::string reason;
};

}  // namespace

TEST(ServerJwt, EveryBadTokenIsRefusedWithItsCodeOnTheLiveServer) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  auto a = acknowledged(port, *alice, 3, U"kept");

  Pkey rsa(EVP_RSA_gen(2048));
  ASSERT_TRUE(rsa);
  const std::string pem = public_pem(rsa.get());
  const std::string attacker_key = "attacker-key-0123456789abcdef-0123456789";
  const std::int64_t now = now_s();
  auto with = [](json::object p, const char* k, json::value v) {
    p[k] = std::move(v);
    return p;
  };
  auto spoiled_signature = [](std::string t) {
    // A different first signature character: still valid base64url, another signature.
    const auto dot = t.rfind('.');
    t[dot + 1] = t[dot + 1] == 'A' ? 'B' : 'A';
    return t;
  };
  json::object kid = header("HS256");
  kid["kid"] = "../../../../dev/null";
  json::object jku = header("HS256");
  jku["jku"] = "https://evil.example/jwks.json";
  json::object jwk = header("HS256");
  jwk["jwk"] = json::object{{"kty", "oct"}, {"k", b64url(attacker_key)}};
  json::object rs256 = header("RS256");
  json::object none = header("none");

  const std::vector<Case> cases = {
      {"alg none, no signature", signing_input(none, good_claims("c1")) + ".", 4401, 401, "algorithm"},
      {"alg none, an HS256 signature", hmac_token(none, good_claims("c2"), EVP_sha256(), kSecret), 4401, 401,
       "algorithm"},
      {"HS512 under the right secret", hmac_token(header("HS512"), good_claims("c3"), EVP_sha512(), kSecret), 4401,
       401, "algorithm"},
      {"RS256, a real RSA signature", rs256_token(good_claims("c4"), rsa.get()), 4401, 401, "algorithm"},
      {"key confusion: RS256 header, HMAC under the secret", hmac_token(rs256, good_claims("c5"), EVP_sha256(), kSecret),
       4401, 401, "algorithm"},
      {"key confusion: HS256 under the public key's PEM", hmac_token(header("HS256"), good_claims("c6"), EVP_sha256(), pem),
       4401, 401, "signature"},
      {"kid naming another key", hmac_token(kid, good_claims("c7"), EVP_sha256(), ""), 4401, 401, "signature"},
      {"jku pointing at the attacker's keys", hmac_token(jku, good_claims("c8"), EVP_sha256(), attacker_key), 4401, 401,
       "signature"},
      {"jwk embedding the attacker's key", hmac_token(jwk, good_claims("c9"), EVP_sha256(), attacker_key), 4401, 401,
       "signature"},
      {"bad signature", spoiled_signature(alice->token), 4401, 401, "signature"},
      {"expired", hmac_token(header("HS256"), with(good_claims("c10"), "exp", now - 5), EVP_sha256(), kSecret), 4402, 401,
       "expired"},
      {"not yet valid", hmac_token(header("HS256"), with(good_claims("c11"), "nbf", now + 3600), EVP_sha256(), kSecret),
       4401, 401, "not_yet_valid"},
      {"wrong audience", hmac_token(header("HS256"), with(good_claims("c12"), "aud", "someone-else"), EVP_sha256(), kSecret),
       4401, 401, "audience"},
      {"wrong issuer", hmac_token(header("HS256"), with(good_claims("c13"), "iss", "evil"), EVP_sha256(), kSecret), 4401,
       401, "issuer"},
      {"typ not JWT", hmac_token(with(header("HS256"), "typ", "at+jwt"), good_claims("c14"), EVP_sha256(), kSecret), 4401,
       401, "malformed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Ws ws(port, c.token);
    EXPECT_EQ(ws.read_until_close(), c.ws_code) << ws.close_reason();
    EXPECT_NE(ws.close_reason().find(c.reason), std::string::npos) << ws.close_reason();
    HttpAnswer h = http_request(port, http::verb::get, "/api/documents/3", {}, c.token);
    EXPECT_EQ(h.status, c.http_status) << h.body;
    const json::value body = h.json();
    const json::object* o = body.if_object();
    EXPECT_TRUE(o != nullptr && o->contains("reason") && o->at("reason") == c.reason.c_str()) << h.body;
    // /logout with a bad token changes nothing.
    EXPECT_EQ(http_request(port, http::verb::post, "/logout", {}, c.token).status, c.http_status);
  }
  // The control: the same forging with the right secret passes (the headers above are not what
  // refused them), and ignores kid.
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/3", {},
                         hmac_token(kid, good_claims("c15"), EVP_sha256(), kSecret))
                .status,
            200);

  // Revoked: logged out with the bearer, the token connects nowhere.
  auto victim = login(port, "alice", "alice-pw");
  ASSERT_TRUE(victim);
  ASSERT_EQ(http_request(port, http::verb::post, "/logout", {}, victim->token).status, 200);
  EXPECT_EQ(connect_close_code(port, victim->token), 4403);
  HttpAnswer revoked = http_request(port, http::verb::get, "/api/documents/3", {}, victim->token);
  EXPECT_EQ(revoked.status, 403);
  EXPECT_EQ(revoked.json().at("reason"), "revoked");

  // A refresh token reused after its rotation: 401, and it issues nothing.
  auto bob = login(port, "bob", "bob-pw");
  ASSERT_TRUE(bob);
  const std::string old_body = R"({"refresh_token":")" + bob->refresh + "\"}";
  HttpAnswer rotated = http_request(port, http::verb::post, "/refresh", old_body);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  HttpAnswer reused = http_request(port, http::verb::post, "/refresh", old_body);
  EXPECT_EQ(reused.status, 401) << reused.body;
  EXPECT_TRUE(reused.raw[http::field::set_cookie].empty());
  // A forged refresh token (the right shape, another random part) is refused the same way.
  const std::string forged = std::string(64, 'a') + bob->refresh.substr(bob->refresh.find('.'));
  EXPECT_EQ(http_request(port, http::verb::post, "/refresh", R"({"refresh_token":")" + forged + "\"}").status, 401);

  // Through all of it the server answered, and what was acknowledged is still there.
  HttpAnswer h = http_request(port, http::verb::get, "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.json().at("db"), "up");
  EXPECT_EQ(document_text(port, alice->token, 3), "kept");
  a->insert(4, U"!");
  EXPECT_TRUE(a->sync());
  EXPECT_EQ(document_text(port, alice->token, 3), "kept!");
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  for (const char* r : {"algorithm", "signature", "expired", "not_yet_valid", "audience", "issuer", "revoked"}) {
    EXPECT_GE(metric(m, std::string(R"(convlab_tokens_refused_total{reason=")") + r + "\"}"), 2) << r;
  }
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

}  // namespace convlab::test
