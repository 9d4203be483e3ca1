// Diagnostics for refcount tests: how many SSL_SESSION objects OpenSSL really created and
// really freed (refcount reaching 0), counted through an SSL_SESSION ex_data index.
#pragma once

#include <napi.h>

namespace ossl {

// SslContext.debugSessionCounts() -> { created, freed, live }. Counting starts at the first call.
Napi::Value DebugSessionCounts(const Napi::CallbackInfo& info);

}  // namespace ossl
