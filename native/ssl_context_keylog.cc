// SslContext key log: SSL_CTX_set_keylog_callback, delivered to the context's onKeylog callback
// and to per-connection listeners (TlsSocket's 'keylog' event). Lines are NSS key log format
// (SSLKEYLOGFILE, what Wireshark reads), each as a Buffer ending in '\n', as node:tls gives them.
#include <cstring>

#include "errors.h"
#include "ssl_connection.h"
#include "ssl_context.h"

namespace ossl {

Napi::Value SslContext::SetKeylogCb(const Napi::CallbackInfo& info) {
  Get(info.Env());
  hasKeylogCb_ = SetCallbackSlot(info, "keylog");
  InstallKeylog();
  return info.Env().Undefined();
}

void SslContext::EnableKeylogForConnections() {
  keylogForConnections_ = true;
  InstallKeylog();
}

void SslContext::InstallKeylog() {
  // Installed only while someone may listen: with it, OpenSSL formats (and allocates) each
  // secret's line on every handshake. Connection listeners keep it installed from their first
  // one on (a connection cannot tell its context when it stops: it may outlive it).
  if (!ctx_) return;  // closed: Release() unset it, and nothing is delivered any more
  SSL_CTX_set_keylog_callback(ctx_.get(), hasKeylogCb_ || keylogForConnections_ ? &SslContext::OnKeylog : nullptr);
}

void SslContext::OnKeylog(const SSL* ssl, const char* line) {
  try {
    auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (self == nullptr || !self->addon_->CanCallJs()) return;
    SslConnection* conn = SslConnection::FromSSL(ssl);
    bool toContext = self->hasKeylogCb_;
    if (!toContext && (conn == nullptr || !conn->HasKeylogListener())) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    size_t size = std::strlen(line);
    // Each listener gets a Buffer of its own (they are mutable).
    auto copy = [&]() {
      Napi::Buffer<char> buffer = Napi::Buffer<char>::New(env, size + 1);
      std::memcpy(buffer.Data(), line, size);
      buffer.Data()[size] = '\n';
      return buffer;
    };
    // Both listeners run even if the first throws; the first exception is the one the step
    // rethrows once OpenSSL returns (the handshake itself is not affected).
    if (toContext) {
      try {
        slots::Get(env, self->Value(), "keylog").As<Napi::Function>().Call({copy(), conn != nullptr ? conn->Value() : env.Null()});
      } catch (const Napi::Error& error) {
        RecordCallbackException(env, error);
      }
    }
    if (conn != nullptr && conn->HasKeylogListener()) {  // the context callback may have unset it
      try {
        conn->DeliverKeylog(copy());
      } catch (const Napi::Error& error) {
        RecordCallbackException(env, error);
      }
    }
  } catch (...) {
    // Nothing may unwind through OpenSSL's C frames (see OnNewSession).
  }
}

}  // namespace ossl
