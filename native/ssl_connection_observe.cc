// SslConnection's observers, each a function kept in its slots: new sessions and key log lines
// (delivered here by its context's callbacks: ssl_context_callbacks.cc, ssl_context_keylog.cc)
// and every protocol message it sends or receives (SSL_set_msg_callback: what
// `openssl s_client -msg` and node's enableTrace() print).
#include "errors.h"
#include "ssl_connection.h"
#include "ssl_context.h"

namespace ossl {

Napi::Value SslConnection::SetSessionListener(const Napi::CallbackInfo& info) {
  Get(info.Env());
  hasSessionListener_ = info[0].IsFunction();
  slots::Set(info.Env(), Value(), "sessionListener", hasSessionListener_ ? info[0] : info.Env().Undefined());
  return info.Env().Undefined();
}

void SslConnection::DeliverSession(Napi::Object session) {
  slots::Get(Env(), Value(), "sessionListener").As<Napi::Function>().Call({session});
}

Napi::Value SslConnection::SetKeylogListener(const Napi::CallbackInfo& info) {
  Get(info.Env());
  hasKeylogListener_ = info[0].IsFunction();
  slots::Set(info.Env(), Value(), "keylogListener", hasKeylogListener_ ? info[0] : info.Env().Undefined());
  if (hasKeylogListener_) context_->EnableKeylogForConnections();
  return info.Env().Undefined();
}

void SslConnection::DeliverKeylog(Napi::Value line) {
  slots::Get(Env(), Value(), "keylogListener").As<Napi::Function>().Call({line});
}

Napi::Value SslConnection::SetMsgCallback(const Napi::CallbackInfo& info) {
  SSL* ssl = Get(info.Env());
  hasMessageListener_ = info[0].IsFunction();
  slots::Set(info.Env(), Value(), "messageListener", hasMessageListener_ ? info[0] : info.Env().Undefined());
  // Per SSL, so only this connection pays for it; the arg is unused (app data finds us).
  SSL_set_msg_callback(ssl, hasMessageListener_ ? &SslConnection::OnMessage : nullptr);
  return info.Env().Undefined();
}

void SslConnection::OnMessage(int writeP, int version, int contentType, const void* buf, size_t len, SSL* ssl, void*) {
  try {
    // 0 received, 1 sent. Builds with SSL_DEBUG also report key material (write_p 2,
    // TLS1_RT_CRYPTO_*): never handed out.
    if ((writeP != 0 && writeP != 1) || contentType >= TLS1_RT_CRYPTO) return;
    SslConnection* self = FromSSL(ssl);
    if (self == nullptr || !self->hasMessageListener_ || !self->addon_->CanCallJs()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    try {
      Napi::Value bytes = Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(buf), len);
      slots::Get(env, self->Value(), "messageListener")
          .As<Napi::Function>()
          .Call({Napi::Boolean::New(env, writeP == 1), Napi::Number::New(env, version), Napi::Number::New(env, contentType), bytes});
    } catch (const Napi::Error& error) {
      RecordCallbackException(env, error);  // rethrown by the step once OpenSSL returned
    }
  } catch (...) {
    // Nothing may unwind through OpenSSL's C frames (see SslContext::OnNewSession).
  }
}

}  // namespace ossl
