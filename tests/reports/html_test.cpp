// The generic page builder (reports/html.hpp): self-contained, escaped, deterministic.
#include "reports/html.hpp"
#include "web/assets.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <stdexcept>

namespace convlab::reports::html {
namespace {

namespace json = boost::json;

Page sample() {
  Page p;
  p.title = "a <b> & \"c\"";
  p.body = "<h1>t</h1>" + chart_slot("one", "x < y");
  json::object spec;
  spec["mark"] = "point";
  spec["data"] = json::object{{"values", json::array{json::object{{"s", "</script><!-- x"}}}}};
  p.charts.push_back({"one", spec});
  return p;
}

TEST(HtmlPage, InlinesTheChartLibraryAndNothingFromTheNetwork) {
  const std::string page = html::page(sample());
  ASSERT_EQ(web::chart_library().size(), 3u);
  for (const web::Asset& a : web::chart_library()) {
    EXPECT_GT(a.script.size(), 10'000u) << a.name;
    EXPECT_NE(page.find("data-library=\"" + a.name + "@" + a.version + "\""), std::string::npos) << a.name;
  }
  EXPECT_EQ(page.find("<script src"), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
}

TEST(HtmlPage, EscapesTheTitleCaptionsAndDataThatWouldCloseTheScript) {
  const std::string page = html::page(sample());
  EXPECT_NE(page.find("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"), std::string::npos);
  EXPECT_NE(page.find("<figcaption>x &lt; y</figcaption>"), std::string::npos);
  // The spec's string is in the JSON with '<' escaped: no early </script>, no comment opener.
  const auto json_at = page.find("id=\"convlab-charts\">");
  ASSERT_NE(json_at, std::string::npos);
  const auto json_end = page.find("</script>", json_at);
  const std::string data = page.substr(json_at, json_end - json_at);
  EXPECT_NE(data.find("\\u003c/script>\\u003c!-- x"), std::string::npos) << data;
  EXPECT_EQ(data.find("<!--"), std::string::npos);
}

TEST(HtmlPage, SameInputSameBytes) { EXPECT_EQ(html::page(sample()), html::page(sample())); }

TEST(HtmlPage, RefusesAChartIdThatCannotBeAnElementId) {
  Page p = sample();
  p.charts.front().id = "a b";
  EXPECT_THROW(html::page(p), std::invalid_argument);
  EXPECT_EQ(slug("clock skew/naive"), "clock-skew-naive");
  EXPECT_EQ(escape("'&'"), "&#39;&amp;&#39;");
}

}  // namespace
}  // namespace convlab::reports::html
