#include "session_counter.h"

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "errors.h"

namespace ossl {
namespace {

// An SSL_SESSION ex_data index whose new/free hooks count the SSL_SESSION objects OpenSSL
// really creates (SSL_SESSION_new, ssl_session_dup) and really frees (refcount reaching 0 in
// SSL_SESSION_free). Registered on the first debugSessionCounts() call, process-wide (the
// OpenSSL is the process's): only sessions created after that are counted, each exactly once
// (a marker in the ex_data slot tells counted sessions apart).
std::atomic<uint64_t> gSessionsCreated{0};
std::atomic<uint64_t> gSessionsFreed{0};
std::once_flag gSessionCounterOnce;
int gSessionCounterIndex = -1;
char gCountedMarker;

void CountSessionNew(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int idx, long argl, void* argp) {
  if (CRYPTO_set_ex_data(ad, idx, &gCountedMarker) == 1) gSessionsCreated++;
}

int CountSessionDup(CRYPTO_EX_DATA* to, const CRYPTO_EX_DATA* from, void** fromData, int idx,
                    long argl, void* argp) {
  // ssl_session_dup() ran CountSessionNew on the copy first; keep the copy's marker even
  // when the original predates the counter.
  *fromData = &gCountedMarker;
  return 1;
}

void CountSessionFree(void* parent, void* ptr, CRYPTO_EX_DATA* ad, int idx, long argl, void* argp) {
  if (ptr == &gCountedMarker) gSessionsFreed++;
}

}  // namespace

Napi::Value DebugSessionCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  std::call_once(gSessionCounterOnce, [] {
    gSessionCounterIndex = SSL_SESSION_get_ex_new_index(0, nullptr, &CountSessionNew,
                                                        &CountSessionDup, &CountSessionFree);
  });
  if (gSessionCounterIndex < 0) ThrowOpenSSLError(env, "SSL_SESSION_get_ex_new_index failed");
  uint64_t created = gSessionsCreated.load();
  uint64_t freed = gSessionsFreed.load();
  Napi::Object out = Napi::Object::New(env);
  out.Set("created", Napi::Number::New(env, static_cast<double>(created)));
  out.Set("freed", Napi::Number::New(env, static_cast<double>(freed)));
  out.Set("live", Napi::Number::New(env, static_cast<double>(created - freed)));
  return out;
}

}  // namespace ossl
