/* The device core (device_core.h) for hosts that cannot take C++ (Swift,
 * Kotlin through JNI, ...): an opaque handle, the host's HTTP stack as a
 * function pointer, plain C. Functions that can fail return 0 or an
 * absl::StatusCode number and set the thread's last error
 * (strata_device_last_error()). */
#ifndef STRATA_DEVICE_C_API_H_
#define STRATA_DEVICE_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_device strata_device;

/* One exchange with stratad through the host's HTTP stack. The host
 * performs `method` ("GET"/"POST") on `url` with the header fields and
 * body, then calls strata_device_http_answer once with the whole answer
 * before returning 0; or returns 14 (UNAVAILABLE) or 4 (DEADLINE_EXCEEDED)
 * with a NUL-terminated reason in `error` when no answer arrived. */
typedef struct strata_device_http_answer strata_device_http_answer;
void strata_device_http_answer_set(strata_device_http_answer* answer,
                                   int status, const char* strata_status,
                                   const void* body, size_t body_size);
typedef int (*strata_device_http_send)(
    void* user_data, const char* method, const char* url,
    const char* const* header_names, const char* const* header_values,
    size_t header_count, const void* body, size_t body_size,
    strata_device_http_answer* answer, char* error, size_t error_size);

typedef struct strata_device_options {
  const char* server_url;
  const char* app_id;
  const char* device_id;
  const char* app_version; /* may be NULL */
  const char* host_build;  /* may be NULL */
  const char* storage_dir;
  /* Pinned publisher keys: key ids and 32-byte raw Ed25519 keys. */
  const char* const* publisher_key_ids;
  const uint8_t* const* publisher_keys;
  size_t publisher_key_count;
  int insecure_skip_signature_verification_for_tests;
  strata_device_http_send http_send;
  void* http_user_data; /* must outlive the handle */
} strata_device_options;

/* NULL on error. */
strata_device* strata_device_open(const strata_device_options* options);
void strata_device_close(strata_device* device);
/* The network the device is on (strata.v1.NetworkType: 0 unknown, 1
 * unmetered, 2 metered, 3 offline); see DeviceCore::SetNetwork. */
void strata_device_set_network(strata_device* device, int network);
/* *installed and *failed (may be NULL): updates installed and refused. */
int strata_device_check(strata_device* device, size_t* installed,
                        size_t* failed);
/* Installs on-demand module `name` of `layer` now (DeviceCore::Fetch):
 * 0 when installed (or deferred by the network rule: *installed 0), 5
 * when the server offers no update of it, 13 with the reason when the
 * update was refused (strata_device_last_error). */
int strata_device_fetch(strata_device* device, int layer, const char* name,
                        size_t* installed);
/* The file holding module `name` of `layer` (strata.v1.Layer number):
 * *path is a malloc'ed copy (free()), NULL when not installed. */
int strata_device_content_path(strata_device* device, int layer,
                               const char* name, char** path);
/* The directory an installed H5/HCF file tree is unpacked in, as above;
 * *path is NULL when the module is not installed or is not a tree. */
int strata_device_tree_dir(strata_device* device, int layer, const char* name,
                           char** path);
/* Offline packages: the file of an installed H5/HCF tree that serves the
 * page `url` (DeviceCore::ResolveUrl). *path is a malloc'ed copy (free())
 * when the page is served from the device, else NULL and, if
 * fallback_reason is not NULL, *fallback_reason a malloc'ed reason to load
 * it from the network. Returns 3 for a URL path that could leave the tree
 * (".." also %-encoded, an encoded '/', a backslash ...). */
int strata_device_resolve_url(strata_device* device, const char* url,
                              char** path, char** fallback_reason);
/* The launch guard (DeviceCore::BeginLaunch, MarkLaunchHealthy): call
 * begin early in every app start; *rolled_back (may be NULL) receives the
 * number of modules taken back. mark_launch_healthy returns 9 without a
 * begin since the last one. */
int strata_device_begin_launch(strata_device* device, size_t* rolled_back);
int strata_device_mark_launch_healthy(strata_device* device);
size_t strata_device_pending_reports(strata_device* device);
const char* strata_device_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STRATA_DEVICE_C_API_H_ */
