#include "server/auth/jwt.hpp"

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <limits>
#include <optional>
#include <stdexcept>

namespace convlab::auth {

namespace detail {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> decode_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kDecode = decode_table();

}  // namespace

std::string base64url_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    const std::uint32_t v = std::uint32_t{bytes[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  return base64url_encode(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Result<std::string> base64url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const std::int8_t v = kDecode[static_cast<unsigned char>(text[i])];
    if (v < 0) {
      return make_error("base64url: character " + std::to_string(i) + " (code " +
                        std::to_string(static_cast<unsigned char>(text[i])) + ") is not in the URL-safe alphabet" +
                        (text[i] == '=' ? " (padding is not allowed)" : ""));
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (text.size() % 4 == 1) return make_error("base64url: length " + std::to_string(text.size()) + " is impossible");
  // 2 or 4 bits left over: they must be zero, else a second spelling of the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return make_error("base64url: the last character has non-zero unused bits");
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  const unsigned char* ok = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                 reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(), &len);
  if (ok == nullptr || len != 32) throw std::runtime_error("jwt: HMAC-SHA256 failed in OpenSSL");
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

}  // namespace detail

namespace {

namespace json = boost::json;

constexpr std::size_t kMinSecretBytes = 32;

void require_secret(std::string_view secret) {
  if (secret.size() < kMinSecretBytes) {
    throw std::invalid_argument("jwt: the secret is " + std::to_string(secret.size()) + " bytes; HS256 needs at least " +
                                std::to_string(kMinSecretBytes));
  }
}

// a + b, held at the int64 limits rather than overflowing (claims are untrusted numbers).
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}

Refusal refuse(TokenError why, std::string detail) { return Refusal{why, std::move(detail)}; }

Result<json::object> parse_object(std::string_view text, const char* part) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return make_error(std::string(part) + " is not JSON: " + ec.message());
  if (!v.is_object()) return make_error(std::string(part) + " is not a JSON object");
  return std::move(v.as_object());
}

// A claim of the expected type, nullopt when absent, or an error naming it.
Result<std::optional<std::int64_t>> int_claim(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return std::optional<std::int64_t>();
  if (v->is_int64()) return std::optional<std::int64_t>(v->as_int64());
  if (v->is_uint64()) {
    if (v->as_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return make_error(std::string("claim \"") + name + "\" is out of range");
    }
    return std::optional<std::int64_t>(static_cast<std::int64_t>(v->as_uint64()));
  }
  return make_error(std::string("claim \"") + name + "\" must be an integer");
}

Result<std::optional<std::uint32_t>> u32_claim(const json::object& o, const char* name) {
  auto v = int_claim(o, name);
  if (!v) return v.error();
  if (!*v) return std::optional<std::uint32_t>();
  if (**v < 0 || **v > std::numeric_limits<std::uint32_t>::max()) {
    return make_error(std::string("claim \"") + name + "\" must be an integer from 0 to 4294967295");
  }
  return std::optional<std::uint32_t>(static_cast<std::uint32_t>(**v));
}

Result<std::optional<std::string>> string_claim(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return make_error(std::string("claim \"") + name + "\" must be a string");
  return std::optional<std::string>(std::string(v->as_string()));
}

// "aud": a string, or an array of strings (RFC 7519 4.1.3); the audiences it names.
Result<std::vector<std::string>> audience_claim(const json::object& o) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains("aud");
  if (v == nullptr) return out;
  if (v->is_string()) {
    out.emplace_back(v->as_string());
    return out;
  }
  if (!v->is_array()) return make_error("claim \"aud\" must be a string or an array of strings");
  for (const json::value& e : v->as_array()) {
    if (!e.is_string()) return make_error("claim \"aud\" must be a string or an array of strings");
    out.emplace_back(e.as_string());
  }
  return out;
}

}  // namespace

std::string_view to_string(TokenError e) {
  switch (e) {
    case TokenError::kMalformed: return "malformed";
    case TokenError::kAlgorithm: return "algorithm";
    case TokenError::kSignature: return "signature";
    case TokenError::kExpired: return "expired";
    case TokenError::kNotYetValid: return "not_yet_valid";
    case TokenError::kAudience: return "audience";
    case TokenError::kIssuer: return "issuer";
    case TokenError::kRevoked: return "revoked";
  }
  return "unknown";
}

std::string sign_hs256(const Claims& claims, std::string_view secret) {
  require_secret(secret);
  const std::string header = detail::base64url_encode(std::string_view(R"({"alg":"HS256","typ":"JWT"})"));
  json::object p;
  p["uid"] = claims.user;
  p["sub"] = claims.sub;
  p["agt"] = claims.agent;
  p["jti"] = claims.jti;
  p["iss"] = claims.iss;
  p["aud"] = claims.aud;
  p["iat"] = claims.iat;
  p["nbf"] = claims.nbf;
  p["exp"] = claims.exp;
  std::string input = header + "." + detail::base64url_encode(std::string_view(json::serialize(p)));
  const std::string sig = detail::base64url_encode(std::string_view(detail::hmac_sha256(secret, input)));
  input += '.';
  input += sig;
  return input;
}

Verifier::Verifier(JwtConfig config) : config_(std::move(config)) { require_secret(config_.secret); }

Verifier::Outcome Verifier::verify(std::string_view token, std::int64_t now_s) const {
  Outcome out;
  const auto fail = [&](TokenError why, std::string detail) {
    out.refusal = refuse(why, std::move(detail));
    return out;
  };
  if (token.size() > detail::kTokenBytesMax) {
    return fail(TokenError::kMalformed, "token is " + std::to_string(token.size()) + " bytes, more than " +
                                            std::to_string(detail::kTokenBytesMax));
  }
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail(TokenError::kMalformed, "token must have three dot-separated parts");
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view sig_b64 = token.substr(dot2 + 1);

  // The header, and the algorithm pinned before the signature is looked at.
  auto header_text = detail::base64url_decode(header_b64);
  if (!header_text) return fail(TokenError::kMalformed, "header: " + header_text.error().message);
  auto header = parse_object(*header_text, "header");
  if (!header) return fail(TokenError::kMalformed, header.error().message);
  const json::value* alg = header->if_contains("alg");
  if (alg == nullptr) return fail(TokenError::kAlgorithm, "header has no \"alg\"");
  if (!alg->is_string() || alg->as_string() != "HS256") {
    return fail(TokenError::kAlgorithm,
                "header \"alg\" is " + json::serialize(*alg) + "; only \"HS256\" is accepted");
  }
  if (const json::value* typ = header->if_contains("typ"); typ != nullptr && !(typ->is_string() && typ->as_string() == "JWT")) {
    return fail(TokenError::kMalformed, "header \"typ\" is " + json::serialize(*typ) + "; expected \"JWT\"");
  }

  // The signature, compared in constant time.
  auto sig = detail::base64url_decode(sig_b64);
  if (!sig) return fail(TokenError::kMalformed, "signature: " + sig.error().message);
  const std::string expected = detail::hmac_sha256(config_.secret, token.substr(0, dot2));
  if (sig->size() != expected.size() || CRYPTO_memcmp(sig->data(), expected.data(), expected.size()) != 0) {
    return fail(TokenError::kSignature, "signature does not match");
  }

  // The claims.
  auto payload_text = detail::base64url_decode(payload_b64);
  if (!payload_text) return fail(TokenError::kMalformed, "payload: " + payload_text.error().message);
  auto payload = parse_object(*payload_text, "payload");
  if (!payload) return fail(TokenError::kMalformed, payload.error().message);
  const json::object& p = *payload;
  auto uid = u32_claim(p, "uid");
  auto agt = u32_claim(p, "agt");
  auto sub = string_claim(p, "sub");
  auto jti = string_claim(p, "jti");
  auto iss = string_claim(p, "iss");
  auto aud = audience_claim(p);
  auto iat = int_claim(p, "iat");
  auto nbf = int_claim(p, "nbf");
  auto exp = int_claim(p, "exp");
  for (const Error* e : {uid ? nullptr : &uid.error(), agt ? nullptr : &agt.error(), sub ? nullptr : &sub.error(),
                         jti ? nullptr : &jti.error(), iss ? nullptr : &iss.error(), aud ? nullptr : &aud.error(),
                         iat ? nullptr : &iat.error(), nbf ? nullptr : &nbf.error(), exp ? nullptr : &exp.error()}) {
    if (e != nullptr) return fail(TokenError::kMalformed, e->message);
  }
  if (!*uid) return fail(TokenError::kMalformed, "claim \"uid\" is missing");
  if (!*exp) return fail(TokenError::kMalformed, "claim \"exp\" is missing");
  if (!*iss) return fail(TokenError::kIssuer, "claim \"iss\" is missing; expected \"" + config_.issuer + "\"");
  if (**iss != config_.issuer) {
    return fail(TokenError::kIssuer, "claim \"iss\" is \"" + **iss + "\"; expected \"" + config_.issuer + "\"");
  }
  bool audience_ok = false;
  for (const std::string& a : *aud) audience_ok = audience_ok || a == config_.audience;
  if (!audience_ok) {
    return fail(TokenError::kAudience, "claim \"aud\" does not name \"" + config_.audience + "\"");
  }
  const std::int64_t leeway = std::max<std::int64_t>(config_.leeway_s, 0);
  if (*nbf && **nbf > saturating_add(now_s, leeway)) {
    return fail(TokenError::kNotYetValid, "not valid before " + std::to_string(**nbf) + " (now " + std::to_string(now_s) + ")");
  }
  if (now_s >= saturating_add(**exp, leeway)) {
    return fail(TokenError::kExpired, "expired at " + std::to_string(**exp) + " (now " + std::to_string(now_s) + ")");
  }
  out.ok = true;
  out.claims.user = **uid;
  out.claims.agent = agt->value_or(0);
  out.claims.sub = sub->value_or("");
  out.claims.jti = jti->value_or("");
  out.claims.iss = **iss;
  out.claims.aud = config_.audience;
  out.claims.iat = iat->value_or(0);
  out.claims.nbf = nbf->value_or(0);
  out.claims.exp = **exp;
  return out;
}

}  // namespace convlab::auth
