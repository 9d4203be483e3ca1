#include "ssl_context.h"

#include "certificates.h"
#include "errors.h"
#include "session_counter.h"
#include "ssl_connection.h"
#include "ssl_session.h"
#include "ticket_keys.h"

// The session cache controls (mode, size, timeout, flush, add/remove, stats, which callbacks
// are set) are in ssl_context_cache.cc; the session callbacks, their reference-ownership
// contract and the cache-lock rules in ssl_context_callbacks.cc; the server-side methods of
// issue 5 (client hello callback, ticket keys, trust digest) in ssl_context_server.cc; the key
// log in ssl_context_keylog.cc.

namespace ossl {
namespace {

constexpr napi_type_tag kContextTag = {0x6f70656e73736c31ULL, 0x53736c437478ULL};

std::string StringArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::String>().Utf8Value();
}

}  // namespace

void SslContext::ThrowIfBusy(Napi::Env env, const char* what) const {
  if (InRemoveCallback()) {
    ThrowCodedTypeError(env, "ERR_CONTEXT_BUSY",
                        std::string(what) +
                            " cannot run inside an onRemoveSession callback: "
                            "OpenSSL may hold the session cache lock there");
  }
}

Napi::Function SslContext::Init(Napi::Env env, Addon* addon) {
  Napi::Function ctor = DefineClass(
      env, "SslContext",
      {
          InstanceMethod<&SslContext::SetMinProtoVersion>("setMinProtoVersion"),
          InstanceMethod<&SslContext::SetMaxProtoVersion>("setMaxProtoVersion"),
          InstanceMethod<&SslContext::GetMinProtoVersion>("getMinProtoVersion"),
          InstanceMethod<&SslContext::GetMaxProtoVersion>("getMaxProtoVersion"),
          InstanceMethod<&SslContext::SetOptions>("setOptions"),
          InstanceMethod<&SslContext::ClearOptions>("clearOptions"),
          InstanceMethod<&SslContext::GetOptions>("getOptions"),
          InstanceMethod<&SslContext::UseCertificateChain>("useCertificateChain"),
          InstanceMethod<&SslContext::UsePrivateKey>("usePrivateKey"),
          InstanceMethod<&SslContext::AddCaCertificates>("addCaCertificates"),
          InstanceMethod<&SslContext::SetVerify>("setVerify"),
          InstanceMethod<&SslContext::GetVerifyMode>("getVerifyMode"),
          InstanceMethod<&SslContext::SetVerifyDepth>("setVerifyDepth"),
          InstanceMethod<&SslContext::SetCipherList>("setCipherList"),
          InstanceMethod<&SslContext::SetCiphersuites>("setCiphersuites"),
          InstanceMethod<&SslContext::SetAlpnProtos>("setAlpnProtos"),
          InstanceMethod<&SslContext::SetSessionIdContext>("setSessionIdContext"),
          InstanceMethod<&SslContext::SetTimeout>("setTimeout"),
          InstanceMethod<&SslContext::GetTimeout>("getTimeout"),
          InstanceMethod<&SslContext::SetSessionCacheMode>("setSessionCacheMode"),
          InstanceMethod<&SslContext::GetSessionCacheMode>("getSessionCacheMode"),
          InstanceMethod<&SslContext::SetSessionCacheSize>("setSessionCacheSize"),
          InstanceMethod<&SslContext::GetSessionCacheSize>("getSessionCacheSize"),
          InstanceMethod<&SslContext::SetNumTickets>("setNumTickets"),
          InstanceMethod<&SslContext::GetNumTickets>("getNumTickets"),
          InstanceMethod<&SslContext::FlushSessions>("flushSessions"),
          InstanceMethod<&SslContext::AddSession>("addSession"),
          InstanceMethod<&SslContext::RemoveSession>("removeSession"),
          InstanceMethod<&SslContext::Stats>("stats"),
          InstanceMethod<&SslContext::SessNewCb>("sessSetNewCb"),
          InstanceMethod<&SslContext::SessRemoveCb>("sessSetRemoveCb"),
          InstanceMethod<&SslContext::SessGetCb>("sessSetGetCb"),
          InstanceMethod<&SslContext::SetClientHelloCb>("setClientHelloCb"),
          InstanceMethod<&SslContext::SetTicketKeys>("setTicketKeys"),
          InstanceMethod<&SslContext::TrustDigest>("trustDigest"),
          InstanceMethod<&SslContext::SetKeylogCb>("setKeylogCb"),
          InstanceMethod<&SslContext::Close>("close"),
          StaticMethod<&DebugSessionCounts>("debugSessionCounts"),
      });
  // Plain getters that check `this` (see SslSession::Init: V8 checks the receiver of
  // methods, not of accessors).
  Napi::Object prototype = ctor.Get("prototype").As<Napi::Object>();
  prototype.DefineProperty(Napi::PropertyDescriptor::Accessor<&SslContext::Closed>("closed"));
  prototype.DefineProperty(Napi::PropertyDescriptor::Accessor<&SslContext::IsServerGetter>("isServer"));
  // The TicketKeys class travels as a static of SslContext (its only user), so module init
  // (addon.cc) needs no change; lib/server/ticket-keys.ts picks it up from there.
  ctor.DefineProperty(Napi::PropertyDescriptor::Value("TicketKeys", TicketKeys::Init(env, addon), napi_default));
  addon->contextConstructor = Napi::Persistent(ctor);
  return ctor;
}

SslContext::SslContext(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<SslContext>(info), addon_(Addon::Get(info.Env())) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  server_ = info[0].IsString() && info[0].As<Napi::String>().Utf8Value() == "server";
  ctx_.reset(SSL_CTX_new(server_ ? TLS_server_method() : TLS_client_method()));
  if (!ctx_) ThrowOpenSSLError(env, "SSL_CTX_new failed");
  SSL_CTX_set_app_data(ctx_.get(), this);  // cleared in Release() before `this` goes away
  // Always installed: it only reaches JS when a context or connection listener is set, and
  // it lets per-connection 'session' events work without touching the user's callbacks.
  SSL_CTX_sess_set_new_cb(ctx_.get(), &SslContext::OnNewSession);
  info.This().As<Napi::Object>().TypeTag(&kContextTag);
  slots::Init(env, info.This().As<Napi::Object>());
  addon_->contexts.insert(this);
}

SslContext::~SslContext() {
  FinalizingScope finalizing(addon_);
  Release();
}

void SslContext::Release() {
  if (!ctx_) return;
  addon_->contexts.erase(this);
  SSL_CTX* ctx = ctx_.get();
  SSL_CTX_set_app_data(ctx, nullptr);
  SSL_CTX_sess_set_new_cb(ctx, nullptr);
  SSL_CTX_sess_set_remove_cb(ctx, nullptr);
  SSL_CTX_sess_set_get_cb(ctx, nullptr);
  SSL_CTX_set_client_hello_cb(ctx, nullptr, nullptr);
  SSL_CTX_set_keylog_callback(ctx, nullptr);
  // Without our callback a connection still running uses OpenSSL's own per-SSL_CTX ticket
  // keys: nothing a fleet could resume, but nothing broken either.
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, nullptr);
  ticketKeys_.reset();
  // Connections still alive keep the SSL_CTX (SSL_new up-ref'd it); OpenSSL frees it with
  // the last one. The ALPN callback's arg stays valid: each connection holds this wrapper.
  ctx_.reset();
}

SslContext* SslContext::FromValue(Napi::Value value, const char* param) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kContextTag)) {
    ThrowCodedTypeError(env, "ERR_INVALID_ARG_TYPE",
                        std::string("The \"") + param + "\" argument must be an SslContext");
  }
  SslContext* ctx = ObjectWrap<SslContext>::Unwrap(value.As<Napi::Object>());
  ctx->Get(env);
  return ctx;
}

SSL_CTX* SslContext::Get(Napi::Env env) const {
  if (!ctx_) ThrowCodedTypeError(env, "ERR_CONTEXT_CLOSED", "SslContext was closed");
  return ctx_.get();
}

// ----- configuration -------------------------------------------------------------------

Napi::Value SslContext::SetMinProtoVersion(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  if (!SSL_CTX_set_min_proto_version(Get(info.Env()), LongArg(info, 0)))
    ThrowOpenSSLError(info.Env(), "unsupported protocol version");
  return info.Env().Undefined();
}

Napi::Value SslContext::SetMaxProtoVersion(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  if (!SSL_CTX_set_max_proto_version(Get(info.Env()), LongArg(info, 0)))
    ThrowOpenSSLError(info.Env(), "unsupported protocol version");
  return info.Env().Undefined();
}

Napi::Value SslContext::GetMinProtoVersion(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_get_min_proto_version(Get(info.Env())));
}

Napi::Value SslContext::GetMaxProtoVersion(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_get_max_proto_version(Get(info.Env())));
}

Napi::Value SslContext::SetOptions(const Napi::CallbackInfo& info) {
  uint64_t bits = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_set_options(Get(info.Env()), bits)));
}

Napi::Value SslContext::ClearOptions(const Napi::CallbackInfo& info) {
  uint64_t bits = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_clear_options(Get(info.Env()), bits)));
}

Napi::Value SslContext::GetOptions(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_get_options(Get(info.Env()))));
}

Napi::Value SslContext::UseCertificateChain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  SSL_CTX* ctx = Get(env);
  std::vector<X509Pointer> certs = ParseCertificates(env, StringArg(info, 0));
  // use_certificate and add1_chain_cert take references of their own; ours are freed here.
  if (SSL_CTX_use_certificate(ctx, certs[0].get()) != 1) ThrowOpenSSLError(env, "SSL_CTX_use_certificate failed");
  SSL_CTX_clear_chain_certs(ctx);
  for (size_t i = 1; i < certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, certs[i].get()) != 1) ThrowOpenSSLError(env, "SSL_CTX_add1_chain_cert failed");
  }
  return env.Undefined();
}

Napi::Value SslContext::UsePrivateKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  SSL_CTX* ctx = Get(env);
  std::string passphrase;
  bool hasPassphrase = info.Length() > 1 && info[1].IsString();
  if (hasPassphrase) passphrase = StringArg(info, 1);
  EVPKeyPointer key = ParsePrivateKey(env, StringArg(info, 0), hasPassphrase ? &passphrase : nullptr);
  // Checked against the leaf certificate BEFORE installing: SSL_CTX_check_private_key only
  // compares the key with the certificate in the key's own type slot, so an RSA key next to
  // an EC certificate would pass it (and every handshake then fails with "no shared cipher").
  X509* leaf = SSL_CTX_get0_certificate(ctx);  // owned by the SSL_CTX
  if (leaf != nullptr && X509_check_private_key(leaf, key.get()) != 1)
    ThrowOpenSSLError(env, "private key does not match the certificate");
  // use_PrivateKey takes a reference of its own; ours is freed here.
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) ThrowOpenSSLError(env, "SSL_CTX_use_PrivateKey failed");
  return env.Undefined();
}

Napi::Value SslContext::AddCaCertificates(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  X509_STORE* store = SSL_CTX_get_cert_store(Get(env));  // owned by the SSL_CTX
  std::vector<X509Pointer> certs = ParseCertificates(env, StringArg(info, 0));
  for (auto& cert : certs) {
    if (X509_STORE_add_cert(store, cert.get()) != 1) ThrowOpenSSLError(env, "X509_STORE_add_cert failed");
  }
  return Napi::Number::New(env, static_cast<double>(certs.size()));
}

Napi::Value SslContext::SetVerify(const Napi::CallbackInfo& info) {
  SSL_CTX_set_verify(Get(info.Env()), info[0].As<Napi::Number>().Int32Value(), nullptr);
  return info.Env().Undefined();
}

Napi::Value SslContext::GetVerifyMode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_get_verify_mode(Get(info.Env())));
}

Napi::Value SslContext::SetVerifyDepth(const Napi::CallbackInfo& info) {
  SSL_CTX_set_verify_depth(Get(info.Env()), info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value SslContext::SetCipherList(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  if (SSL_CTX_set_cipher_list(Get(info.Env()), StringArg(info, 0).c_str()) != 1)
    ThrowOpenSSLError(info.Env(), "no cipher matched");
  return info.Env().Undefined();
}

Napi::Value SslContext::SetCiphersuites(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  if (SSL_CTX_set_ciphersuites(Get(info.Env()), StringArg(info, 0).c_str()) != 1)
    ThrowOpenSSLError(info.Env(), "no TLS 1.3 ciphersuite matched");
  return info.Env().Undefined();
}

Napi::Value SslContext::SetAlpnProtos(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  SSL_CTX* ctx = Get(env);
  Napi::Uint8Array wire = info[0].As<Napi::Uint8Array>();
  if (server_) {
    alpnWire_.assign(reinterpret_cast<const char*>(wire.Data()), wire.ByteLength());
    SSL_CTX_set_alpn_select_cb(ctx, alpnWire_.empty() ? nullptr : &SslContext::OnAlpnSelect, this);
  } else if (SSL_CTX_set_alpn_protos(ctx, wire.Data(), static_cast<unsigned int>(wire.ByteLength())) != 0) {
    ThrowOpenSSLError(env, "invalid ALPN protocol list");
  }
  return env.Undefined();
}

// ----- lifetime --------------------------------------------------------------------------

Napi::Value SslContext::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  ThrowIfBusy(env, "close()");
  // What SSL_CTX_free does when the last reference goes (ssl/ssl_lib.c: "if (a->sessions !=
  // NULL) SSL_CTX_flush_sessions(a, 0)" before freeing ex_data and the cache: every cached
  // session, oldest first, remove_cb for each inside the lock, each marked not_resumable),
  // done now so JS receives the remove callbacks even while live connections (SSL_new took
  // a reference) keep the SSL_CTX itself alive. Release() then unsets the callbacks and
  // drops our reference; the final SSL_CTX_free flushes an empty cache (see below).
  SSL_CTX* ctx = Get(env);
  SSL_CTX_flush_sessions(ctx, 0);
  // Connections still running keep this SSL_CTX alive; from now on they add nothing to its
  // cache (no session could reach JS and then a second cache, and nothing is freed later
  // without the remove callback JS was promised).
  SSL_CTX_set_session_cache_mode(ctx, SSL_CTX_get_session_cache_mode(ctx) | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  Release();
  // Drop the callbacks now: a closed context calls none, and they may close over it.
  hasNewCb_ = hasRemoveCb_ = hasGetCb_ = hasClientHelloCb_ = hasKeylogCb_ = false;
  slots::Clear(env, Value());
  scope.RethrowPending();
  return env.Undefined();
}

SslContext* SslContext::FromThis(const Napi::CallbackInfo& info) {
  Napi::Value self = info.This();
  if (!self.IsObject() || !self.As<Napi::Object>().CheckTypeTag(&kContextTag)) {
    ThrowCodedTypeError(info.Env(), "ERR_INVALID_THIS", "The \"this\" value must be an SslContext");
  }
  return Unwrap(self.As<Napi::Object>());
}

Napi::Value SslContext::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !FromThis(info)->ctx_);
}

Napi::Value SslContext::IsServerGetter(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), FromThis(info)->server_);
}

int SslContext::OnAlpnSelect(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                             const unsigned char* in, unsigned int inlen, void* arg) {
  auto* self = static_cast<SslContext*>(arg);
  const auto* server = reinterpret_cast<const unsigned char*>(self->alpnWire_.data());
  unsigned char* selected = nullptr;
  // Server preference order: the first of our protocols the client also offers.
  if (SSL_select_next_proto(&selected, outlen, server, static_cast<unsigned int>(self->alpnWire_.size()),
                            in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol, as node:tls does
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace ossl
