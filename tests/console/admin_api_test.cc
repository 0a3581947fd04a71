// The Admin API as JSON on stratad's HTTP port (server/http
// admin_api_handler.h) and the console's static files, against a real
// StrataServer on loopback, through the real curl.
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "../integration/test_server.h"
#include "../server/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "strata/base/strings.h"
#include "strata/server/http/console_handler.h"

namespace strata {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Reply {
  int exit_code;
  std::string headers;
  std::string body;
};

class HttpAdminApiTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.Start(JoinPath(dir_.path(), "server")); }

  // curl with `args` against `path` on the HTTP port.
  Reply Curl(const std::string& path, const std::string& args) {
    const std::string headers = JoinPath(dir_.path(), "h"),
                      body = JoinPath(dir_.path(), "b");
    (void)PosixFileSystem()->DeleteFile(body);
    (void)PosixFileSystem()->DeleteFile(headers);
    const std::string cmd =
        StrCat("curl -sS -D ", headers, " -o ", body, " ", args,
               " http://127.0.0.1:", server_.http_port(), path);
    const int status = std::system(cmd.c_str());
    Reply r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, "", ""};
    r.headers = PosixFileSystem()->ReadFile(headers).value_or("");
    r.body = PosixFileSystem()->ReadFile(body).value_or("");
    return r;
  }

  // POST /api/v1/<method> with a JSON `body` and `token` ("" for none).
  Reply Post(const std::string& method, const std::string& body,
             const std::string& token) {
    const std::string file = JoinPath(dir_.path(), "req.json");
    EXPECT_TRUE(WriteFileAtomically(*PosixFileSystem(), file, body).ok());
    std::string args = "-X POST -H 'Content-Type: application/json' ";
    if (!token.empty()) {
      args += StrCat("-H 'Authorization: Bearer ", token, "' ");
    }
    return Curl(StrCat("/api/v1/", method),
                StrCat(args, "--data-binary @", file));
  }

  // A token made through the JSON API by the admin.
  std::string CreateToken(const std::string& name, const std::string& role) {
    Reply r = Post("CreateToken",
                   StrCat(R"({"name":")", name, R"(","role":")", role,
                          R"(","appId":"*"})"),
                   server_.token());
    EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 200")) << r.body;
    const size_t at = r.body.find("stk_");
    EXPECT_NE(at, std::string::npos) << r.body;
    return at == std::string::npos ? "" : r.body.substr(at, 4 + 64);
  }

  size_t AuditEntries() {
    Reply r = Post("ListAudit", "{}", server_.token());
    size_t n = 0;
    for (size_t at = r.body.find("\"seq\""); at != std::string::npos;
         at = r.body.find("\"seq\"", at + 1)) {
      ++n;
    }
    return n;
  }

  testing::TempDir dir_;
  testing::TestServer server_;
};

TEST_F(HttpAdminApiTest, AdminReadsTheAuditLogAsJson) {
  Reply r = Post("ListAudit", R"({"afterSeq":"0"})", server_.token());
  ASSERT_EQ(r.exit_code, 0) << "is curl installed? ./strata.sh deps";
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: application/json"));
  EXPECT_THAT(r.headers, HasSubstr("Cache-Control: no-store"));
  EXPECT_THAT(r.headers, HasSubstr("X-Content-Type-Options: nosniff"));
  EXPECT_THAT(r.headers, Not(HasSubstr("Access-Control-Allow-Origin")));
  EXPECT_THAT(r.body, HasSubstr(R"("action":"token.create")"));
  EXPECT_THAT(r.body, HasSubstr(R"("prevHash":"")"));
}

TEST_F(HttpAdminApiTest, NoTokenIsUnauthenticated) {
  Reply r = Post("ListReleases", R"({"appId":"wallet"})", "");
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 401"));
  EXPECT_THAT(r.body, HasSubstr(R"("code":"UNAUTHENTICATED")"));
  r = Post("ListReleases", R"({"appId":"wallet"})", "stk_0000");
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 401"));
}

TEST_F(HttpAdminApiTest, ViewerIsDeniedWhatTheCliDeniesAndNothingIsAudited) {
  const std::string viewer = CreateToken("console-viewer", "ROLE_VIEWER");
  const size_t before = AuditEntries();
  Reply r =
      Post("CreateToken",
           R"({"name":"sneaky","role":"ROLE_ADMIN","appId":"*"})", viewer);
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 403"));
  EXPECT_THAT(r.body, HasSubstr(R"("code":"PERMISSION_DENIED")"));
  EXPECT_THAT(r.body, HasSubstr("token.create needs admin"));
  EXPECT_EQ(AuditEntries(), before);
  // The viewer still reads.
  r = Post("ListAudit", "{}", viewer);
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 200"));
  // The same call by the admin is carried out and audited.
  CreateToken("second", "ROLE_RELEASE_MANAGER");
  EXPECT_EQ(AuditEntries(), before + 1);
}

TEST_F(HttpAdminApiTest, UnknownAndStreamingMethodsAreRefused) {
  Reply r = Post("NoSuchMethod", "{}", server_.token());
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(r.body, HasSubstr("no Admin method 'NoSuchMethod'"));
  r = Post("Publish", "{}", server_.token());
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(r.body, HasSubstr("streaming method"));
  r = Post("..%2FDelivery%2FCheck", "{}", server_.token());
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 404"));
  r = Curl("/api/v1/ListAudit", "");  // GET
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 405"));
}

TEST_F(HttpAdminApiTest, BadJsonAndWrongContentTypeAreRefused) {
  Reply r = Post("ListReleases", R"({"appId":)", server_.token());
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(r.body, HasSubstr("not a strata.v1.ListReleasesRequest"));
  r = Post("ListReleases", R"({"noSuchField":1})", server_.token());
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 400"));
  // Bytes that are not UTF-8 are refused and not echoed back.
  r = Post("ListReleases", "{\"appId\xff\":1}", server_.token());
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(r.body, HasSubstr("non UTF-8"));
  EXPECT_THAT(r.body, Not(HasSubstr("\xff")));
  // A form post from another site cannot set application/json.
  r = Curl("/api/v1/ListReleases",
           StrCat("-X POST -H 'Authorization: Bearer ", server_.token(),
                  "' -d appId=wallet"));
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 415"));
}

TEST_F(HttpAdminApiTest, ConsolePagesCarryTheirSecurityHeaders) {
  Reply r = Curl("/console/", "");
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: text/html"));
  EXPECT_THAT(r.headers, HasSubstr(StrCat("Content-Security-Policy: ",
                                          server::kConsoleCsp)));
  EXPECT_THAT(r.headers, HasSubstr("X-Content-Type-Options: nosniff"));
  EXPECT_THAT(r.body, HasSubstr(R"(<script type="module" src="app.js">)"));
  r = Curl("/console/app.js", "");
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: text/javascript"));
  r = Curl("/console", "");
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 301"));
  EXPECT_THAT(r.headers, HasSubstr("Location: /console/"));
  r = Curl("/console/../admin.token", "--path-as-is");
  EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 404"));
  r = Curl("/console/vendor/uPlot.esm.js", "");
  if (server::ConsoleHasCharts()) {
    EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 200"));
  } else {
    EXPECT_THAT(r.headers, HasSubstr("HTTP/1.1 404"));
  }
}

// With --http-tls the console and its API are served over HTTPS with the
// gRPC port's certificate.
TEST(HttpAdminApiTlsTest, ConsoleAndApiWorkOverHttps) {
  testing::TempDir dir;
  const std::string data = JoinPath(dir.path(), "server");
  const std::string token_file = JoinPath(data, "admin.token");
  ASSERT_TRUE(server::InitializeDataDir(data, token_file).ok());
  ASSERT_TRUE(server::InitializeSelfSignedTls(data, {"127.0.0.1"}).ok());
  server::ServerOptions options;
  options.data_dir = data;
  options.listen_address = "127.0.0.1:0";
  options.http_address = "127.0.0.1:0";
  options.http_tls = true;
  auto started = server::StrataServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<server::StrataServer> running = *std::move(started);
  const std::string token =
      PosixFileSystem()->ReadFile(token_file).value_or("");
  const std::string out = JoinPath(dir.path(), "out");
  const std::string base =
      StrCat("curl -sS --cacert ", JoinPath(server::TlsDir(data), "ca.pem"),
             " -o ", out, " -w '%{http_code}' ");
  const std::string url = StrCat("https://127.0.0.1:", running->http_port());
  auto run = [&](const std::string& cmd) {
    std::string code;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return code;
    char buf[16] = {};
    while (std::fgets(buf, sizeof(buf), p) != nullptr) code += buf;
    ::pclose(p);
    return code;
  };
  EXPECT_EQ(run(StrCat(base, url, "/console/")), "200");
  EXPECT_THAT(PosixFileSystem()->ReadFile(out).value_or(""),
              HasSubstr("app.js"));
  EXPECT_EQ(run(StrCat(base,
                       "-X POST -H 'Content-Type: application/json' -H "
                       "'Authorization: Bearer ",
                       token.substr(0, token.find('\n')), "' -d '{}' ", url,
                       "/api/v1/ListAudit")),
            "200");
  EXPECT_THAT(PosixFileSystem()->ReadFile(out).value_or(""),
              HasSubstr("token.create"));
  running->Shutdown();
}

// With http_console off (stratad --http-no-console) neither the pages nor
// the Admin API are on the HTTP port; delivery still is.
TEST(HttpAdminApiOffTest, NoConsoleLeavesOnlyDeliveryOnTheHttpPort) {
  testing::TempDir dir;
  const std::string data = JoinPath(dir.path(), "server");
  const std::string token_file = JoinPath(data, "admin.token");
  ASSERT_TRUE(server::InitializeDataDir(data, token_file).ok());
  server::ServerOptions options;
  options.data_dir = data;
  options.listen_address = "127.0.0.1:0";
  options.http_address = "127.0.0.1:0";
  options.http_console = false;
  auto started = server::StrataServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<server::StrataServer> running = *std::move(started);
  const std::string token =
      PosixFileSystem()->ReadFile(token_file).value_or("");
  const std::string url = StrCat("http://127.0.0.1:", running->http_port());
  auto code = [](const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    char buf[16] = {};
    while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    ::pclose(p);
    return out;
  };
  const std::string curl = "curl -sS -o /dev/null -w '%{http_code}' ";
  EXPECT_EQ(code(StrCat(curl, url, "/console/")), "404");
  EXPECT_EQ(code(StrCat(curl,
                        "-X POST -H 'Content-Type: application/json' -H "
                        "'Authorization: Bearer ",
                        token.substr(0, token.find('\n')), "' -d '{}' ", url,
                        "/api/v1/ListAudit")),
            "404");
  EXPECT_EQ(code(StrCat(curl, url, "/metrics")), "200");
  running->Shutdown();
}

}  // namespace
}  // namespace strata
