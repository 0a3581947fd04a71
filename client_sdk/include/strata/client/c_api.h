/* libstrata_client for hosts that cannot take C++: an opaque handle and
 * plain C functions. Every function that can fail returns 0 on success or an
 * absl::StatusCode number, and sets the calling thread's last error
 * (strata_last_error()). Strings returned through out-parameters are
 * allocated by the SDK; free them with strata_free(). */
#ifndef STRATA_CLIENT_C_API_H_
#define STRATA_CLIENT_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_client strata_client;

/* The transport seam (strata/client/http_client.h): the host's own HTTP
 * stack carries the Delivery API (protobuf over HTTP) to stratad's HTTP
 * port. The SDK calls `send` for every request, from several threads at
 * once; the host performs it and hands the response back through
 * strata_http_response_head (once) and strata_http_response_body (the body
 * in pieces, in order) before `send` returns. */
typedef struct strata_http_response strata_http_response;
void strata_http_response_head(strata_http_response* response, int status,
                               const char* const* header_names,
                               const char* const* header_values,
                               size_t header_count);
/* 1: go on; 0: the SDK wants no more (stop the request and return 0). */
int strata_http_response_body(strata_http_response* response, const void* data,
                              size_t size);
/* 1 when the SDK wants this request stopped although no bytes came: a
 * config watch (POST .../watch-config) the app stops while the server sends
 * nothing. A host whose stack can wait long should poll it while the
 * request runs (every 100-250 ms), then stop the request and return 0.
 * A host that does not is stopped at the next body bytes, which stratad
 * sends at least every `--http-push-heartbeat` (30 s). */
int strata_http_response_cancelled(const strata_http_response* response);
typedef struct strata_http_transport {
  void* user_data;
  /* `method` "GET" or "POST"; `body` (may be NULL when body_size is 0);
   * the whole exchange should end within `timeout_ms`. Returns 0 when a
   * response was handed over (whatever its HTTP status) or the SDK
   * stopped it; else a status code, 14 (UNAVAILABLE: no connection, TLS
   * failure) or 4 (DEADLINE_EXCEEDED), with a NUL-terminated reason in
   * `error` (at most error_size bytes). */
  int (*send)(void* user_data, const char* method, const char* url,
              const char* const* header_names, const char* const* header_values,
              size_t header_count, const void* body, size_t body_size,
              uint64_t timeout_ms, strata_http_response* response, char* error,
              size_t error_size);
} strata_http_transport;

typedef struct strata_client_options {
  /* host:port; NULL for 127.0.0.1:7443. Reached over gRPC (only when the
   * program links the add-on strata::client_grpc, else
   * strata_client_create fails with FAILED_PRECONDITION, 9) and TLS,
   * checked against the system's CAs unless tls_ca_pem or
   * tls_server_cert_pem is set. */
  const char* server_address;
  const char* app_id;
  const char* device_id;
  const char* user_id;     /* may be NULL */
  const char* app_version; /* may be NULL */
  const char* host_build;  /* may be NULL */
  const char* storage_dir;
  const char* embedded_dir;   /* may be NULL */
  uint64_t disk_budget_bytes; /* 0: no limit */
  /* The app's root of trust: the content of the root.json that `strata
   * trust init` writes (NUL-terminated JSON). Required, unless the insecure
   * test option below is set; strata_client_create fails with
   * INVALID_ARGUMENT (3) without it. */
  const char* pinned_root_json;
  /* Tests only: non-zero installs updates without verifying any signature
   * (logged loudly on every check). */
  int insecure_skip_signature_verification_for_tests;
  /* Optional: fetch TUF metadata over HTTP from this repository,
   * "http://host:port/v1/tuf/<app>" (may be NULL). */
  const char* metadata_base_url;
  /* PEM of the CAs to trust instead of the system's (NUL-terminated; the
   * app embeds it); NULL: the system's CAs. Not PEM: INVALID_ARGUMENT. */
  const char* tls_ca_pem;
  /* PEM of the server's exact certificate (a pin): the handshake fails
   * unless the server presents it. NULL: no pin. */
  const char* tls_server_cert_pem;
  /* Tests only: non-zero speaks plaintext gRPC; strata_client_create fails
   * with INVALID_ARGUMENT (3) unless server_address is loopback
   * (127.0.0.0/8, ::1, localhost). */
  int insecure_plaintext_to_loopback_for_tests;
  /* The network at start (STRATA_NETWORK_*; 0: unknown) and the daily
   * download budget of checks and prefetches (0: no limit). */
  int network;
  uint64_t daily_budget_bytes;
  /* The Delivery API over HTTP instead of gRPC: stratad's HTTP port as a
   * base URL ("https://updates.example.com"). NULL: gRPC. */
  const char* server_url;
  /* The host's HTTP stack for server_url (copied at create; user_data must
   * outlive the client). Required with server_url. */
  const strata_http_transport* http_transport;
} strata_client_options;

/* Setters for the trust fields above (the same as assigning them). Start
 * from a zeroed struct: strata_client_options o = {0}; */
void strata_client_options_set_pinned_root(strata_client_options* options,
                                           const char* root_json);
void strata_client_options_set_insecure_skip_signature_verification_for_tests(
    strata_client_options* options, int insecure);
void strata_client_options_set_metadata_base_url(strata_client_options* options,
                                                 const char* url);
/* Setters for the TLS fields (the same as assigning them). */
void strata_client_options_set_tls_ca_pem(strata_client_options* options,
                                          const char* ca_pem);
void strata_client_options_set_tls_server_cert_pem(
    strata_client_options* options, const char* cert_pem);
void strata_client_options_set_insecure_plaintext_to_loopback_for_tests(
    strata_client_options* options, int plaintext);

/* NULL on error (see strata_last_error()). */
strata_client* strata_client_create(const strata_client_options* options);
void strata_client_destroy(strata_client* client);

/* Checks the server and installs updates. `installed` and `failed` (may be
 * NULL) receive the number of modules activated or staged, and of updates
 * refused. */
int strata_client_check(strata_client* client, size_t* installed,
                        size_t* failed);

/* The active content of CONFIG module `name`: *value is a NUL-terminated
 * copy (free with strata_free()) and *size its length; *value is NULL when
 * the module has no content. */
int strata_client_get_config(strata_client* client, const char* name,
                             char** value, size_t* size);

/* The path of a module's active content; activates a staged H5/HCF
 * version first. `layer` is "config", "h5", "hcf", "hotpatch" or "native".
 * *path is a copy (free with strata_free()). */
int strata_client_open_module(strata_client* client, const char* layer,
                              const char* name, char** path);

/* The directory an H5/HCF module's active tree is unpacked in (activates
 * nothing); FAILED_PRECONDITION for content that is not a tree. *path is
 * a copy (free with strata_free()). */
int strata_client_module_dir(strata_client* client, const char* layer,
                             const char* name, char** path);

/* Offline packages: *path receives the installed file serving `url` (free
 * with strata_free()), or NULL when the page must come from the network.
 * INVALID_ARGUMENT for a URL whose path tries to leave the tree. */
int strata_client_resolve_url(strata_client* client, const char* url,
                              char** path);

/* Launch guard. *rolled_back (may be NULL) receives the number of modules
 * rolled back by this call. */
int strata_client_begin_launch(strata_client* client, size_t* rolled_back);
int strata_client_mark_launch_healthy(strata_client* client);

/* Config watch (Client::StartConfigWatch with default options): CONFIG
 * releases pushed by the server are verified, installed and active at
 * once; the stream is reopened with a capped backoff when it breaks. */
int strata_client_start_config_watch(strata_client* client);
/* Cancels the stream and waits for the watch thread. */
int strata_client_stop_config_watch(strata_client* client);

/* Called after a CONFIG module's active content changed (a check, a push,
 * a rollback), on the thread that changed it. `content` (NULL: no content
 * any more) and `name` are valid during the call only; `size` is the
 * content's length. */
typedef void (*strata_config_listener)(void* user_data, const char* name,
                                       const char* content, size_t size);
/* *id (may be NULL) receives an id for strata_client_remove_config_listener.
 */
int strata_client_add_config_listener(strata_client* client,
                                      strata_config_listener listener,
                                      void* user_data, int* id);
int strata_client_remove_config_listener(strata_client* client, int id);

/* Download policy and on-demand modules (docs/client_sdk.md). */
#define STRATA_NETWORK_UNKNOWN 0
#define STRATA_NETWORK_UNMETERED 1 /* Wi-Fi, Ethernet */
#define STRATA_NETWORK_METERED 2   /* cellular */
#define STRATA_NETWORK_OFFLINE 3
/* The host tells the SDK the current network (wakes prefetches). */
int strata_client_set_network(strata_client* client, int network);

/* Cancels an open's download from another thread. */
typedef struct strata_cancel strata_cancel;
strata_cancel* strata_cancel_new(void);
void strata_cancel_cancel(strata_cancel* cancel);
void strata_cancel_free(strata_cancel* cancel);

/* Download progress of an open: bytes received so far, the content's size,
 * and non-zero on the last call (installed). On the calling thread. */
typedef void (*strata_progress_listener)(void* user_data, uint64_t received,
                                         uint64_t total, int done);
/* strata_client_open_module, downloading an on-demand module that is not
 * on the device yet first: `progress` (may be NULL) reports it, `cancel`
 * (may be NULL) ends it with CANCELLED (1); FAILED_PRECONDITION (9) when
 * the network policy forbids the download now. */
int strata_client_open_module_with_progress(strata_client* client,
                                            const char* layer, const char* name,
                                            strata_progress_listener progress,
                                            void* user_data,
                                            strata_cancel* cancel, char** path);
/* Prefetch hint: fetch this pending module in the background when the
 * policy allows. */
int strata_client_prefetch(strata_client* client, const char* layer,
                           const char* name);
/* Updates the latest check left for later (on demand, or held back by the
 * policy); *mandatory (may be NULL) receives how many mandatory updates are
 * not active yet. */
int strata_client_pending_downloads(strata_client* client, size_t* pending,
                                    size_t* mandatory);
/* Bytes downloaded on `network` (STRATA_NETWORK_*): today and ever. */
int strata_client_traffic(strata_client* client, int network, uint64_t* today,
                          uint64_t* total);
/* The app came back to the foreground: activates staged "next resume"
 * releases; *activated (may be NULL) receives how many modules. */
int strata_client_on_resume(strata_client* client, size_t* activated);

/* Failures and remedies (docs/remedies.md). */
#define STRATA_FAILURE_CRASH 1
#define STRATA_FAILURE_APPLY 2
#define STRATA_FAILURE_LOAD 3
#define STRATA_FAILURE_HANG 4
#define STRATA_FAILURE_OTHER 5
/* Reports a failure (Client::ReportFailure): `kind` STRATA_FAILURE_*,
 * `exception_type`, `host_hash` and `layer`/`module`/`version` may be NULL
 * or ""; `frames` (may be NULL when `frame_count` is 0) are the top frames,
 * innermost first. *signature_id (may be NULL) receives the id, 16 hex
 * digits (free with strata_free()). INVALID_ARGUMENT (3) for a signature
 * out of bounds; nothing is queued then. */
int strata_client_report_failure(strata_client* client, int kind,
                                 const char* exception_type,
                                 const char* const* frames, size_t frame_count,
                                 const char* host_hash, const char* layer,
                                 const char* module, const char* version,
                                 char** signature_id);
/* *remedy_id receives the id of the remedy that disabled the module (free
 * with strata_free()), or NULL when none did. */
int strata_client_disabled_by(strata_client* client, const char* layer,
                              const char* module, char** remedy_id);
/* *count receives how many remedy rules were applied on this device. */
int strata_client_applied_remedies(strata_client* client, size_t* count);

/* The last error of the calling thread ("" if none); valid until the next
 * call on this thread. */
const char* strata_last_error(void);
/* Its absl::StatusCode number (0 if none): what a function that returns a
 * pointer (strata_client_create) failed with. */
int strata_last_error_code(void);

void strata_free(void* p);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STRATA_CLIENT_C_API_H_ */
