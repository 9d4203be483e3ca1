#include "ssl_context.h"

#include <atomic>
#include <climits>
#include <mutex>
#include <unordered_set>

#include "certificates.h"
#include "errors.h"
#include "ssl_connection.h"
#include "ssl_session.h"

// ---------------------------------------------------------------------------------------
// Reference-ownership contract of the session callbacks (tested in test/ssl-context.*).
// Line references are to OpenSSL 3.0's ssl/ssl_lib.c and ssl/ssl_sess.c.
//
//  new_session_cb  ssl_update_cache() up-refs s->session before calling us; returning 1
//                  gives that reference to us, returning 0 makes OpenSSL free it. We return
//                  1 once we wrapped it: a JS SslSession ADOPTS that reference (or, if
//                  wrapping failed, our SSLSessionPointer freed it). JS may keep the session
//                  as long as it likes; if it does not, GC frees it once. When no JS listener
//                  is set we return 0 and OpenSSL drops the reference itself.
//  remove_cb       OpenSSL LENDS the session for the call (remove_session_lock() and
//                  SSL_CTX_flush_sessions() drop the cache's reference only after the
//                  callback returns). JS gets its own: we up-ref and a JS SslSession adopts it.
//  get_session_cb  JS returns an SslSession (or null). Its handle keeps its own reference;
//                  we return the borrowed pointer with *copy = 1, so lookup_sess_in_cache()
//                  up-refs it before using it (and, unless NO_INTERNAL_STORE, adds it to the
//                  internal cache). JS may dispose its handle at once: OpenSSL's reference
//                  keeps the session alive. A not_resumable session (e.g. one that went
//                  through SSL_CTX_remove_session) is ignored by OpenSSL; with *copy = 1 it
//                  is not freed there either. A miss returns NULL.
//
// Callbacks reach JS only inside a JS-initiated call (Addon::CanCallJs): SSL_free and
// SSL_CTX_free running in a GC finalizer still fire remove_cb, and those stay in C (the
// finalizer of a context even unsets its callbacks before SSL_CTX_free).
// An exception thrown by a JS callback is recorded and rethrown by the call that triggered
// it, after OpenSSL has returned (never thrown through OpenSSL's C frames). OpenSSL sees a
// throwing new/remove callback as having returned normally, and a throwing get callback as
// a miss (NULL), so its own state stays consistent.
//
// The cache lock (SSL_CTX->lock, a pthread rwlock in OpenSSL 3.0) and remove_cb:
//   SSL_CTX_flush_sessions()        calls remove_cb WITH the write lock held ("still do the
//                                   remove_session_cb() within the lock"); so do close()
//                                   (flush with t = 0), SSL_CTX_free(), and the every-255-
//                                   handshakes auto flush in ssl_update_cache().
//   SSL_CTX_add_session()           evicts the tail when the cache is full through
//                                   remove_session_lock(ctx, tail, 0): remove_cb WITH the
//                                   lock held (during a handshake, or addSession()).
//   SSL_CTX_remove_session()        remove_session_lock(ctx, c, 1) unlocks BEFORE remove_cb;
//                                   the same for its callers: removeSession(), an expired
//                                   session found at lookup (ssl_get_prev_session), a fatal
//                                   alert (ssl3_send_alert), ssl_clear_bad_session() from
//                                   SSL_free / SSL_set_session, the TLS 1.3 client dropping a
//                                   used ticket, and a TLS 1.2 client receiving a new ticket.
// Re-taking a write lock the thread already holds is an error (EDEADLK) or a deadlock, so
// OpenSSL would silently fail or hang. A remove_cb cannot tell which path called it, so inside
// ANY onRemoveSession callback every method that takes this context's lock
// (flushSessions/addSession/removeSession/close, and driving a connection of this context)
// throws ERR_CONTEXT_BUSY. Everything else (stats, getters, setters that do not lock,
// other contexts) works there.
// ---------------------------------------------------------------------------------------

namespace ossl {
namespace {

constexpr napi_type_tag kContextTag = {0x6f70656e73736c31ULL, 0x53736c437478ULL};

void ThrowIfBusy(Napi::Env env, const SslContext* ctx, const char* what) {
  if (ctx->InRemoveCallback()) {
    ThrowCodedTypeError(env, "ERR_CONTEXT_BUSY",
                        std::string(what) + " cannot run inside an onRemoveSession callback: "
                        "OpenSSL may hold the session cache lock there");
  }
}

// ----- Which SSL_CTX caches hold a session ------------------------------------------------
// OpenSSL links a cached SSL_SESSION into ONE context's expiry list through the session's own
// prev/next/owner fields. SSL_CTX_add_session(B, s) while s is still linked into A's list
// (a session A cached, handed to JS by onNewSession or get1Session) unlinks it with B's list
// heads and corrupts A's list: A's next flush or SSL_CTX_free frees a session twice. So before
// a session reaches SSL_CTX_add_session (addSession(), or an onGetSession result OpenSSL will
// add) we check every other live context of this environment (SSL_CTX_sessions +
// OPENSSL_LH_retrieve on it, compared by identity: same thread, so no lock is needed) and add a
// copy (SSL_SESSION_dup) instead. Closed contexts keep an empty cache (Close() sets
// NO_INTERNAL_STORE), so only live ones need checking. All environments share this set; the
// owner check (addon_) keeps other threads' contexts out.
std::mutex gContextsMutex;
std::unordered_set<SslContext*> gContexts;

// ----- SSL_SESSION allocation counter (diagnostics for refcount tests) -------------------
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

std::string StringArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::String>().Utf8Value();
}

long LongArg(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<long>(info[i].As<Napi::Number>().Int64Value());
}

void SetCallback(Napi::FunctionReference& slot, Napi::Value value) {
  if (value.IsFunction()) {
    slot = Napi::Persistent(value.As<Napi::Function>());
  } else {
    slot.Reset();
  }
}

}  // namespace

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
          InstanceMethod<&SslContext::Close>("close"),
          StaticMethod<&SslContext::DebugSessionCounts>("debugSessionCounts"),
          InstanceAccessor<&SslContext::Closed>("closed"),
          InstanceAccessor<&SslContext::IsServerGetter>("isServer"),
      });
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
  std::lock_guard<std::mutex> lock(gContextsMutex);
  gContexts.insert(this);
}

SslContext::~SslContext() {
  FinalizingScope finalizing(addon_);
  Release();
}

void SslContext::Release() {
  if (!ctx_) return;
  {
    std::lock_guard<std::mutex> lock(gContextsMutex);
    gContexts.erase(this);
  }
  SSL_CTX* ctx = ctx_.get();
  SSL_CTX_set_app_data(ctx, nullptr);
  SSL_CTX_sess_set_new_cb(ctx, nullptr);
  SSL_CTX_sess_set_remove_cb(ctx, nullptr);
  SSL_CTX_sess_set_get_cb(ctx, nullptr);
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

bool SslContext::CachedElsewhere(SSL_SESSION* session) const {
  std::lock_guard<std::mutex> lock(gContextsMutex);
  for (SslContext* other : gContexts) {
    if (other == this || other->addon_ != addon_ || !other->ctx_) continue;
    LHASH_OF(SSL_SESSION)* sessions = SSL_CTX_sessions(other->ctx_.get());
    // lh_SSL_SESSION_retrieve is not public API in 3.0; the typed wrapper is this call.
    if (sessions != nullptr &&
        OPENSSL_LH_retrieve(reinterpret_cast<OPENSSL_LHASH*>(sessions), session) == session)
      return true;
  }
  return false;
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
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) ThrowOpenSSLError(env, "SSL_CTX_use_PrivateKey failed");
  if (SSL_CTX_get0_certificate(ctx) != nullptr && SSL_CTX_check_private_key(ctx) != 1)
    ThrowOpenSSLError(env, "private key does not match the certificate");
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

// ----- session cache -------------------------------------------------------------------

Napi::Value SslContext::SetSessionIdContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ClearErrorOnReturn clear;
  Napi::Uint8Array sid = info[0].As<Napi::Uint8Array>();
  if (sid.ByteLength() > SSL_MAX_SID_CTX_LENGTH) {  // re-checked here: OpenSSL copies into a fixed array
    throw Napi::RangeError::New(env, "session id context is longer than 32 bytes");
  }
  if (SSL_CTX_set_session_id_context(Get(env), sid.Data(), static_cast<unsigned int>(sid.ByteLength())) != 1)
    ThrowOpenSSLError(env, "SSL_CTX_set_session_id_context failed");
  return env.Undefined();
}

Napi::Value SslContext::SetTimeout(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_set_timeout(Get(info.Env()), LongArg(info, 0))));
}

Napi::Value SslContext::GetTimeout(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_get_timeout(Get(info.Env()))));
}

Napi::Value SslContext::SetSessionCacheMode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_set_session_cache_mode(Get(info.Env()), LongArg(info, 0)));
}

Napi::Value SslContext::GetSessionCacheMode(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_get_session_cache_mode(Get(info.Env())));
}

Napi::Value SslContext::SetSessionCacheSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_sess_set_cache_size(Get(info.Env()), LongArg(info, 0)));
}

Napi::Value SslContext::GetSessionCacheSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), SSL_CTX_sess_get_cache_size(Get(info.Env())));
}

Napi::Value SslContext::SetNumTickets(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  if (SSL_CTX_set_num_tickets(Get(info.Env()), static_cast<size_t>(LongArg(info, 0))) != 1)
    ThrowOpenSSLError(info.Env(), "SSL_CTX_set_num_tickets failed");
  return info.Env().Undefined();
}

Napi::Value SslContext::GetNumTickets(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SSL_CTX_get_num_tickets(Get(info.Env()))));
}

Napi::Value SslContext::FlushSessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  ThrowIfBusy(env, this, "flushSessions()");
  SSL_CTX_flush_sessions(Get(env), LongArg(info, 0));
  scope.RethrowPending();
  return env.Undefined();
}

Napi::Value SslContext::AddSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  ThrowIfBusy(env, this, "addSession()");
  SSL_CTX* ctx = Get(env);
  SSL_SESSION* session = SslSession::FromValue(info[0], "session")->Get(env);
  // The cache takes a reference of its own; the JS handle keeps its own. A session linked
  // into another context's cache is added as a copy (see CachedElsewhere).
  SSLSessionPointer copy;
  if (CachedElsewhere(session)) {
    // Already have an entry with this id (an earlier copy)? Re-add that one: a no-op
    // returning 0 (as for the same object), which still refreshes it under UPDATE_TIME.
    auto* existing = static_cast<SSL_SESSION*>(
        OPENSSL_LH_retrieve(reinterpret_cast<OPENSSL_LHASH*>(SSL_CTX_sessions(ctx)), session));
    if (existing != nullptr) {
      session = existing;
    } else {
      copy.reset(SSL_SESSION_dup(session));
      if (!copy) ThrowOpenSSLError(env, "SSL_SESSION_dup failed");
      session = copy.get();
    }
  }
  int added = SSL_CTX_add_session(ctx, session);
  scope.RethrowPending();
  return Napi::Boolean::New(env, added == 1);
}

Napi::Value SslContext::RemoveSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  ThrowIfBusy(env, this, "removeSession()");
  SSL_CTX* ctx = Get(env);
  int removed = SSL_CTX_remove_session(ctx, SslSession::FromValue(info[0], "session")->Get(env));
  scope.RethrowPending();
  return Napi::Boolean::New(env, removed == 1);
}

Napi::Value SslContext::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  Napi::Object s = Napi::Object::New(env);
  s.Set("number", SSL_CTX_sess_number(ctx));
  s.Set("connect", SSL_CTX_sess_connect(ctx));
  s.Set("connectGood", SSL_CTX_sess_connect_good(ctx));
  s.Set("connectRenegotiate", SSL_CTX_sess_connect_renegotiate(ctx));
  s.Set("accept", SSL_CTX_sess_accept(ctx));
  s.Set("acceptGood", SSL_CTX_sess_accept_good(ctx));
  s.Set("acceptRenegotiate", SSL_CTX_sess_accept_renegotiate(ctx));
  s.Set("hits", SSL_CTX_sess_hits(ctx));
  s.Set("cbHits", SSL_CTX_sess_cb_hits(ctx));
  s.Set("misses", SSL_CTX_sess_misses(ctx));
  s.Set("timeouts", SSL_CTX_sess_timeouts(ctx));
  s.Set("cacheFull", SSL_CTX_sess_cache_full(ctx));
  return s;
}

Napi::Value SslContext::SessNewCb(const Napi::CallbackInfo& info) {
  Get(info.Env());
  SetCallback(newCb_, info[0]);
  return info.Env().Undefined();
}

Napi::Value SslContext::SessRemoveCb(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = Get(info.Env());
  SetCallback(removeCb_, info[0]);
  // Installed only while JS listens: its presence changes what OpenSSL stores (TLS 1.3
  // servers add stateless-ticket sessions to the internal cache when a remove_cb is set).
  SSL_CTX_sess_set_remove_cb(ctx, removeCb_.IsEmpty() ? nullptr : &SslContext::OnRemoveSession);
  return info.Env().Undefined();
}

Napi::Value SslContext::SessGetCb(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = Get(info.Env());
  SetCallback(getCb_, info[0]);
  SSL_CTX_sess_set_get_cb(ctx, getCb_.IsEmpty() ? nullptr : &SslContext::OnGetSession);
  return info.Env().Undefined();
}

// ----- lifetime --------------------------------------------------------------------------

Napi::Value SslContext::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  JsCallScope scope(env);
  ThrowIfBusy(env, this, "close()");
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
  scope.RethrowPending();
  return env.Undefined();
}

Napi::Value SslContext::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !ctx_);
}

Napi::Value SslContext::IsServerGetter(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), server_);
}

Napi::Value SslContext::DebugSessionCounts(const Napi::CallbackInfo& info) {
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

// ----- OpenSSL -> JS -------------------------------------------------------------------

int SslContext::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  SslConnection* conn = SslConnection::FromSSL(ssl);
  bool toContext = self != nullptr && !self->newCb_.IsEmpty();
  bool toConnection = conn != nullptr && conn->HasSessionListener();
  if (self == nullptr || !self->addon_->CanCallJs() || (!toContext && !toConnection)) {
    return 0;  // OpenSSL drops the reference it took for us
  }
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  Napi::Object js;
  try {
    js = SslSession::Adopt(env, SSLSessionPointer(session));
  } catch (const Napi::Error& error) {
    RecordCallbackException(env, error);
    return 1;  // the reference was consumed: freed by SSLSessionPointer
  }
  // Both listeners run even if the first throws; the first exception is the one rethrown.
  if (toContext) {
    try {
      self->newCb_.Call({js, conn != nullptr ? conn->Value() : env.Null()});
    } catch (const Napi::Error& error) {
      RecordCallbackException(env, error);
    }
  }
  if (toConnection && conn->HasSessionListener()) {  // the context callback may have unset it
    try {
      conn->DeliverSession(js);
    } catch (const Napi::Error& error) {
      RecordCallbackException(env, error);
    }
  }
  return 1;  // the reference was consumed: adopted by the JS handle
}

void SslContext::OnRemoveSession(SSL_CTX* ctx, SSL_SESSION* session) {
  auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(ctx));
  if (self == nullptr || self->removeCb_.IsEmpty() || !self->addon_->CanCallJs()) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  self->removeDepth_++;
  try {
    SSL_SESSION_up_ref(session);  // JS's own reference; OpenSSL only lends `session`
    Napi::Object js = SslSession::Adopt(env, SSLSessionPointer(session));
    self->removeCb_.Call({js});
  } catch (const Napi::Error& error) {
    RecordCallbackException(env, error);
  }
  self->removeDepth_--;
}

SSL_SESSION* SslContext::OnGetSession(SSL* ssl, const unsigned char* id, int len, int* copy) {
  *copy = 0;
  auto* self = static_cast<SslContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (self == nullptr || self->getCb_.IsEmpty() || !self->addon_->CanCallJs()) return nullptr;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  try {
    SslConnection* conn = SslConnection::FromSSL(ssl);
    Napi::Value result = self->getCb_.Call(
        {Napi::Buffer<uint8_t>::Copy(env, id, static_cast<size_t>(len)),
         conn != nullptr ? conn->Value() : env.Null()});
    if (result.IsNull() || result.IsUndefined()) return nullptr;
    SSL_SESSION* found = SslSession::FromValue(result, "onGetSession() result")->Get(env);
    if ((SSL_CTX_get_session_cache_mode(SSL_get_SSL_CTX(ssl)) & SSL_SESS_CACHE_NO_INTERNAL_STORE) == 0 &&
        self->CachedElsewhere(found)) {
      // lookup_sess_in_cache() will SSL_CTX_add_session() it here: hand OpenSSL a copy that
      // is in no cache, and our reference to it (*copy = 0).
      SSL_SESSION* dup = SSL_SESSION_dup(found);
      if (dup != nullptr) return dup;  // *copy stays 0: OpenSSL owns this reference
      return nullptr;
    }
    *copy = 1;  // OpenSSL up-refs `found`; the JS handle keeps its own reference
    return found;
  } catch (const Napi::Error& error) {
    RecordCallbackException(env, error);
    return nullptr;
  }
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
