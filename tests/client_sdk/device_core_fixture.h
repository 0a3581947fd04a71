// A real stratad (server_fixture.h) and the device core talking to it
// through libcurl as the host's HTTP stack, for the device core's tests.
#ifndef STRATA_TESTS_CLIENT_SDK_DEVICE_CORE_FIXTURE_H_
#define STRATA_TESTS_CLIENT_SDK_DEVICE_CORE_FIXTURE_H_

#include <strings.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server_fixture.h"
#include "strata/base/sha256.h"
#include "strata/client/http_client.h"
#include "strata/device/c_api.h"
#include "strata/device/device_core.h"
#include "strata/proto/statement_signing.h"
#include "strata/signing/keys.h"

namespace strata::testing {

// The C API's host transport: the test's HttpSend behind a C function.
inline int CHostSend(void* user_data, const char* method, const char* url,
                     const char* const* names, const char* const* values,
                     size_t n, const void* body, size_t body_size,
                     strata_device_http_answer* answer, char* error,
                     size_t error_size) {
  auto* send = static_cast<device::HttpSend*>(user_data);
  device::HttpExchange x;
  x.method = method;
  x.url = url;
  for (size_t i = 0; i < n; ++i) x.headers.emplace_back(names[i], values[i]);
  x.body.assign(static_cast<const char*>(body), body_size);
  device::HttpResult r;
  const device::Error e = (*send)(x, &r);
  if (!e.ok()) {
    snprintf(error, error_size, "%s", e.message.c_str());
    return e.code;
  }
  strata_device_http_answer_set(answer, r.status, r.strata_status.c_str(),
                                r.body.data(), r.body.size());
  return 0;
}

class DeviceCoreTest : public SdkServerTest {
 protected:
  // The host's HTTP stack: libcurl here, as a phone's would be OkHttp.
  device::HttpSend HostHttp() {
    std::shared_ptr<client::HttpClient> http =
        *client::NewCurlHttpClient();  // never fails without options
    return [http, this](const device::HttpExchange& x,
                        device::HttpResult* r) -> device::Error {
      ++exchanges_;
      urls_.push_back(x.url);
      client::HttpCall call;
      call.method = x.method;
      call.url = x.url;
      call.headers = x.headers;
      call.body = x.body;
      struct Sink : client::HttpResponseSink {
        device::HttpResult* r;
        void OnHead(int status, const client::HttpHeaders& h) override {
          r->status = status;
          for (const auto& [k, v] : h) {
            if (strcasecmp(k.c_str(), "strata-status") == 0)
              r->strata_status = v;
            if (strcasecmp(k.c_str(), "content-type") == 0) r->content_type = v;
          }
        }
        bool OnBody(std::string_view b) override {
          r->body.append(b);
          return true;
        }
      } sink;
      sink.r = r;
      absl::Status s = http->Send(call, sink);
      if (!s.ok())
        return {static_cast<int>(s.code()), std::string(s.message())};
      return {};
    };
  }
  device::DeviceCoreOptions Options() {
    device::DeviceCoreOptions o;
    o.server_url = StrCat("http://127.0.0.1:", server_.http_port());
    o.app_id = "wallet";
    o.device_id = "phone-core";
    o.storage_dir = JoinPath(dir_.path(), "phone-core");
    o.http = HostHttp();
    return o;
  }
  // Publishes H5 `name` `version` signed by `key` over its statement.
  void PublishSigned(const signing::PrivateKey& key, const std::string& name,
                     const std::string& version, const std::string& content) {
    v1::ArtifactStatement st;
    st.set_app_id("wallet");
    st.mutable_module()->set_layer(v1::LAYER_H5);
    st.mutable_module()->set_name(name);
    st.set_version(version);
    st.set_content_sha256(Sha256::HexHash(content));
    st.set_size(content.size());
    absl::StatusOr<std::string> sig = key.Sign(StatementSigningBytes(st));
    ASSERT_THAT(sig, IsOk());
    v1::Signature signature;
    signature.set_key_id(key.KeyId());
    signature.set_signature(*sig);
    admin::AdminClient admin(server_.address(), server_.token(),
                             admin::ChannelSecurity::Plaintext());
    ASSERT_THAT(admin.Publish(st, content, "", nullptr, {signature}), IsOk());
  }
  int exchanges_ = 0;
  std::vector<std::string> urls_;
};

}  // namespace strata::testing

#endif  // STRATA_TESTS_CLIENT_SDK_DEVICE_CORE_FIXTURE_H_
