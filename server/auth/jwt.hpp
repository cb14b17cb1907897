#pragma once
// JSON Web Tokens, HS256 only (RFC 7519, RFC 7515): the algorithm is pinned, so a token whose
// header names `none` or any other algorithm is refused before its signature is looked at.
// HMAC from OpenSSL; the signature is compared in constant time.
#include "server/core/result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace convlab::auth {

struct Claims {
  std::uint32_t user = 0;  // "uid"
  std::string sub;         // the user's name
  // "agt": the agent id the server allocated to this login; a client's replica uses it for its
  // character ids, so no client can write under another's identity.
  std::uint32_t agent = 0;
  std::string jti;         // token id (revocation is per token id)
  std::string iss;
  std::string aud;
  std::int64_t iat = 0;  // seconds since the epoch
  std::int64_t nbf = 0;
  std::int64_t exp = 0;
};

struct JwtConfig {
  std::string secret;  // at least 32 bytes (Verifier's constructor and sign_hs256 throw std::invalid_argument otherwise)
  std::string issuer = "convlab";
  std::string audience = "convlab";
  std::int64_t leeway_s = 0;  // clock leeway for exp and nbf
};

enum class TokenError { kMalformed, kAlgorithm, kSignature, kExpired, kNotYetValid, kAudience, kIssuer, kRevoked };
// "malformed", "algorithm", ... : the label of the refused-tokens metric.
std::string_view to_string(TokenError e);

struct Refusal {
  TokenError why = TokenError::kMalformed;
  std::string detail;  // for logs and the client's error: what exactly was wrong
};

std::string sign_hs256(const Claims& claims, std::string_view secret);

// Checks, in order: three base64url parts; the header is JSON with alg exactly "HS256" (typ, if
// present, "JWT"); the signature; the payload is JSON with the claims' types; iss, aud; nbf and
// exp against `now_s` (with leeway). Revocation is the caller's (it needs the store).
class Verifier {
 public:
  explicit Verifier(JwtConfig config);
  // Either the claims or why not.
  struct Outcome {
    bool ok = false;
    Claims claims;
    Refusal refusal;
  };
  Outcome verify(std::string_view token, std::int64_t now_s) const;
  const JwtConfig& config() const { return config_; }

 private:
  JwtConfig config_;
};

// The building blocks, exposed for tests (RFC 7515's examples) and tools.
namespace detail {
// Longest token verify() looks at; anything longer is refused as malformed.
inline constexpr std::size_t kTokenBytesMax = 8192;
// RFC 4648 section 5, without padding.
std::string base64url_encode(std::span<const std::uint8_t> bytes);
std::string base64url_encode(std::string_view bytes);
// Strict: only the URL-safe alphabet, no padding, no whitespace, and the unused low bits of the
// last character must be zero (so every byte string has exactly one encoding). The error names
// the offending position.
Result<std::string> base64url_decode(std::string_view text);
// HMAC-SHA256 of `data` under `key`: 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);
}  // namespace detail

}  // namespace convlab::auth
