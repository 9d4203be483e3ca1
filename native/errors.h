// OpenSSL error queue -> JS OpenSSLError, and the TypeErrors with codes the addon throws.
#pragma once

#include <napi.h>
#include <openssl/err.h>

namespace ossl {

// Empties the thread's OpenSSL error queue. ERR_clear_error() resets all 16 slots every time
// (it was the top symbol of a profile of new SslConnection + free); the queue is almost
// always empty already, which ERR_peek_error() tells for the price of one index check.
inline void ClearErrors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

// Clears the thread's OpenSSL error queue on entry and on every return path. SSL_get_error()
// is only meaningful when the queue was empty before the I/O call, and errors we report must
// not leak into node's own crypto calls afterwards.
class ClearErrorOnReturn {
 public:
  ClearErrorOnReturn() { ClearErrors(); }
  ~ClearErrorOnReturn() { ClearErrors(); }
  ClearErrorOnReturn(const ClearErrorOnReturn&) = delete;
  ClearErrorOnReturn& operator=(const ClearErrorOnReturn&) = delete;
};

// Drains the error queue into an OpenSSLError (the class JS registered at init): message is
// the OLDEST queued error (the root cause, as node reports it), code is ERR_OSSL_<LIB>_<REASON> or ERR_SSL_<REASON>, and
// opensslErrorStack lists every queued entry. `fallback` is the message when the queue is
// empty (e.g. an I/O failure OpenSSL did not explain).
Napi::Error MakeOpenSSLError(Napi::Env env, const char* fallback);

// TypeError with a `code` property (e.g. ERR_SESSION_DISPOSED, ERR_INVALID_ARG_TYPE).
Napi::Error MakeCodedTypeError(Napi::Env env, const char* code, const std::string& message);

[[noreturn]] inline void ThrowOpenSSLError(Napi::Env env, const char* fallback) {
  throw MakeOpenSSLError(env, fallback);
}
[[noreturn]] inline void ThrowCodedTypeError(Napi::Env env, const char* code,
                                             const std::string& message) {
  throw MakeCodedTypeError(env, code, message);
}

}  // namespace ossl
