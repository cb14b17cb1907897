// Fuzz target of the JWT verifier (server/auth/jwt.hpp). Byte 0 chooses:
//   even: the rest is a bearer token as a client sends it (the seed corpus holds one signed with
//         the secret, so mutations of a valid token are tried too);
//   odd:  the rest is a header and a payload, split at the first 0 byte, signed here with the
//         server's secret, so the verifier's JSON and claim checks see whatever a holder of the
//         secret could write. An accepted token's claims, signed again, verify to the same claims.
#include "fuzz/targets.hpp"
#include "server/auth/jwt.hpp"

#include <algorithm>
#include <string>

namespace convlab::fuzz {

namespace {
constexpr std::int64_t kNow = 1'800'000'000;  // a fixed clock reading: no wall clock here

const auth::Verifier& verifier() {
  static const auth::Verifier v(auth::JwtConfig{std::string(32, 'k'), "convlab", "convlab", 5});
  return v;
}

bool same_claims(const auth::Claims& a, const auth::Claims& b) {
  return a.user == b.user && a.sub == b.sub && a.agent == b.agent && a.jti == b.jti && a.iss == b.iss &&
         a.aud == b.aud && a.iat == b.iat && a.nbf == b.nbf && a.exp == b.exp;
}
}  // namespace

void jwt(Input in) {
  if (in.empty()) return;
  const std::string_view rest(reinterpret_cast<const char*>(in.data()) + 1, in.size() - 1);
  const auth::Verifier& v = verifier();
  std::string token;
  if ((in[0] & 1) == 0) {
    token = std::string(rest);
  } else {
    const std::size_t cut = std::min(rest.find('\0'), rest.size());
    const std::string head = auth::detail::base64url_encode(rest.substr(0, cut));
    const std::string body = auth::detail::base64url_encode(cut < rest.size() ? rest.substr(cut + 1) : std::string_view());
    const std::string signature = auth::detail::base64url_encode(auth::detail::hmac_sha256(v.config().secret, head + "." + body));
    token = head + "." + body + "." + signature;
  }
  const auth::Verifier::Outcome out = v.verify(token, kNow);
  if (!out.ok) {
    FUZZ_CHECK(!out.refusal.detail.empty(), "a refused token says why");
    return;
  }
  FUZZ_CHECK(token.size() <= auth::detail::kTokenBytesMax, "an accepted token is within the size limit");
  FUZZ_CHECK(out.claims.iss == "convlab" && out.claims.aud == "convlab", "an accepted token names our issuer and audience");
  FUZZ_CHECK(out.claims.exp > kNow - 5 && out.claims.nbf <= kNow + 5, "an accepted token is valid now");
  const auth::Verifier::Outcome again = v.verify(auth::sign_hs256(out.claims, v.config().secret), kNow);
  FUZZ_CHECK(again.ok && same_claims(again.claims, out.claims), "accepted claims, signed again, verify the same");
}

}  // namespace convlab::fuzz
