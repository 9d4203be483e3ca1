// Module init: classes, constants, and the per-environment state (Napi::Addon).
#include "addon.h"

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <cstring>

#include "certificates.h"
#include "errors.h"
#include "ssl_connection.h"
#include "ssl_context.h"
#include "ssl_session.h"

namespace ossl {
namespace {

Napi::Object Constants(Napi::Env env, std::initializer_list<std::pair<const char*, double>> entries) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& entry : entries) out.Set(entry.first, Napi::Number::New(env, entry.second));
  out.Freeze();
  return out;
}

// clang-format off
#define C(prefix, name) {#name, static_cast<double>(prefix##name)}
// clang-format on

Napi::Value VerifyCertErrorString(const Napi::CallbackInfo& info) {
  long code = static_cast<long>(info[0].As<Napi::Number>().Int64Value());
  return Napi::String::New(info.Env(), X509_verify_cert_error_string(code));
}

}  // namespace

Addon::Addon(Napi::Env env, Napi::Object exports) {
  // Built against OpenSSL 3 headers; the OpenSSL we run on is whatever node exports.
  // Refuse a different major version (or a fork that answers differently) with a clear error.
  if (OPENSSL_version_major() != OPENSSL_VERSION_MAJOR) {
    throw Napi::Error::New(env, std::string("openssl-session was built for OpenSSL ") +
                                    OPENSSL_VERSION_STR + " but this node runs " +
                                    OpenSSL_version(OPENSSL_VERSION));
  }
  slotKeys = Napi::Persistent(slots::MakeKeys(env));
  exports.Set("SslSession", SslSession::Init(env, this));
  exports.Set("SslContext", SslContext::Init(env, this));
  exports.Set("SslConnection", SslConnection::Init(env, this));
  DefineAddon(exports, {InstanceMethod<&Addon::SetClasses>("setClasses"),
                        InstanceMethod<&Addon::OpenSSLVersion>("openSSLVersion")});
  exports.Set("createSelfSigned", Napi::Function::New<CreateSelfSigned>(env, "createSelfSigned"));
  exports.Set("verifyCertErrorString", Napi::Function::New<VerifyCertErrorString>(env, "verifyCertErrorString"));
  exports.Set("builtWithOpenSSL", OPENSSL_VERSION_STR);

  // One line per group of constants, as OpenSSL lists them.
  // clang-format off
  exports.Set("SESS_CACHE", Constants(env, {
      C(SSL_SESS_CACHE_, OFF), C(SSL_SESS_CACHE_, CLIENT), C(SSL_SESS_CACHE_, SERVER),
      C(SSL_SESS_CACHE_, BOTH), C(SSL_SESS_CACHE_, NO_AUTO_CLEAR),
      C(SSL_SESS_CACHE_, NO_INTERNAL_LOOKUP), C(SSL_SESS_CACHE_, NO_INTERNAL_STORE),
      C(SSL_SESS_CACHE_, NO_INTERNAL), C(SSL_SESS_CACHE_, UPDATE_TIME)}));
  exports.Set("OP", Constants(env, {
      C(SSL_OP_, ALL), C(SSL_OP_, NO_TICKET), C(SSL_OP_, NO_SSLv2), C(SSL_OP_, NO_SSLv3),
      C(SSL_OP_, NO_TLSv1), C(SSL_OP_, NO_TLSv1_1), C(SSL_OP_, NO_TLSv1_2), C(SSL_OP_, NO_TLSv1_3),
      C(SSL_OP_, NO_COMPRESSION), C(SSL_OP_, CIPHER_SERVER_PREFERENCE),
      C(SSL_OP_, NO_RENEGOTIATION), C(SSL_OP_, ALLOW_NO_DHE_KEX), C(SSL_OP_, NO_ANTI_REPLAY),
      C(SSL_OP_, ENABLE_MIDDLEBOX_COMPAT), C(SSL_OP_, PRIORITIZE_CHACHA),
      C(SSL_OP_, IGNORE_UNEXPECTED_EOF), C(SSL_OP_, NO_ENCRYPT_THEN_MAC),
      C(SSL_OP_, NO_EXTENDED_MASTER_SECRET), C(SSL_OP_, LEGACY_SERVER_CONNECT),
      C(SSL_OP_, ALLOW_UNSAFE_LEGACY_RENEGOTIATION), C(SSL_OP_, ALLOW_CLIENT_RENEGOTIATION),
      C(SSL_OP_, NO_SESSION_RESUMPTION_ON_RENEGOTIATION), C(SSL_OP_, TLSEXT_PADDING),
      C(SSL_OP_, SAFARI_ECDHE_ECDSA_BUG), C(SSL_OP_, DONT_INSERT_EMPTY_FRAGMENTS),
      C(SSL_OP_, CLEANSE_PLAINTEXT), C(SSL_OP_, ENABLE_KTLS), C(SSL_OP_, DISABLE_TLSEXT_CA_NAMES),
      C(SSL_OP_, TLS_ROLLBACK_BUG), C(SSL_OP_, CRYPTOPRO_TLSEXT_BUG)}));
  exports.Set("SHUTDOWN", Constants(env, {{"SENT", SSL_SENT_SHUTDOWN}, {"RECEIVED", SSL_RECEIVED_SHUTDOWN}}));
  exports.Set("VERSION", Constants(env, {{"TLS1", TLS1_VERSION}, {"TLS1_1", TLS1_1_VERSION},
                                         {"TLS1_2", TLS1_2_VERSION}, {"TLS1_3", TLS1_3_VERSION}}));
  exports.Set("VERIFY", Constants(env, {
      C(SSL_VERIFY_, NONE), C(SSL_VERIFY_, PEER), C(SSL_VERIFY_, FAIL_IF_NO_PEER_CERT),
      C(SSL_VERIFY_, CLIENT_ONCE), C(SSL_VERIFY_, POST_HANDSHAKE)}));
  exports.Set("SSL_ERROR", Constants(env, {
      C(SSL_ERROR_, NONE), C(SSL_ERROR_, SSL), C(SSL_ERROR_, WANT_READ), C(SSL_ERROR_, WANT_WRITE),
      C(SSL_ERROR_, WANT_X509_LOOKUP), C(SSL_ERROR_, SYSCALL), C(SSL_ERROR_, ZERO_RETURN),
      C(SSL_ERROR_, WANT_CONNECT), C(SSL_ERROR_, WANT_ACCEPT), C(SSL_ERROR_, WANT_ASYNC),
      C(SSL_ERROR_, WANT_ASYNC_JOB), C(SSL_ERROR_, WANT_CLIENT_HELLO_CB),
      C(SSL_ERROR_, WANT_RETRY_VERIFY)}));
  exports.Set("MAX_SID_CTX_LENGTH", Napi::Number::New(env, SSL_MAX_SID_CTX_LENGTH));
  // clang-format on
}

#undef C

Napi::Value Addon::SetClasses(const Napi::CallbackInfo& info) {
  Napi::Object classes = info[0].As<Napi::Object>();
  Napi::Value error = classes.Get("OpenSSLError");
  Napi::Value session = classes.Get("SslSession");
  if (error.IsFunction()) errorClass = Napi::Persistent(error.As<Napi::Function>());
  if (session.IsFunction()) sessionClass = Napi::Persistent(session.As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Addon::OpenSSLVersion(const Napi::CallbackInfo& info) {
  // OPENSSL_VERSION_STRING is "3.0.19": the same form as process.versions.openssl.
  return Napi::String::New(info.Env(), OpenSSL_version(OPENSSL_VERSION_STRING));
}

JsCallScope::JsCallScope(Napi::Env env) : env_(env), addon_(Addon::Get(env)) {
  ClearErrors();
  addon_->jsCallDepth++;
}

JsCallScope::~JsCallScope() {
  addon_->jsCallDepth--;
  ClearErrors();
  if (addon_->jsCallDepth == 0) addon_->pendingException.Reset();
}

void JsCallScope::RethrowPending() {
  if (addon_->pendingException.IsEmpty()) return;
  Napi::Value error = addon_->pendingException.Value().As<Napi::Object>().Get("thrown");
  addon_->pendingException.Reset();
  throw Napi::Error(env_, error);
}

void RecordCallbackException(Napi::Env env, const Napi::Error& error) {
  Addon* addon = Addon::Get(env);
  if (!addon->pendingException.IsEmpty()) return;
  // JS may throw any value (`throw 42`); node 20 cannot reference primitives, so the value
  // travels in a holder object.
  Napi::Object holder = Napi::Object::New(env);
  holder.Set("thrown", error.Value());
  addon->pendingException = Napi::Reference<Napi::Value>::New(holder, 1);
}

namespace slots {
namespace {
// One symbol per slot name, created once per environment and kept in the slotKeys array
// (index i = kNames[i]). Slots are plain symbol-keyed properties of the wrapper: no holder
// object, no string made from the C name on each access (both showed in profiles of
// new SslConnection + free).
constexpr const char* kNames[] = {"context", "sessionListener", "newSession", "removeSession", "getSession",
                                  "clientHello", "ticketKeys", "clock", "keylog", "keylogListener", "messageListener"};
constexpr uint32_t kCount = sizeof(kNames) / sizeof(kNames[0]);

Napi::Value KeyOf(Napi::Env env, const char* name) {
  for (uint32_t i = 0; i < kCount; i++) {
    if (name == kNames[i] || std::strcmp(name, kNames[i]) == 0) return Addon::Get(env)->slotKeys.Value().Get(i);
  }
  throw Napi::Error::New(env, std::string("openssl-session: unknown slot ") + name);
}
}  // namespace

Napi::Object MakeKeys(Napi::Env env) {
  Napi::Array keys = Napi::Array::New(env, kCount);
  for (uint32_t i = 0; i < kCount; i++) keys.Set(i, Napi::Symbol::New(env, std::string("openssl-session ") + kNames[i]));
  return keys;
}

void Init(Napi::Env, Napi::Object) {}

void Set(Napi::Env env, Napi::Object self, const char* name, Napi::Value value) {
  self.Set(KeyOf(env, name), value);
}

Napi::Value Get(Napi::Env env, Napi::Object self, const char* name) {
  return self.Get(KeyOf(env, name));
}

void Clear(Napi::Env env, Napi::Object self) {
  Napi::Object keys = Addon::Get(env)->slotKeys.Value();
  for (uint32_t i = 0; i < kCount; i++) {
    Napi::Value key = keys.Get(i);
    if (self.HasOwnProperty(key)) self.Set(key, env.Undefined());
  }
}
}  // namespace slots

NODE_API_ADDON(Addon)

}  // namespace ossl
