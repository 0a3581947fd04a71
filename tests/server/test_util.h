#ifndef STRATA_TESTS_SERVER_TEST_UTIL_H_
#define STRATA_TESTS_SERVER_TEST_UTIL_H_

#include <cstdlib>
#include <string>

#include "strata/base/env.h"
#include "strata/base/file_util.h"
#include "strata/base/sha256.h"
#include "strata/server/core/auth_core.h"
#include "strata/v1/admin.pb.h"

namespace strata::testing {

// A fresh directory under /tmp, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/strata_test_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)DeleteRecursively(*PosixFileSystem(), path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline v1::PublishHeader ConfigHeader(const std::string& module,
                                      const std::string& version,
                                      const std::string& content) {
  v1::PublishHeader h;
  auto* st = h.mutable_statement();
  st->set_app_id("wallet");
  st->mutable_module()->set_layer(v1::LAYER_CONFIG);
  st->mutable_module()->set_name(module);
  st->set_version(version);
  st->set_content_sha256(Sha256::HexHash(content));
  st->set_size(content.size());
  return h;
}

inline server::Principal AdminPrincipal() {
  return server::Principal{"test-admin", v1::ROLE_ADMIN, "*"};
}

inline v1::AuditEntry TestAudit(const std::string& action) {
  v1::AuditEntry e;
  e.set_actor("test");
  e.set_action(action);
  e.set_app_id("wallet");
  return e;
}

}  // namespace strata::testing

#endif  // STRATA_TESTS_SERVER_TEST_UTIL_H_
