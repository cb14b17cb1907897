#include "server/auth/jwt.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

namespace convlab::auth {
namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";
constexpr std::int64_t kNow = 1'800'000'000;

// A token with exactly these header and payload bytes, signed with `secret`.
std::string make_token(std::string_view header, std::string_view payload, std::string_view secret = kSecret) {
  std::string input = detail::base64url_encode(header) + "." + detail::base64url_encode(payload);
  return input + "." + detail::base64url_encode(std::string_view(detail::hmac_sha256(secret, input)));
}

// A token whose already-encoded parts are signed as they are.
std::string sign_parts(std::string_view header_b64, std::string_view payload_b64) {
  std::string input = std::string(header_b64) + "." + std::string(payload_b64);
  return input + "." + detail::base64url_encode(std::string_view(detail::hmac_sha256(kSecret, input)));
}

constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

std::string payload_with(std::string_view extra_or_replacement) {
  // Fields after the replacement win for Boost.JSON (the last duplicate key); tests only add
  // keys that are not already present below, or build the payload themselves.
  return std::string(R"({"uid":7,"sub":"ada","agt":9,"jti":"j1","iss":"convlab","aud":"convlab","iat":1799999000)") +
         std::string(extra_or_replacement) + "}";
}

Claims sample() {
  Claims c;
  c.user = 7;
  c.sub = "ada";
  c.agent = 9;
  c.jti = "j1";
  c.iss = "convlab";
  c.aud = "convlab";
  c.iat = kNow - 10;
  c.nbf = kNow - 10;
  c.exp = kNow + 3600;
  return c;
}

Verifier verifier(std::int64_t leeway = 0) {
  JwtConfig cfg;
  cfg.secret = kSecret;
  cfg.leeway_s = leeway;
  return Verifier(cfg);
}

void expect_refused(const std::string& token, TokenError why, std::string_view detail_has, std::int64_t now = kNow,
                    std::int64_t leeway = 0) {
  const auto out = verifier(leeway).verify(token, now);
  EXPECT_FALSE(out.ok) << token;
  EXPECT_EQ(to_string(out.refusal.why), to_string(why)) << out.refusal.detail;
  EXPECT_NE(out.refusal.detail.find(detail_has), std::string::npos)
      << "detail \"" << out.refusal.detail << "\" should mention \"" << detail_has << "\"";
}

// RFC 7515 appendix A.1: the HS256 example, byte for byte.
TEST(Jwt, Rfc7515AppendixA1) {
  const std::string header = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
  const std::string payload = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
  EXPECT_EQ(detail::base64url_encode(header), "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9");
  EXPECT_EQ(detail::base64url_encode(payload),
            "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ");
  auto key = detail::base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(key) << key.error().message;
  ASSERT_EQ(key->size(), 64u);
  const std::string input =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  const std::string mac = detail::hmac_sha256(*key, input);
  EXPECT_EQ(detail::base64url_encode(std::string_view(mac)), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  // Through the verifier: the signature passes; the RFC's claims are not this service's.
  JwtConfig cfg;
  cfg.secret = *key;
  const auto out = Verifier(cfg).verify(input + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 1300819000);
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.refusal.why, TokenError::kMalformed);
  EXPECT_NE(out.refusal.detail.find("uid"), std::string::npos) << out.refusal.detail;
  const auto forged = Verifier(cfg).verify(input + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXA", 1300819000);
  EXPECT_EQ(forged.refusal.why, TokenError::kSignature);
}

TEST(Jwt, Base64UrlIsStrict) {
  EXPECT_EQ(*detail::base64url_decode(""), "");
  EXPECT_EQ(*detail::base64url_decode("Zm9v"), "foo");
  EXPECT_EQ(*detail::base64url_decode("Zm8"), "fo");
  EXPECT_EQ(*detail::base64url_decode("-_8"), "\xfb\xff");
  EXPECT_FALSE(detail::base64url_decode("Zm8="));   // padding
  EXPECT_FALSE(detail::base64url_decode("Zm9"));    // non-zero unused bits: "fo" is Zm8
  EXPECT_FALSE(detail::base64url_decode("Zg+/"));   // the standard alphabet
  EXPECT_FALSE(detail::base64url_decode("Zm9v "));  // whitespace
  EXPECT_FALSE(detail::base64url_decode("Zm9vY"));  // impossible length
  auto e = detail::base64url_decode("ab=c");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("character 2"), std::string::npos) << e.error().message;
}

TEST(Jwt, SignThenVerifyRoundTrips) {
  const Claims c = sample();
  const auto out = verifier().verify(sign_hs256(c, kSecret), kNow);
  ASSERT_TRUE(out.ok) << out.refusal.detail;
  EXPECT_EQ(out.claims.user, 7u);
  EXPECT_EQ(out.claims.sub, "ada");
  EXPECT_EQ(out.claims.agent, 9u);
  EXPECT_EQ(out.claims.jti, "j1");
  EXPECT_EQ(out.claims.iss, "convlab");
  EXPECT_EQ(out.claims.aud, "convlab");
  EXPECT_EQ(out.claims.iat, c.iat);
  EXPECT_EQ(out.claims.nbf, c.nbf);
  EXPECT_EQ(out.claims.exp, c.exp);
}

TEST(Jwt, ShortSecretIsRefusedAtConfiguration) {
  JwtConfig cfg;
  cfg.secret = "short";
  EXPECT_THROW(Verifier{cfg}, std::invalid_argument);
  EXPECT_THROW(sign_hs256(sample(), "short"), std::invalid_argument);
}

TEST(Jwt, RefusesWrongNumberOfParts) {
  expect_refused("", TokenError::kMalformed, "three");
  expect_refused("abc.def", TokenError::kMalformed, "three");
  expect_refused(sign_hs256(sample(), kSecret) + ".x", TokenError::kMalformed, "three");
}

TEST(Jwt, RefusesBadBase64Url) {
  const std::string good = sign_hs256(sample(), kSecret);
  const auto dot = good.find('.');
  expect_refused(detail::base64url_encode(kHeader) + "=" + good.substr(dot), TokenError::kMalformed, "padding");
  expect_refused(sign_parts(detail::base64url_encode(kHeader), "eyJ+"), TokenError::kMalformed, "payload");
  expect_refused(good + "=", TokenError::kMalformed, "signature");
}

TEST(Jwt, RefusesHeaderThatIsNotAJsonObject) {
  expect_refused(make_token("[1,2]", payload_with(R"(,"exp":1900000000)")), TokenError::kMalformed, "not a JSON object");
  expect_refused(make_token("HS256", payload_with(R"(,"exp":1900000000)")), TokenError::kMalformed, "not JSON");
}

TEST(Jwt, RefusesAnyAlgorithmButHs256) {
  const std::string payload = payload_with(R"(,"exp":1900000000)");
  expect_refused(make_token(R"({"typ":"JWT"})", payload), TokenError::kAlgorithm, "no \"alg\"");
  for (const char* alg : {R"("none")", R"("HS512")", R"("RS256")", R"("hs256")", R"("HS256 ")", "256", "null"}) {
    SCOPED_TRACE(alg);
    expect_refused(make_token(std::string(R"({"alg":)") + alg + "}", payload), TokenError::kAlgorithm, "HS256");
  }
  // alg none with an empty signature, the classic.
  expect_refused(detail::base64url_encode(std::string_view(R"({"alg":"none"})")) + "." +
                     detail::base64url_encode(payload) + ".",
                 TokenError::kAlgorithm, "none");
}

TEST(Jwt, RefusesTypOtherThanJwt) {
  const std::string payload = payload_with(R"(,"exp":1900000000)");
  expect_refused(make_token(R"({"alg":"HS256","typ":"JWS"})", payload), TokenError::kMalformed, "typ");
  EXPECT_TRUE(verifier().verify(make_token(R"({"alg":"HS256"})", payload), kNow).ok);
}

TEST(Jwt, RefusesBadSignature) {
  const std::string token = sign_hs256(sample(), kSecret);
  expect_refused(sign_hs256(sample(), kSecret + "x"), TokenError::kSignature, "signature");
  expect_refused(token.substr(0, token.size() - 3), TokenError::kSignature, "signature");  // 30 bytes, not 32
  expect_refused(token.substr(0, token.rfind('.') + 1), TokenError::kSignature, "signature");
}

TEST(Jwt, RefusesPayloadThatIsNotAJsonObject) {
  expect_refused(make_token(kHeader, "[]"), TokenError::kMalformed, "payload is not a JSON object");
  expect_refused(make_token(kHeader, "{\"exp\":"), TokenError::kMalformed, "payload is not JSON");
}

TEST(Jwt, RefusesClaimsOfTheWrongType) {
  const char* base = R"("sub":"ada","agt":9,"jti":"j1","iss":"convlab","aud":"convlab")";
  const struct {
    const char* claims;
    const char* names;
  } cases[] = {
      {R"("uid":"7","exp":1900000000)", "uid"},
      {R"("uid":-1,"exp":1900000000)", "uid"},
      {R"("uid":4294967296,"exp":1900000000)", "uid"},
      {R"("uid":7,"exp":"1900000000")", "exp"},
      {R"("uid":7,"exp":1.9e9)", "exp"},
      {R"("uid":7,"exp":18446744073709551615)", "exp"},
      {R"("uid":7,"exp":1900000000,"nbf":true)", "nbf"},
      {R"("uid":7,"exp":1900000000,"iat":{})", "iat"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.claims);
    expect_refused(make_token(kHeader, std::string("{") + base + "," + c.claims + "}"), TokenError::kMalformed, c.names);
  }
  expect_refused(make_token(kHeader, R"({"uid":7,"exp":1900000000,"sub":1,"iss":"convlab","aud":"convlab"})"),
                 TokenError::kMalformed, "sub");
  expect_refused(make_token(kHeader, R"({"uid":7,"exp":1900000000,"jti":[],"iss":"convlab","aud":"convlab"})"),
                 TokenError::kMalformed, "jti");
  expect_refused(make_token(kHeader, R"({"uid":7,"exp":1900000000,"iss":"convlab","aud":5})"), TokenError::kMalformed,
                 "aud");
  expect_refused(make_token(kHeader, R"({"uid":7,"exp":1900000000,"iss":"convlab","aud":["convlab",5]})"),
                 TokenError::kMalformed, "aud");
}

TEST(Jwt, RefusesMissingExpAndUid) {
  expect_refused(make_token(kHeader, payload_with("")), TokenError::kMalformed, "\"exp\" is missing");
  expect_refused(make_token(kHeader, R"({"exp":1900000000,"iss":"convlab","aud":"convlab"})"), TokenError::kMalformed,
                 "\"uid\" is missing");
}

TEST(Jwt, RefusesExpiredWithLeeway) {
  Claims c = sample();
  c.exp = kNow;
  expect_refused(sign_hs256(c, kSecret), TokenError::kExpired, "expired at");  // exp is the first refused second
  EXPECT_TRUE(verifier(5).verify(sign_hs256(c, kSecret), kNow + 4).ok);
  expect_refused(sign_hs256(c, kSecret), TokenError::kExpired, "expired", kNow + 5, 5);
  c.exp = INT64_MAX;
  EXPECT_TRUE(verifier(60).verify(sign_hs256(c, kSecret), kNow).ok);  // no overflow
}

TEST(Jwt, RefusesNotYetValid) {
  Claims c = sample();
  c.nbf = kNow + 10;
  expect_refused(sign_hs256(c, kSecret), TokenError::kNotYetValid, "not valid before");
  EXPECT_TRUE(verifier(10).verify(sign_hs256(c, kSecret), kNow).ok);
  expect_refused(sign_hs256(c, kSecret), TokenError::kNotYetValid, "not valid before", kNow - 1, 10);
}

TEST(Jwt, RefusesWrongIssuerOrAudience) {
  Claims c = sample();
  c.iss = "someone-else";
  expect_refused(sign_hs256(c, kSecret), TokenError::kIssuer, "someone-else");
  c = sample();
  c.aud = "other-service";
  expect_refused(sign_hs256(c, kSecret), TokenError::kAudience, "convlab");
  expect_refused(make_token(kHeader, R"({"uid":7,"exp":1900000000,"aud":"convlab"})"), TokenError::kIssuer, "missing");
  expect_refused(make_token(kHeader, R"({"uid":7,"exp":1900000000,"iss":"convlab"})"), TokenError::kAudience, "aud");
  // An audience list that names this service is accepted (RFC 7519 4.1.3).
  EXPECT_TRUE(verifier()
                  .verify(make_token(kHeader, R"({"uid":7,"exp":1900000000,"iss":"convlab","aud":["x","convlab"]})"), kNow)
                  .ok);
}

TEST(Jwt, RefusesOversizedTokens) {
  Claims c = sample();
  c.sub = std::string(7000, 'a');
  const std::string big = sign_hs256(c, kSecret);
  ASSERT_GT(big.size(), detail::kTokenBytesMax);
  expect_refused(big, TokenError::kMalformed, "more than 8192");
  c.sub = std::string(5000, 'a');
  EXPECT_TRUE(verifier().verify(sign_hs256(c, kSecret), kNow).ok);
}

TEST(Jwt, RevokedHasALabel) { EXPECT_EQ(to_string(TokenError::kRevoked), "revoked"); }

// JSON strings: any code point from a mix of ASCII (quotes, backslashes and control characters
// included, which JSON must escape) and multi-byte UTF-8.
rc::Gen<std::string> json_text() {
  return rc::gen::map(rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 140)), [](const std::vector<int>& cs) {
    std::string s;
    for (int c : cs) {
      if (c == 0) {
        s += "\xc3\xa9";  // é
      } else if (c == 1) {
        s += "\xf0\x9f\x98\x80";  // an emoji, four bytes
      } else if (c < 128) {
        s += static_cast<char>(c);
      } else {
        s += "\xe2\x82\xac";  // €
      }
    }
    return s;
  });
}

rc::Gen<Claims> claims_gen() {
  return rc::gen::exec([] {
    Claims c;
    c.user = *rc::gen::arbitrary<std::uint32_t>();
    c.agent = *rc::gen::arbitrary<std::uint32_t>();
    c.sub = *json_text();
    c.jti = *json_text();
    c.iss = "convlab";
    c.aud = "convlab";
    c.iat = *rc::gen::arbitrary<std::int64_t>();
    c.nbf = *rc::gen::inRange<std::int64_t>(0, kNow + 1);
    c.exp = *rc::gen::inRange<std::int64_t>(kNow + 1, INT64_MAX);
    return c;
  });
}

RC_GTEST_PROP(JwtProperty, AnySignedTokenVerifies, ()) {
  const Claims c = *claims_gen();
  const auto out = verifier().verify(sign_hs256(c, kSecret), kNow);
  RC_ASSERT(out.ok);
  RC_ASSERT(out.claims.user == c.user);
  RC_ASSERT(out.claims.agent == c.agent);
  RC_ASSERT(out.claims.sub == c.sub);
  RC_ASSERT(out.claims.jti == c.jti);
  RC_ASSERT(out.claims.iat == c.iat);
  RC_ASSERT(out.claims.nbf == c.nbf);
  RC_ASSERT(out.claims.exp == c.exp);
}

RC_GTEST_PROP(JwtProperty, AnySingleByteChangeIsRefused, ()) {
  const std::string token = sign_hs256(*claims_gen(), kSecret);
  std::string changed = token;
  const auto at = *rc::gen::inRange<std::size_t>(0, token.size());
  const auto delta = *rc::gen::inRange<int>(1, 256);
  changed[at] = static_cast<char>((static_cast<unsigned char>(token[at]) + delta) % 256);
  const auto out = verifier().verify(changed, kNow);
  RC_ASSERT(!out.ok);
  RC_ASSERT(!out.refusal.detail.empty());
}

}  // namespace
}  // namespace convlab::auth
