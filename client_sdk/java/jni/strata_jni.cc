// libstrata_jni: the JNI side of strata.sdk.StrataClient, over the C API
// only (strata/client/c_api.h), so the binding sees exactly what any other
// host sees. Errors become strata.sdk.StrataException(code, message).
#include <jni.h>

#include <cstdint>
#include <optional>
#include <string>

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

}  // namespace

extern "C" {

JNIEXPORT jlong JNICALL Java_strata_sdk_StrataClient_nativeCreate(
    JNIEnv* env, jclass, jstring server, jstring app, jstring device,
    jstring app_version, jstring storage, jstring root, jstring ca_pem,
    jboolean insecure_skip, jboolean plaintext, jint network,
    jlong daily_budget) {
  const auto s_server = Utf(env, server), s_app = Utf(env, app),
             s_device = Utf(env, device), s_version = Utf(env, app_version),
             s_storage = Utf(env, storage), s_root = Utf(env, root),
             s_ca = Utf(env, ca_pem);
  if (env->ExceptionCheck()) return 0;
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
  strata_client* c = strata_client_create(&o);
  if (c == nullptr) {
    Throw(env, 3);  // the C API reports creation failures as NULL
    return 0;
  }
  return static_cast<jlong>(reinterpret_cast<intptr_t>(c));
}

JNIEXPORT void JNICALL Java_strata_sdk_StrataClient_nativeDestroy(JNIEnv*,
                                                                  jclass,
                                                                  jlong h) {
  strata_client_destroy(Client(h));
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
