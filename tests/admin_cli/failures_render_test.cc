// The text pages of `strata failures list|show` (docs/remedies.md).
#include "failures_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strata::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::FailureInfo Crash() {
  v1::FailureInfo f;
  v1::FailureSignature* s = f.mutable_signature();
  s->set_signature_id("9c1f0e7a55d2b3a4");
  s->set_kind(v1::FailureSignature::KIND_CRASH);
  s->set_exception_type("TypeError");
  *s->add_top_frames() = "at render (index.html:12:7)";
  s->mutable_module()->set_layer(v1::LAYER_H5);
  s->mutable_module()->set_name("checkout");
  f.set_count(18);
  f.set_devices(6);
  f.set_first_seen_unix(1796000000);
  f.set_last_seen_unix(1796003600);
  v1::AttributeCount* a = f.add_top_attributes();
  a->set_name("os_version");
  a->set_value("13");
  a->set_devices(6);
  v1::FailureWindow* w = f.add_windows();
  w->set_hour_unix(1796000400);
  w->set_count(12);
  w->set_devices(6);
  w->set_launches(48);
  w = f.add_windows();
  w->set_hour_unix(1796004000);
  w->set_count(0);
  w->set_launches(48);
  return f;
}

TEST(FailuresRenderTest, ListShowsSignaturesThenRemedies) {
  v1::ListFailuresResponse list;
  *list.add_failures() = Crash();
  list.set_reports_scanned(1212);
  v1::RemedyCount* r = list.add_remedies();
  r->set_remedy_id("checkout-android13");
  r->set_action("disable_module");
  r->mutable_module()->set_layer(v1::LAYER_H5);
  r->mutable_module()->set_name("checkout");
  r->set_devices(6);
  const std::string out = RenderFailureList("wallet", list);
  EXPECT_THAT(out, HasSubstr("(1,212 stored reports read)"));
  EXPECT_THAT(out,
              HasSubstr("9c1f0e7a55d2b3a4  crash  TypeError  h5/checkout"));
  EXPECT_THAT(out, HasSubstr("13 (6)"));
  EXPECT_THAT(out, HasSubstr("Remedies applied on devices"));
  EXPECT_THAT(out,
              HasSubstr("checkout-android13  disable_module  h5/checkout"));
}

TEST(FailuresRenderTest, AnEmptyListSaysSo) {
  v1::ListFailuresResponse list;
  list.set_reports_scanned(3);
  const std::string out = RenderFailureList("wallet", list);
  EXPECT_THAT(out, HasSubstr("no failure of wallet reported"));
  EXPECT_THAT(out, Not(HasSubstr("Remedies")));
}

TEST(FailuresRenderTest, ShowHasTheFieldsAndTheHourlyRate) {
  const std::string out = RenderFailure("wallet", Crash());
  EXPECT_THAT(out, HasSubstr("Failure 9c1f0e7a55d2b3a4 of wallet"));
  EXPECT_THAT(out, HasSubstr("exception:   TypeError"));
  EXPECT_THAT(out, HasSubstr("frames:      at render (index.html:12:7)"));
  EXPECT_THAT(out, HasSubstr("18 reports from 6 devices"));
  EXPECT_THAT(out, HasSubstr("os_version"));
  EXPECT_THAT(out, HasSubstr("25.00%"));  // 12 of 48 launches
  EXPECT_THAT(out, HasSubstr("0.00%"));   // the hour after
}

}  // namespace
}  // namespace strata::admin
