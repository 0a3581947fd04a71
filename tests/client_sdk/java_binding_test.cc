// The Java binding (client_sdk/java, JNI over the C API) on the host JVM:
// a real stratad in this process gets a tree and an on-demand module, then
// `java` runs tests/client_sdk/java/StrataClientTest.java against it
// (Check, OpenModule with progress and cancel, ResolveUrl), then a client
// over the app's own HTTP stack (StrataHttpTransport on HttpURLConnection).
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server_fixture.h"
#include "strata/base/strings.h"
#include "strata/client/client.h"

namespace strata {
namespace {

using ::strata::testing::IsOk;
using ::testing::HasSubstr;

using JavaBindingTest = testing::SdkServerTest;

TEST_F(JavaBindingTest, CheckOpenModuleAndResolveUrlFromJava) {
  ASSERT_NE(Release(v1::LAYER_H5, "mall", "1",
                    PackTree("mall", {{"strata-package.json",
                                       R"({"url_prefixes": )"
                                       R"(["https://mall.example.com/"]})"},
                                      {"index.html", "<h1>mall</h1>"}})),
            0u);
  v1::DeliveryPolicy lazy;
  lazy.set_on_demand(true);
  ASSERT_NE(Release(v1::LAYER_H5, "game", "1",
                    PackTree("game", {{"index.html", "<h1>game</h1>"},
                                      {"level.bin", std::string(70000, 'l')}}),
                    "", lazy),
            0u);

  const std::string cmd =
      StrCat(STRATA_JAVA_ENV, STRATA_JAVA,
             " -Dstrata.jni.library=", STRATA_JNI_LIBRARY, " -cp ",
             STRATA_JAVA_CLASSPATH, " StrataClientTest ", server_.address(),
             " ", JoinPath(dir_.path(), "java-device"),
             " http://127.0.0.1:", server_.http_port(), " 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << cmd << "\n" << out;
  EXPECT_THAT(out, HasSubstr("java binding: all passed"));
  // The app's own HTTP stack (StrataHttpTransport) carried everything; the
  // binding has no gRPC.
  EXPECT_THAT(out, HasSubstr("ok: mall came through HttpURLConnection"));
  EXPECT_THAT(out, HasSubstr("ok: a gRPC address is refused"));
  EXPECT_THAT(out, HasSubstr("a transport that throws is UNAVAILABLE"));
  // The failure Java reported reached stratad's aggregates under the id
  // the C++ SDK gives the same signature.
  client::FailureSignature f;
  f.exception_type = "TypeError";
  f.top_frames = {"at render (index.html:1:1)"};
  f.layer = client::Layer::kH5;
  f.module = "mall";
  absl::StatusOr<std::string> id = client::FailureSignatureId(f);
  ASSERT_THAT(id, IsOk());
  EXPECT_THAT(out, HasSubstr(StrCat("failure signature ", *id)));
  admin::AdminClient admin(server_.address(), server_.token(),
                           admin::ChannelSecurity::Plaintext());
  v1::GetFailureRequest get;
  get.set_app_id("wallet");
  get.set_signature_id(*id);
  absl::StatusOr<v1::FailureInfo> info = admin.GetFailure(get);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->count(), 1u);
  EXPECT_EQ(info->signature().module().name(), "mall");
}

}  // namespace
}  // namespace strata
