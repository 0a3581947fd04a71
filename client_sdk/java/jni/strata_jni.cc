// libstrata_jni: the JNI side of strata.sdk.StrataClient, over the C API
// only (strata/client/c_api.h), so the binding sees exactly what any other
// host sees. Errors become strata.sdk.StrataException(code, message).
#include <jni.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "strata/base/mutex.h"
#include "strata/client/c_api.h"

namespace {

// A Java string as UTF-8 (modified UTF-8 is the same for the ASCII and
// BMP text the SDK takes); nullopt for null.
std::optional<std::string> Utf(JNIEnv* env, jstring s) {
  if (s == nullptr) return std::nullopt;
  const char* chars = env->GetStringUTFChars(s, nullptr);
  if (chars == nullptr) return std::nullopt;  // OutOfMemoryError pending
  std::string out(chars);
  env->ReleaseStringUTFChars(s, chars);
  return out;
}

const char* CStr(const std::optional<std::string>& s) {
  return s.has_value() ? s->c_str() : nullptr;
}

strata_client* Client(jlong h) {
  return reinterpret_cast<strata_client*>(static_cast<intptr_t>(h));
}

// Throws StrataException for a non-zero C API result; true if thrown.
bool Throw(JNIEnv* env, int code) {
  if (code == 0) return false;
  if (env->ExceptionCheck()) return true;  // e.g. from a listener
  jclass cls = env->FindClass("strata/sdk/StrataException");
  if (cls == nullptr) return true;
  jmethodID ctor = env->GetMethodID(cls, "<init>", "(ILjava/lang/String;)V");
  if (ctor == nullptr) return true;
  jstring message = env->NewStringUTF(strata_last_error());
  auto e = static_cast<jthrowable>(env->NewObject(cls, ctor, code, message));
  if (e != nullptr) env->Throw(e);
  return true;
}

// A malloc'ed C API string as a Java string (null for NULL), freed.
jstring TakeString(JNIEnv* env, char* s) {
  if (s == nullptr) return nullptr;
  jstring out = env->NewStringUTF(s);
  strata_free(s);
  return out;
}

jlongArray Longs(JNIEnv* env, jlong a, jlong b) {
  jlongArray out = env->NewLongArray(2);
  if (out == nullptr) return nullptr;
  const jlong v[2] = {a, b};
  env->SetLongArrayRegion(out, 0, 2, v);
  return out;
}

struct Progress {
  JNIEnv* env;
  jobject listener;
  jmethodID method;
};

void OnProgress(void* user_data, uint64_t received, uint64_t total, int done) {
  auto* p = static_cast<Progress*>(user_data);
  if (p->env->ExceptionCheck()) return;  // the listener threw before
  p->env->CallVoidMethod(p->listener, p->method, static_cast<jlong>(received),
                         static_cast<jlong>(total),
                         static_cast<jboolean>(done != 0));
}

// StrataHttpTransport behind the C API's strata_http_transport: one per
// client that has one, alive until nativeDestroy.
struct JavaTransport {
  JavaVM* vm = nullptr;
  jobject transport = nullptr;  // global references
  jclass request_class = nullptr;
  jclass string_class = nullptr;
  jmethodID request_ctor = nullptr;
  jmethodID send = nullptr;
  jfieldID status = nullptr, names = nullptr, values = nullptr, body = nullptr;
  strata_http_transport c{};
};

strata::Mutex transports_mu;
std::map<strata_client*, JavaTransport*>& Transports() {
  static auto* m = new std::map<strata_client*, JavaTransport*>();
  return *m;
}

void Release(JNIEnv* env, JavaTransport* t) {
  if (t == nullptr) return;
  if (t->transport != nullptr) env->DeleteGlobalRef(t->transport);
  if (t->request_class != nullptr) env->DeleteGlobalRef(t->request_class);
  if (t->string_class != nullptr) env->DeleteGlobalRef(t->string_class);
  delete t;
}

jobjectArray Strings(JNIEnv* env, jclass string_class,
                     const char* const* values, size_t n) {
  jobjectArray out =
      env->NewObjectArray(static_cast<jsize>(n), string_class, nullptr);
  for (size_t i = 0; out != nullptr && i < n; ++i) {
    jstring v = env->NewStringUTF(values[i]);
    env->SetObjectArrayElement(out, static_cast<jsize>(i), v);
    env->DeleteLocalRef(v);
  }
  return out;
}

// The pending Java exception as a reason (cleared).
void TakeException(JNIEnv* env, char* error, size_t error_size) {
  jthrowable e = env->ExceptionOccurred();
  env->ExceptionClear();
  std::snprintf(error, error_size, "the app's StrataHttpTransport threw");
  if (e == nullptr) return;
  jclass cls = env->GetObjectClass(e);
  jmethodID to_string =
      env->GetMethodID(cls, "toString", "()Ljava/lang/String;");
  if (to_string == nullptr) {
    env->ExceptionClear();
    return;
  }
  auto text = static_cast<jstring>(env->CallObjectMethod(e, to_string));
  if (env->ExceptionCheck() || text == nullptr) {
    env->ExceptionClear();
    return;
  }
  const std::optional<std::string> s = Utf(env, text);
  if (s.has_value()) std::snprintf(error, error_size, "%s", s->c_str());
}

int SendOnJava(JNIEnv* env, JavaTransport* t, const char* method,
               const char* url, const char* const* names,
               const char* const* values, size_t count, const void* body,
               size_t body_size, uint64_t timeout_ms,
               strata_http_response* response, char* error, size_t error_size) {
  jstring m = env->NewStringUTF(method);
  jstring u = env->NewStringUTF(url);
  jobjectArray n = Strings(env, t->string_class, names, count);
  jobjectArray v = Strings(env, t->string_class, values, count);
  jbyteArray b = env->NewByteArray(static_cast<jsize>(body_size));
  if (b != nullptr && body_size > 0) {
    env->SetByteArrayRegion(b, 0, static_cast<jsize>(body_size),
                            static_cast<const jbyte*>(body));
  }
  if (env->ExceptionCheck()) {
    TakeException(env, error, error_size);
    return 8;  // RESOURCE_EXHAUSTED: out of Java memory
  }
  jobject request = env->NewObject(t->request_class, t->request_ctor, m, u, n,
                                   v, b, static_cast<jlong>(timeout_ms));
  jobject r = request == nullptr
                  ? nullptr
                  : env->CallObjectMethod(t->transport, t->send, request);
  if (env->ExceptionCheck() || r == nullptr) {
    if (env->ExceptionCheck()) {
      TakeException(env, error, error_size);
    } else {
      std::snprintf(error, error_size,
                    "the app's StrataHttpTransport returned null");
    }
    return 14;  // UNAVAILABLE
  }
  const jint status = env->GetIntField(r, t->status);
  auto rn = static_cast<jobjectArray>(env->GetObjectField(r, t->names));
  auto rv = static_cast<jobjectArray>(env->GetObjectField(r, t->values));
  auto rb = static_cast<jbyteArray>(env->GetObjectField(r, t->body));
  std::vector<std::string> keep;
  const jsize headers =
      rn == nullptr || rv == nullptr
          ? 0
          : std::min(env->GetArrayLength(rn), env->GetArrayLength(rv));
  keep.reserve(2 * static_cast<size_t>(headers));
  for (jsize i = 0; i < headers; ++i) {
    auto kn = static_cast<jstring>(env->GetObjectArrayElement(rn, i));
    auto kv = static_cast<jstring>(env->GetObjectArrayElement(rv, i));
    keep.push_back(Utf(env, kn).value_or(""));
    keep.push_back(Utf(env, kv).value_or(""));
    env->DeleteLocalRef(kn);
    env->DeleteLocalRef(kv);
  }
  std::vector<const char*> hn, hv;
  for (size_t i = 0; i + 1 < keep.size(); i += 2) {
    hn.push_back(keep[i].c_str());
    hv.push_back(keep[i + 1].c_str());
  }
  strata_http_response_head(response, status, hn.data(), hv.data(), hn.size());
  if (rb != nullptr) {
    jbyte* bytes = env->GetByteArrayElements(rb, nullptr);
    if (bytes != nullptr) {
      (void)strata_http_response_body(
          response, bytes, static_cast<size_t>(env->GetArrayLength(rb)));
      env->ReleaseByteArrayElements(rb, bytes, JNI_ABORT);
    }
  }
  return 0;
}

// strata_http_transport.send: on the SDK's thread, attached to the JVM for
// the call if it is not a Java thread already.
int JavaSend(void* user_data, const char* method, const char* url,
             const char* const* names, const char* const* values, size_t count,
             const void* body, size_t body_size, uint64_t timeout_ms,
             strata_http_response* response, char* error, size_t error_size) {
  auto* t = static_cast<JavaTransport*>(user_data);
  JNIEnv* env = nullptr;
  bool attached = false;
  if (t->vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) !=
      JNI_OK) {
    if (t->vm->AttachCurrentThreadAsDaemon(reinterpret_cast<void**>(&env),
                                           nullptr) != JNI_OK) {
      std::snprintf(error, error_size, "cannot attach the thread to the JVM");
      return 14;
    }
    attached = true;
  }
  env->PushLocalFrame(64);
  const int rc = SendOnJava(env, t, method, url, names, values, count, body,
                            body_size, timeout_ms, response, error, error_size);
  env->PopLocalFrame(nullptr);
  if (attached) t->vm->DetachCurrentThread();
  return rc;
}

// A JavaTransport for `transport`, or null with an exception pending.
JavaTransport* NewJavaTransport(JNIEnv* env, jobject transport) {
  auto* t = new JavaTransport();
  if (env->GetJavaVM(&t->vm) != 0) {
    delete t;
    return nullptr;
  }
  t->transport = env->NewGlobalRef(transport);
  jclass req = env->FindClass("strata/sdk/StrataHttpTransport$Request");
  jclass res = env->FindClass("strata/sdk/StrataHttpTransport$Response");
  jclass str = env->FindClass("java/lang/String");
  jclass iface = env->FindClass("strata/sdk/StrataHttpTransport");
  if (req == nullptr || res == nullptr || str == nullptr || iface == nullptr) {
    Release(env, t);
    return nullptr;
  }
  t->request_class = static_cast<jclass>(env->NewGlobalRef(req));
  t->string_class = static_cast<jclass>(env->NewGlobalRef(str));
  t->request_ctor = env->GetMethodID(
      req, "<init>",
      "(Ljava/lang/String;Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/"
      "String;[BJ)V");
  t->send = env->GetMethodID(iface, "send",
                             "(Lstrata/sdk/StrataHttpTransport$Request;)"
                             "Lstrata/sdk/StrataHttpTransport$Response;");
  t->status = env->GetFieldID(res, "status", "I");
  t->names = env->GetFieldID(res, "headerNames", "[Ljava/lang/String;");
  t->values = env->GetFieldID(res, "headerValues", "[Ljava/lang/String;");
  t->body = env->GetFieldID(res, "body", "[B");
  if (t->request_ctor == nullptr || t->send == nullptr ||
      t->status == nullptr || t->names == nullptr || t->values == nullptr ||
      t->body == nullptr) {
    Release(env, t);
    return nullptr;
  }
  t->c.user_data = t;
  t->c.send = &JavaSend;
  return t;
}

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_strata_sdk_StrataClient_nativeCreate(
    JNIEnv* env, jclass, jstring server, jstring app, jstring device,
    jstring app_version, jstring storage, jstring root, jstring ca_pem,
    jboolean insecure_skip, jboolean plaintext, jint network,
    jlong daily_budget, jstring server_url, jobject transport) {
  const auto s_server = Utf(env, server), s_app = Utf(env, app),
             s_device = Utf(env, device), s_version = Utf(env, app_version),
             s_storage = Utf(env, storage), s_root = Utf(env, root),
             s_ca = Utf(env, ca_pem), s_url = Utf(env, server_url);
  if (env->ExceptionCheck()) return 0;
  JavaTransport* java_transport = nullptr;
  if (transport != nullptr) {
    java_transport = NewJavaTransport(env, transport);
    if (java_transport == nullptr) return 0;  // exception pending
  }
  strata_client_options o{};
  o.server_address = CStr(s_server);
  o.app_id = CStr(s_app);
  o.device_id = CStr(s_device);
  o.app_version = CStr(s_version);
  o.storage_dir = CStr(s_storage);
  o.pinned_root_json = CStr(s_root);
  o.tls_ca_pem = CStr(s_ca);
  o.insecure_skip_signature_verification_for_tests = insecure_skip ? 1 : 0;
  o.insecure_plaintext_to_loopback_for_tests = plaintext ? 1 : 0;
  o.network = network;
  o.daily_budget_bytes = static_cast<uint64_t>(daily_budget);
  o.server_url = CStr(s_url);
  o.http_transport = java_transport == nullptr ? nullptr : &java_transport->c;
  strata_client* c = strata_client_create(&o);
  if (c == nullptr) {
    Release(env, java_transport);
    // The C API reports creation failures as NULL and the code apart.
    const int code = strata_last_error_code();
    Throw(env, code != 0 ? code : 2);
    return 0;
  }
  if (java_transport != nullptr) {
    strata::MutexLock lock(&transports_mu);
    Transports()[c] = java_transport;
  }
  return static_cast<jlong>(reinterpret_cast<intptr_t>(c));
}

JNIEXPORT void JNICALL Java_strata_sdk_StrataClient_nativeDestroy(JNIEnv* env,
                                                                  jclass,
                                                                  jlong h) {
  strata_client_destroy(Client(h));
  JavaTransport* t = nullptr;
  {
    strata::MutexLock lock(&transports_mu);
    auto it = Transports().find(Client(h));
    if (it != Transports().end()) {
      t = it->second;
      Transports().erase(it);
    }
  }
  Release(env, t);  // after the client: no call is running
}

JNIEXPORT jlongArray JNICALL
Java_strata_sdk_StrataClient_nativeCheck(JNIEnv* env, jclass, jlong h) {
  size_t installed = 0, failed = 0;
  if (Throw(env, strata_client_check(Client(h), &installed, &failed))) {
    return nullptr;
  }
  return Longs(env, static_cast<jlong>(installed), static_cast<jlong>(failed));
}

JNIEXPORT jstring JNICALL Java_strata_sdk_StrataClient_nativeOpenModule(
    JNIEnv* env, jclass, jlong h, jstring layer, jstring name, jobject listener,
    jlong cancel) {
  const auto l = Utf(env, layer), n = Utf(env, name);
  if (env->ExceptionCheck()) return nullptr;
  Progress p{env, listener, nullptr};
  if (listener != nullptr) {
    jclass cls = env->GetObjectClass(listener);
    p.method = env->GetMethodID(cls, "onProgress", "(JJZ)V");
    if (p.method == nullptr) return nullptr;
  }
  char* path = nullptr;
  const int code = strata_client_open_module_with_progress(
      Client(h), CStr(l), CStr(n), listener != nullptr ? OnProgress : nullptr,
      &p, reinterpret_cast<strata_cancel*>(static_cast<intptr_t>(cancel)),
      &path);
  if (Throw(env, code) || env->ExceptionCheck()) {
    strata_free(path);
    return nullptr;
  }
  return TakeString(env, path);
}

JNIEXPORT jstring JNICALL Java_strata_sdk_StrataClient_nativeModuleDir(
    JNIEnv* env, jclass, jlong h, jstring layer, jstring name) {
  const auto l = Utf(env, layer), n = Utf(env, name);
  if (env->ExceptionCheck()) return nullptr;
  char* path = nullptr;
  if (Throw(env,
            strata_client_module_dir(Client(h), CStr(l), CStr(n), &path))) {
    return nullptr;
  }
  return TakeString(env, path);
}

JNIEXPORT jstring JNICALL Java_strata_sdk_StrataClient_nativeResolveUrl(
    JNIEnv* env, jclass, jlong h, jstring url) {
  const auto u = Utf(env, url);
  if (env->ExceptionCheck()) return nullptr;
  char* path = nullptr;
  if (Throw(env, strata_client_resolve_url(Client(h), CStr(u), &path))) {
    return nullptr;
  }
  return TakeString(env, path);
}

JNIEXPORT jstring JNICALL Java_strata_sdk_StrataClient_nativeGetConfig(
    JNIEnv* env, jclass, jlong h, jstring name) {
  const auto n = Utf(env, name);
  if (env->ExceptionCheck()) return nullptr;
  char* value = nullptr;
  if (Throw(env,
            strata_client_get_config(Client(h), CStr(n), &value, nullptr))) {
    return nullptr;
  }
  return TakeString(env, value);
}

JNIEXPORT void JNICALL Java_strata_sdk_StrataClient_nativeSetNetwork(
    JNIEnv* env, jclass, jlong h, jint network) {
  Throw(env, strata_client_set_network(Client(h), network));
}

JNIEXPORT void JNICALL Java_strata_sdk_StrataClient_nativePrefetch(
    JNIEnv* env, jclass, jlong h, jstring layer, jstring name) {
  const auto l = Utf(env, layer), n = Utf(env, name);
  if (env->ExceptionCheck()) return;
  Throw(env, strata_client_prefetch(Client(h), CStr(l), CStr(n)));
}

JNIEXPORT jlongArray JNICALL
Java_strata_sdk_StrataClient_nativePending(JNIEnv* env, jclass, jlong h) {
  size_t pending = 0, mandatory = 0;
  if (Throw(env,
            strata_client_pending_downloads(Client(h), &pending, &mandatory))) {
    return nullptr;
  }
  return Longs(env, static_cast<jlong>(pending), static_cast<jlong>(mandatory));
}

JNIEXPORT jlongArray JNICALL Java_strata_sdk_StrataClient_nativeTraffic(
    JNIEnv* env, jclass, jlong h, jint network) {
  uint64_t today = 0, total = 0;
  if (Throw(env, strata_client_traffic(Client(h), network, &today, &total))) {
    return nullptr;
  }
  return Longs(env, static_cast<jlong>(today), static_cast<jlong>(total));
}

JNIEXPORT jstring JNICALL Java_strata_sdk_StrataClient_nativeReportFailure(
    JNIEnv* env, jclass, jlong h, jint kind, jstring exception_type,
    jobjectArray frames, jstring layer, jstring module) {
  const auto type = Utf(env, exception_type), l = Utf(env, layer),
             m = Utf(env, module);
  if (env->ExceptionCheck()) return nullptr;
  std::vector<std::string> frame_strings;
  const jsize n = frames == nullptr ? 0 : env->GetArrayLength(frames);
  for (jsize i = 0; i < n; ++i) {
    auto element = static_cast<jstring>(env->GetObjectArrayElement(frames, i));
    auto f = Utf(env, element);
    env->DeleteLocalRef(element);
    if (env->ExceptionCheck()) return nullptr;
    frame_strings.push_back(f.value_or(""));
  }
  std::vector<const char*> frame_ptrs;
  for (const std::string& f : frame_strings) frame_ptrs.push_back(f.c_str());
  char* id = nullptr;
  if (Throw(env,
            strata_client_report_failure(
                Client(h), kind, CStr(type), frame_ptrs.data(),
                frame_ptrs.size(), nullptr, CStr(l), CStr(m), nullptr, &id))) {
    return nullptr;
  }
  return TakeString(env, id);
}

JNIEXPORT jstring JNICALL Java_strata_sdk_StrataClient_nativeDisabledBy(
    JNIEnv* env, jclass, jlong h, jstring layer, jstring module) {
  const auto l = Utf(env, layer), m = Utf(env, module);
  if (env->ExceptionCheck()) return nullptr;
  char* id = nullptr;
  if (Throw(env, strata_client_disabled_by(Client(h), CStr(l), CStr(m), &id))) {
    return nullptr;
  }
  return TakeString(env, id);
}

JNIEXPORT jlong JNICALL
Java_strata_sdk_StrataClient_nativeBeginLaunch(JNIEnv* env, jclass, jlong h) {
  size_t rolled_back = 0;
  if (Throw(env, strata_client_begin_launch(Client(h), &rolled_back))) return 0;
  return static_cast<jlong>(rolled_back);
}

JNIEXPORT void JNICALL Java_strata_sdk_StrataClient_nativeMarkLaunchHealthy(
    JNIEnv* env, jclass, jlong h) {
  Throw(env, strata_client_mark_launch_healthy(Client(h)));
}

JNIEXPORT jlong JNICALL Java_strata_sdk_StrataClient_nativeOnResume(JNIEnv* env,
                                                                    jclass,
                                                                    jlong h) {
  size_t activated = 0;
  if (Throw(env, strata_client_on_resume(Client(h), &activated))) return 0;
  return static_cast<jlong>(activated);
}

JNIEXPORT jlong JNICALL Java_strata_sdk_StrataClient_nativeCancelNew(JNIEnv*,
                                                                     jclass) {
  return static_cast<jlong>(reinterpret_cast<intptr_t>(strata_cancel_new()));
}

JNIEXPORT void JNICALL Java_strata_sdk_StrataClient_nativeCancel(JNIEnv*,
                                                                 jclass,
                                                                 jlong c) {
  strata_cancel_cancel(
      reinterpret_cast<strata_cancel*>(static_cast<intptr_t>(c)));
}

JNIEXPORT void JNICALL Java_strata_sdk_StrataClient_nativeCancelFree(JNIEnv*,
                                                                     jclass,
                                                                     jlong c) {
  strata_cancel_free(
      reinterpret_cast<strata_cancel*>(static_cast<intptr_t>(c)));
}

}  // extern "C"
