// Per-environment state of the addon (Napi::Addon instance data: no globals, so every
// worker_thread gets its own), and the guard that decides when OpenSSL callbacks may call JS.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <unordered_set>

namespace ossl {

class SslContext;

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);

  static Addon* Get(Napi::Env env) { return env.GetInstanceData<Addon>(); }

  // Constructors of the wrapped classes, and the JS classes registered by lib/native.ts:
  // errors become instances of OpenSSLError, and sessions created in C++ (get1Session,
  // callbacks, fromDER) become instances of the public TS SslSession subclass.
  Napi::FunctionReference sessionConstructor;
  Napi::FunctionReference contextConstructor;
  Napi::FunctionReference connectionConstructor;
  Napi::FunctionReference errorClass;
  Napi::FunctionReference sessionClass;

  // Hand-off slot for SslSession construction from C++ (see SslSession::Adopt).
  SSL_SESSION* pendingSession = nullptr;

  // OpenSSL callbacks call into JS only inside a JS-initiated call (jsCallDepth > 0) and
  // never while a finalizer runs (finalizing > 0): SSL_free / SSL_CTX_free from a GC
  // finalizer fire remove callbacks that must stay on the C side.
  int jsCallDepth = 0;
  int finalizing = 0;
  // The first exception a JS callback threw during the current call; rethrown by the
  // JsCallScope of the method that triggered the callback, after OpenSSL returned.
  Napi::Reference<Napi::Value> pendingException;

  bool CanCallJs() const { return jsCallDepth > 0 && finalizing == 0; }

  // Live (not closed) contexts of this environment: to tell whether a session is linked
  // into another context's cache (see SslContext::CachedElsewhere).
  std::unordered_set<SslContext*> contexts;

  // The symbols under which wrappers keep their JS-side slots (see slots:: in addon.cc).
  Napi::ObjectReference slotKeys;

  // One zero-length Buffer returned by every read() that found no data (the common case on
  // every wake-up), instead of allocating one each time. Zero bytes cannot be written to.
  Napi::Value EmptyBuffer(Napi::Env env) {
    if (emptyBuffer.IsEmpty()) emptyBuffer = Napi::Persistent(Napi::Buffer<uint8_t>::New(env, 0).As<Napi::Object>());
    return emptyBuffer.Value();
  }
  Napi::ObjectReference emptyBuffer;

 private:
  Napi::Value SetClasses(const Napi::CallbackInfo& info);
  Napi::Value OpenSSLVersion(const Napi::CallbackInfo& info);
};

// RAII for every JS-facing method that may make OpenSSL call back into JS. Also clears the
// OpenSSL error queue on entry and exit.
class JsCallScope {
 public:
  explicit JsCallScope(Napi::Env env);
  ~JsCallScope();
  // Throws the exception a callback raised during this call, if any.
  void RethrowPending();

 private:
  Napi::Env env_;
  Addon* addon_;
};

// RAII for destructors: OpenSSL work done here must not reach JS.
class FinalizingScope {
 public:
  explicit FinalizingScope(Addon* addon) : addon_(addon) {
    if (addon_) addon_->finalizing++;
  }
  ~FinalizingScope() {
    if (addon_) addon_->finalizing--;
  }

 private:
  Addon* addon_;
};

// Records the first exception thrown by a JS callback so the triggering call rethrows it.
void RecordCallbackException(Napi::Env env, const Napi::Error& error);

// Values a wrapper must call or keep alive (callbacks, the context of a connection), kept
// as properties of the wrapper's own JS object, one symbol key per slot, instead of napi
// references. napi references are GC roots: a callback closing over its own context would
// keep both alive forever. Properties are ordinary edges GC can see through, and close()
// / free() drop them. Only usable while the wrapper's JS object is alive (never from a
// destructor).
namespace slots {
Napi::Object MakeKeys(Napi::Env env);
void Init(Napi::Env env, Napi::Object self);
void Set(Napi::Env env, Napi::Object self, const char* name, Napi::Value value);
Napi::Value Get(Napi::Env env, Napi::Object self, const char* name);
void Clear(Napi::Env env, Napi::Object self);
}  // namespace slots

}  // namespace ossl
