#include "ssl_connection.h"

#include "certificates.h"
#include "errors.h"
#include "ssl_context.h"
#include "ssl_session.h"

namespace ossl {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr napi_type_tag kConnectionTag = {0x6f70656e73736c31ULL, 0x53736c436f6e6eULL};

}  // namespace

// Marks a step in progress on a connection (see inStep_), on top of the JsCallScope.
class StepScope {
 public:
  explicit StepScope(SslConnection* conn) : conn_(conn) { conn_->inStep_++; }
  ~StepScope() { conn_->inStep_--; }
  StepScope(const StepScope&) = delete;
  StepScope& operator=(const StepScope&) = delete;

 private:
  SslConnection* conn_;
};

Napi::Function SslConnection::Init(Napi::Env env, Addon* addon) {
  Napi::Function ctor = DefineClass(
      env, "SslConnection",
      {
          InstanceMethod<&SslConnection::Feed>("feed"),
          InstanceMethod<&SslConnection::FeedEOF>("feedEOF"),
          InstanceMethod<&SslConnection::TakeOutput>("takeOutput"),
          InstanceMethod<&SslConnection::PendingOutput>("pendingOutput"),
          InstanceMethod<&SslConnection::PipeTo>("pipeTo"),
          InstanceMethod<&SslConnection::DoHandshake>("doHandshake"),
          InstanceMethod<&SslConnection::Connect>("connect"),
          InstanceMethod<&SslConnection::Accept>("accept"),
          InstanceMethod<&SslConnection::Read>("read"),
          InstanceMethod<&SslConnection::Write>("write"),
          InstanceMethod<&SslConnection::Shutdown>("shutdown"),
          InstanceMethod<&SslConnection::SetSession>("setSession"),
          InstanceMethod<&SslConnection::Get1Session>("get1Session"),
          InstanceMethod<&SslConnection::SessionReused>("sessionReused"),
          InstanceMethod<&SslConnection::SetShutdown>("setShutdown"),
          InstanceMethod<&SslConnection::GetShutdown>("getShutdown"),
          InstanceMethod<&SslConnection::SetQuietShutdown>("setQuietShutdown"),
          InstanceMethod<&SslConnection::GetQuietShutdown>("getQuietShutdown"),
          InstanceMethod<&SslConnection::SetTlsextHostName>("setTlsextHostName"),
          InstanceMethod<&SslConnection::GetServername>("getServername"),
          InstanceMethod<&SslConnection::Set1Host>("set1Host"),
          InstanceMethod<&SslConnection::GetVersion>("getVersion"),
          InstanceMethod<&SslConnection::Version>("version"),
          InstanceMethod<&SslConnection::GetCipherName>("getCipherName"),
          InstanceMethod<&SslConnection::Get1PeerCertificate>("get1PeerCertificate"),
          InstanceMethod<&SslConnection::GetVerifyResult>("getVerifyResult"),
          InstanceMethod<&SslConnection::Get0AlpnSelected>("get0AlpnSelected"),
          InstanceMethod<&SslConnection::IsInitFinished>("isInitFinished"),
          InstanceMethod<&SslConnection::SetSessionListener>("setSessionListener"),
          InstanceMethod<&SslConnection::SetKeylogListener>("setKeylogListener"),
          InstanceMethod<&SslConnection::SetMsgCallback>("setMsgCallback"),
          InstanceMethod<&SslConnection::Free>("free"),
      });
  // Plain getters that check `this` (see SslSession::Init).
  Napi::Object prototype = ctor.Get("prototype").As<Napi::Object>();
  prototype.DefineProperty(Napi::PropertyDescriptor::Accessor<&SslConnection::Freed>("freed"));
  prototype.DefineProperty(Napi::PropertyDescriptor::Accessor<&SslConnection::IsServer>("isServer"));
  addon->connectionConstructor = Napi::Persistent(ctor);
  return ctor;
}

SslConnection::SslConnection(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<SslConnection>(info), addon_(Addon::Get(info.Env())) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  context_ = SslContext::FromValue(info[0], "context");
  server_ = context_->IsServer();
  ssl_.reset(SSL_new(context_->Get(env)));  // SSL_new takes its own SSL_CTX reference
  if (!ssl_) ThrowOpenSSLError(env, "SSL_new failed");
  BIOPointer rbio(BIO_new(BIO_s_mem()));
  BIOPointer wbio(BIO_new(BIO_s_mem()));
  if (!rbio || !wbio) ThrowOpenSSLError(env, "BIO_new failed");
  // An empty input BIO means "no bytes yet" (retry), not EOF, until feedEOF().
  BIO_set_mem_eof_return(rbio.get(), -1);
  rbio_ = rbio.get();
  wbio_ = wbio.get();
  SSL_set_bio(ssl_.get(), rbio.release(), wbio.release());  // the SSL owns both BIOs now
  SSL_set_app_data(ssl_.get(), this);  // cleared before `this` goes away
  if (server_) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
  }
  Napi::Object self = info.This().As<Napi::Object>();
  self.TypeTag(&kConnectionTag);
  slots::Init(env, self);
  slots::Set(env, self, "context", info[0]);
}

SslConnection::~SslConnection() {
  FinalizingScope finalizing(addon_);  // SSL_free may fire remove_cb: keep it out of JS
  if (ssl_) {
    SSL_set_app_data(ssl_.get(), nullptr);
    ssl_.reset();
  }
}

SSL* SslConnection::Get(Napi::Env env) const {
  if (!ssl_) ThrowCodedTypeError(env, "ERR_CONNECTION_FREED", "SslConnection was freed");
  return ssl_.get();
}

SslConnection* SslConnection::FromValue(Napi::Value value, const char* param) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kConnectionTag)) {
    ThrowCodedTypeError(env, "ERR_INVALID_ARG_TYPE",
                        std::string("The \"") + param + "\" argument must be an SslConnection");
  }
  SslConnection* conn = Unwrap(value.As<Napi::Object>());
  conn->Get(env);
  return conn;
}

SslConnection* SslConnection::FromThis(const Napi::CallbackInfo& info) {
  Napi::Value self = info.This();
  if (!self.IsObject() || !self.As<Napi::Object>().CheckTypeTag(&kConnectionTag)) {
    ThrowCodedTypeError(info.Env(), "ERR_INVALID_THIS", "The \"this\" value must be an SslConnection");
  }
  return Unwrap(self.As<Napi::Object>());
}

void SslConnection::ThrowIfContextBusy(Napi::Env env) const {
  if (context_->InRemoveCallback()) {
    ThrowCodedTypeError(env, "ERR_CONTEXT_BUSY",
                        "connections of a context cannot be driven inside its onRemoveSession "
                        "callback: OpenSSL may hold the session cache lock there");
  }
}

Napi::Value SslConnection::Feed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  (void)ssl;
  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  if (data.ByteLength() > 0 &&
      BIO_write(rbio_, data.Data(), static_cast<int>(data.ByteLength())) != static_cast<int>(data.ByteLength())) {
    ThrowOpenSSLError(env, "BIO_write failed");
  }
  return env.Undefined();
}

Napi::Value SslConnection::FeedEOF(const Napi::CallbackInfo& info) {
  Get(info.Env());
  BIO_set_mem_eof_return(rbio_, 0);  // once drained, reads see end of stream
  return info.Env().Undefined();
}

Napi::Value SslConnection::TakeOutput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  size_t pending = BIO_ctrl_pending(wbio_);
  if (pending == 0) return env.Null();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, pending);
  int n = BIO_read(wbio_, out.Data(), static_cast<int>(pending));
  if (n != static_cast<int>(pending)) ThrowOpenSSLError(env, "BIO_read failed");
  return out;
}

Napi::Value SslConnection::PipeTo(const Napi::CallbackInfo& info) {
  // The in-memory wire: our output BIO straight into the peer's input BIO, with no JS
  // Buffer in between (what takeOutput() + feed() do, minus two allocations and crossings).
  Napi::Env env = info.Env();
  Get(env);
  SslConnection* peer = FromValue(info[0], "peer");
  unsigned char chunk[kReadChunk];
  size_t moved = 0;
  for (int n; (n = BIO_read(wbio_, chunk, sizeof(chunk))) > 0; moved += static_cast<size_t>(n)) {
    if (BIO_write(peer->rbio_, chunk, n) != n) ThrowOpenSSLError(env, "BIO_write failed");
  }
  return Napi::Number::New(env, static_cast<double>(moved));
}

Napi::Value SslConnection::PendingOutput(const Napi::CallbackInfo& info) {
  Get(info.Env());
  return Napi::Number::New(info.Env(), static_cast<double>(BIO_ctrl_pending(wbio_)));
}

Napi::Value SslConnection::Step(const Napi::CallbackInfo& info, int (*step)(SSL*)) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  SSL* ssl = Get(env);
  ThrowIfContextBusy(env);
  StepScope inStep(this);
  int ret = step(ssl);
  int status = ret == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, ret);
  scope.RethrowPending();
  if (status == SSL_ERROR_SSL || status == SSL_ERROR_SYSCALL || status == SSL_ERROR_ZERO_RETURN) {
    ThrowOpenSSLError(env, "TLS handshake failed: the peer closed the connection");
  }
  return Napi::Number::New(env, status);  // SSL_ERROR_NONE (done) or SSL_ERROR_WANT_*
}

Napi::Value SslConnection::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  SSL* ssl = Get(env);
  ThrowIfContextBusy(env);
  StepScope inStep(this);
  // Drain every decrypted byte available now in one crossing (TLS 1.3 post-handshake
  // messages, NewSessionTicket among them, are processed here too).
  // Reads fill `chunk` back to back; `plain` takes over only past 16 KiB, so the usual
  // reply (a record or two) costs one copy, into the returned Buffer.
  unsigned char chunk[kReadChunk];
  size_t held = 0;
  std::string plain;
  int status = SSL_ERROR_NONE;
  for (;;) {
    size_t n = 0;
    if (SSL_read_ex(ssl, chunk + held, sizeof(chunk) - held, &n) == 1) {
      held += n;
      if (held == sizeof(chunk)) {
        plain.append(reinterpret_cast<const char*>(chunk), held);
        held = 0;
      }
      continue;
    }
    status = SSL_get_error(ssl, 0);
    break;
  }
  scope.RethrowPending();
  if (plain.empty() && held > 0) return Napi::Buffer<uint8_t>::Copy(env, chunk, held);
  plain.append(reinterpret_cast<const char*>(chunk), held);
  if (!plain.empty()) return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
  if (status == SSL_ERROR_WANT_READ || status == SSL_ERROR_WANT_WRITE) return addon_->EmptyBuffer(env);
  if (status == SSL_ERROR_ZERO_RETURN) return env.Null();  // close_notify received
  ThrowOpenSSLError(env, "the peer closed the connection without close_notify");
}

Napi::Value SslConnection::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  SSL* ssl = Get(env);
  ThrowIfContextBusy(env);
  StepScope inStep(this);
  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  size_t written = 0;
  int ok = data.ByteLength() == 0 ? 1 : SSL_write_ex(ssl, data.Data(), data.ByteLength(), &written);
  int status = ok == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, 0);
  scope.RethrowPending();
  if (status == SSL_ERROR_NONE) return Napi::Number::New(env, static_cast<double>(written));
  if (status == SSL_ERROR_WANT_READ || status == SSL_ERROR_WANT_WRITE) return Napi::Number::New(env, 0);
  ThrowOpenSSLError(env, "SSL_write failed");
}

Napi::Value SslConnection::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  SSL* ssl = Get(env);
  ThrowIfContextBusy(env);
  StepScope inStep(this);
  int ret = SSL_shutdown(ssl);
  int status = ret >= 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, ret);
  scope.RethrowPending();
  if (ret >= 0) return Napi::Number::New(env, ret);  // 1: both close_notify seen; 0: ours sent
  if (status == SSL_ERROR_WANT_READ || status == SSL_ERROR_WANT_WRITE) return Napi::Number::New(env, 0);
  ThrowOpenSSLError(env, "SSL_shutdown failed");
}

Napi::Value SslConnection::SetSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // SSL_set_session may drop the previous session from the cache (ssl_clear_bad_session):
  // a remove callback that JS must receive, under the same rules as the other steps.
  JsCallScope scope(env);
  SSL* ssl = Get(env);
  ThrowIfContextBusy(env);
  StepScope inStep(this);
  // SSL_set_session takes a reference of its own; the JS handle keeps its own.
  SSL_SESSION* session = info[0].IsNull() ? nullptr : SslSession::FromValue(info[0], "session")->Get(env);
  int ok = SSL_set_session(ssl, session);
  scope.RethrowPending();
  if (ok != 1) ThrowOpenSSLError(env, "SSL_set_session failed");
  // Whether the ClientHello will offer it: a session OpenSSL marked not resumable (its
  // connection was freed without shutdown) is set but silently not offered.
  return Napi::Boolean::New(env, session != nullptr && SSL_SESSION_is_resumable(session) == 1);
}

Napi::Value SslConnection::Get1Session(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_SESSION* session = SSL_get1_session(Get(env));  // +1: adopted by the JS handle
  if (session == nullptr) return env.Null();
  return SslSession::Adopt(env, SSLSessionPointer(session));
}

Napi::Value SslConnection::SessionReused(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), SSL_session_reused(Get(info.Env())) == 1);
}

Napi::Value SslConnection::SetShutdown(const Napi::CallbackInfo& info) {
  SSL_set_shutdown(Get(info.Env()), info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value SslConnection::GetShutdown(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_get_shutdown(Get(info.Env())));
}

Napi::Value SslConnection::SetQuietShutdown(const Napi::CallbackInfo& info) {
  SSL_set_quiet_shutdown(Get(info.Env()), info[0].ToBoolean().Value() ? 1 : 0);
  return info.Env().Undefined();
}

Napi::Value SslConnection::GetQuietShutdown(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), SSL_get_quiet_shutdown(Get(info.Env())) == 1);
}

Napi::Value SslConnection::SetTlsextHostName(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (SSL_set_tlsext_host_name(Get(info.Env()), name.c_str()) != 1)
    ThrowOpenSSLError(info.Env(), "invalid server name");
  return info.Env().Undefined();
}

Napi::Value SslConnection::GetServername(const Napi::CallbackInfo& info) {
  const char* name = SSL_get_servername(Get(info.Env()), TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return info.Env().Null();
  return Napi::String::New(info.Env(), name);
}

Napi::Value SslConnection::Set1Host(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (SSL_set1_host(Get(info.Env()), name.c_str()) != 1) ThrowOpenSSLError(info.Env(), "invalid host name");
  return info.Env().Undefined();
}

Napi::Value SslConnection::GetVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), SSL_get_version(Get(info.Env())));
}

Napi::Value SslConnection::Version(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_version(Get(info.Env())));
}

Napi::Value SslConnection::GetCipherName(const Napi::CallbackInfo& info) {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(Get(info.Env()));
  if (cipher == nullptr) return info.Env().Null();
  return Napi::String::New(info.Env(), SSL_CIPHER_get_name(cipher));
}

Napi::Value SslConnection::Get1PeerCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  X509Pointer peer(SSL_get1_peer_certificate(Get(env)));
  if (!peer) return env.Null();
  return CertificateToDER(env, peer.get());
}

Napi::Value SslConnection::GetVerifyResult(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_get_verify_result(Get(info.Env()))));
}

Napi::Value SslConnection::Get0AlpnSelected(const Napi::CallbackInfo& info) {
  const unsigned char* alpn = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(Get(info.Env()), &alpn, &len);
  if (alpn == nullptr || len == 0) return info.Env().Null();
  return Napi::String::New(info.Env(), reinterpret_cast<const char*>(alpn), len);
}

Napi::Value SslConnection::IsInitFinished(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), SSL_is_init_finished(Get(info.Env())) == 1);
}

Napi::Value SslConnection::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  SSL* ssl = Get(env);
  ThrowIfContextBusy(env);
  if (inStep_ > 0) {
    ThrowCodedTypeError(env, "ERR_CONNECTION_BUSY",
                        "SslConnection.free() cannot run inside a callback of one of its own "
                        "steps; free it after the step returns");
  }
  // An explicit free may fire remove_cb (OpenSSL drops a session whose connection ended
  // without close_notify from the server cache); JS receives it, unlike a GC finalizer.
  SSL_set_app_data(ssl, nullptr);
  ssl_.reset();
  rbio_ = wbio_ = nullptr;
  if (hasSessionListener_) slots::Set(env, Value(), "sessionListener", env.Undefined());
  if (hasKeylogListener_) slots::Set(env, Value(), "keylogListener", env.Undefined());
  if (hasMessageListener_) slots::Set(env, Value(), "messageListener", env.Undefined());
  hasSessionListener_ = hasKeylogListener_ = hasMessageListener_ = false;
  scope.RethrowPending();
  return env.Undefined();
}

Napi::Value SslConnection::Freed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !FromThis(info)->ssl_);
}

Napi::Value SslConnection::IsServer(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), FromThis(info)->server_);
}

}  // namespace ossl
