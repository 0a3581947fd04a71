#include "strata/server/http/admin_api_handler.h"

#include <chrono>
#include <future>
#include <utility>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/server.h"
#include "grpcpp/support/byte_buffer.h"
#include "strata/base/json.h"
#include "strata/base/strings.h"
#include "strata/proto/grpc_status.h"
#include "strata/server/http/delivery_handler.h"
#include "strata/v1/admin.pb.h"

namespace strata::server {
namespace {

namespace pb = google::protobuf;

constexpr char kAdminService[] = "strata.v1.Admin";  // for method paths

HttpResponse JsonBody(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "application/json; charset=utf-8";
  r.headers["Cache-Control"] = "no-store";
  r.headers["X-Content-Type-Options"] = "nosniff";
  r.body = std::move(body);
  return r;
}

HttpResponse JsonError(const absl::Status& s, int status = 0) {
  Json body = Json::MakeObject();
  body["code"] = absl::StatusCodeToString(s.code());
  body["message"] = ToStd(s.message());
  HttpResponse r = JsonBody(status != 0 ? status : HttpStatusFor(s.code()),
                            body.Dump() + "\n");
  r.headers["Strata-Status"] = std::to_string(static_cast<int>(s.code()));
  return r;
}

// A method name is letters only: nothing else reaches the descriptor
// lookup or the gRPC method path.
bool IsMethodName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

HttpResponse HandleAdminApi(AdminCalls& calls, const HttpRequest& req,
                            std::string_view method_name) {
  // Naming a message of admin.proto links its descriptors in.
  const pb::ServiceDescriptor* service =
      v1::ListAuditRequest::descriptor()->file()->FindServiceByName("Admin");
  const pb::MethodDescriptor* method =
      service != nullptr && IsMethodName(method_name)
          ? service->FindMethodByName(std::string(method_name))
          : nullptr;
  if (method == nullptr) {
    return JsonError(absl::NotFoundError(
        StrCat("no Admin method '", method_name.substr(0, 64),
               "'; POST /api/v1/<Method> with a unary method of "
               "strata.v1.Admin (proto/strata/v1/admin.proto), e.g. "
               "/api/v1/ListReleases")));
  }
  if (method->client_streaming() || method->server_streaming()) {
    return JsonError(absl::InvalidArgumentError(
        StrCat(method->name(),
               " is a streaming method, which the JSON API does not carry; "
               "use the strata CLI (e.g. `strata publish`)")));
  }
  auto type = req.headers.find("content-type");
  if (type == req.headers.end() ||
      type->second.substr(0, type->second.find(';')) != "application/json") {
    return JsonError(absl::InvalidArgumentError(
                         "the body must be the request as protobuf JSON with "
                         "Content-Type: application/json"),
                     415);
  }
  std::string authorization;
  if (auto it = req.headers.find("authorization"); it != req.headers.end()) {
    authorization = it->second;
  }
  const pb::Message* prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(
          method->input_type());
  const pb::Message* response_prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(
          method->output_type());
  if (prototype == nullptr || response_prototype == nullptr) {
    return JsonError(absl::InternalError(
        StrCat("no message type for ", method->full_name())));
  }
  std::unique_ptr<pb::Message> request(prototype->New());
  const std::string body = req.body.empty() ? "{}" : req.body;
  pb::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  if (auto s = pb::util::JsonStringToMessage(body, request.get(), parse);
      !s.ok()) {
    // Protobuf's message quotes the input after its first line: only that
    // line goes back (no reflected bytes, which need not be UTF-8).
    std::string_view why(s.message().data(), s.message().size());
    why = why.substr(0, why.find('\n'));
    return JsonError(absl::InvalidArgumentError(
        StrCat("the body is not a ", method->input_type()->full_name(),
               " in protobuf JSON: ", why)));
  }
  std::string response_bytes;
  absl::Status called =
      calls.Call(StrCat("/", kAdminService, "/", method->name()), authorization,
                 request->SerializeAsString(), &response_bytes);
  if (!called.ok()) return JsonError(called);
  std::unique_ptr<pb::Message> response(response_prototype->New());
  if (!response->ParseFromString(response_bytes)) {
    return JsonError(absl::InternalError(
        StrCat(method->full_name(), " answered bytes that are not a ",
               method->output_type()->full_name())));
  }
  pb::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  std::string json;
  if (auto s = pb::util::MessageToJsonString(*response, &json, print);
      !s.ok()) {
    return JsonError(absl::InternalError(StrCat(
        "printing ", method->output_type()->full_name(),
        " as JSON: ", std::string(s.message().data(), s.message().size()))));
  }
  return JsonBody(200, std::move(json));
}

class InProcessCalls final : public AdminCalls {
 public:
  explicit InProcessCalls(std::shared_ptr<grpc::Channel> channel)
      : stub_(std::move(channel)) {}

  absl::Status Call(const std::string& full_method,
                    std::string_view authorization, const std::string& request,
                    std::string* response) override {
    grpc::ClientContext context;
    if (!authorization.empty()) {
      context.AddMetadata("authorization", std::string(authorization));
    }
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(60));
    grpc::Slice slice(request);
    grpc::ByteBuffer in(&slice, 1);
    grpc::ByteBuffer out;
    std::promise<grpc::Status> done;
    stub_.UnaryCall(&context, full_method, grpc::StubOptions(), &in, &out,
                    [&done](grpc::Status s) { done.set_value(std::move(s)); });
    grpc::Status status = done.get_future().get();
    if (!status.ok()) return FromGrpcStatus(status);
    std::vector<grpc::Slice> slices;
    if (!out.Dump(&slices).ok()) {
      return absl::InternalError(StrCat(full_method, ": unreadable response"));
    }
    response->clear();
    for (const grpc::Slice& s : slices) {
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return absl::OkStatus();
  }

 private:
  grpc::GenericStub stub_;
};

}  // namespace

std::shared_ptr<AdminCalls> InProcessAdminCalls(grpc::Server* server,
                                                int max_message_bytes) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(max_message_bytes);
  args.SetMaxSendMessageSize(max_message_bytes);
  return std::make_shared<InProcessCalls>(server->InProcessChannel(args));
}

void AddAdminApiRoutes(HttpRouter& router, std::shared_ptr<AdminCalls> calls) {
  router.Prefix(kAdminApiPrefix, {"POST"},
                [calls](const HttpRequest& req, std::string_view rest) {
                  return HandleAdminApi(*calls, req, rest);
                });
}

}  // namespace strata::server
