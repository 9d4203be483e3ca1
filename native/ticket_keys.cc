#include "ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>

#include "errors.h"

namespace ossl {
namespace {

constexpr napi_type_tag kTicketKeysTag = {0x6f70656e73736c31ULL, 0x5469636b65744bULL};
constexpr unsigned char kMagic[5] = {'O', 'S', 'T', 'K', 1};
constexpr size_t kHeaderSize = sizeof(kMagic) + 2;
constexpr size_t kKeySize = 16 + 32 + 32 + 8;
constexpr size_t kMaxKeys = 64;

int64_t SystemNowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// OpenSSL's own ticket format: AES-256-CBC for the session, HMAC-SHA256 over the ticket
// (ssl/t1_lib.c uses the same pair with its default keys).
bool InitMac(EVP_MAC_CTX* mac, const TicketKey& key) {
  OSSL_PARAM params[3];
  params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key.hmac), sizeof(key.hmac));
  params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0);
  params[2] = OSSL_PARAM_construct_end();
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

void PutI64(unsigned char* out, int64_t value) {
  uint64_t v = static_cast<uint64_t>(value);
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<unsigned char>(v & 0xff);
}

int64_t GetI64(const unsigned char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return static_cast<int64_t>(v);
}

int64_t Int64Arg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].As<Napi::Number>().Int64Value();
}

}  // namespace

// ----- TicketKeyRing ------------------------------------------------------------------------

TicketKeyRing::TicketKeyRing(int64_t interval, int64_t grace, size_t keep, bool autoRotate)
    : interval_(interval > 0 ? interval : 1), grace_(grace), keep_(keep), autoRotate_(autoRotate) {
  keys_.reserve(kMaxKeys);  // never reallocated (see Generate)
}

TicketKeyRing::~TicketKeyRing() { Clear(); }

void TicketKeyRing::Clear() {
  if (!keys_.empty()) OPENSSL_cleanse(keys_.data(), keys_.size() * sizeof(TicketKey));
  keys_.clear();  // capacity stays reserved
}

void TicketKeyRing::EraseAt(size_t i) {
  // Shifting the tail down leaves a stale copy of the last key at the end: cleanse it too.
  OPENSSL_cleanse(&keys_[i], sizeof(TicketKey));
  keys_.erase(keys_.begin() + static_cast<long>(i));
  if (keys_.size() < keys_.capacity()) OPENSSL_cleanse(keys_.data() + keys_.size(), sizeof(TicketKey));
}

long TicketKeyRing::CurrentIndex(int64_t now) const {
  if (keys_.empty()) return -1;
  long current = -1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].activeFrom <= now) current = static_cast<long>(i);
  }
  // Every key starts in the future (our clock runs behind the process that made them):
  // encrypt with the earliest rather than issue no ticket at all.
  return current < 0 ? 0 : current;
}

int64_t TicketKeyRing::DecryptUntil(size_t i, int64_t now) const {
  long current = CurrentIndex(now);
  if (current < 0 || static_cast<long>(i) >= current) return INT64_MAX;
  if (static_cast<size_t>(current - static_cast<long>(i)) > keep_) return INT64_MIN;
  return keys_[i + 1].activeFrom + grace_;  // retired when the next key started
}

void TicketKeyRing::Maintain(int64_t now) {
  if (autoRotate_) {
    if (keys_.empty()) {
      Generate(now);
    } else if (now - keys_.back().activeFrom >= interval_) {
      int64_t periods = (now - keys_.back().activeFrom) / interval_;
      Generate(keys_.back().activeFrom + periods * interval_);
    }
  }
  // Previous keys expire oldest first: drop the prefix that no longer decrypts.
  size_t drop = 0;
  while (drop < keys_.size() && now >= DecryptUntil(drop, now)) ++drop;
  for (size_t i = 0; i < drop; ++i) EraseAt(0);
}

bool TicketKeyRing::Generate(int64_t activeFrom) {
  if (keys_.size() >= kMaxKeys) return false;
  TicketKey key;
  if (RAND_bytes(key.name, sizeof(key.name)) != 1 || RAND_priv_bytes(key.aes, sizeof(key.aes)) != 1 ||
      RAND_priv_bytes(key.hmac, sizeof(key.hmac)) != 1) {
    OPENSSL_cleanse(&key, sizeof(key));
    return false;
  }
  key.activeFrom = activeFrom;
  // Capacity is reserved for kMaxKeys up front, so insert() never reallocates (a reallocation
  // would leave an uncleansed copy of every key in the freed buffer).
  auto at = std::upper_bound(keys_.begin(), keys_.end(), activeFrom,
                             [](int64_t t, const TicketKey& k) { return t < k.activeFrom; });
  keys_.insert(at, key);
  OPENSSL_cleanse(&key, sizeof(key));
  return true;
}

bool TicketKeyRing::Import(const unsigned char* record, size_t len) {
  if (len < kHeaderSize || std::memcmp(record, kMagic, sizeof(kMagic)) != 0) return false;
  size_t count = (static_cast<size_t>(record[5]) << 8) | record[6];
  if (count > kMaxKeys || len != kHeaderSize + count * kKeySize) return false;
  std::vector<TicketKey> keys;
  keys.reserve(kMaxKeys);  // never reallocates below: no uncleansed copies
  const unsigned char* p = record + kHeaderSize;
  for (size_t i = 0; i < count; ++i, p += kKeySize) {
    TicketKey key;
    std::memcpy(key.name, p, 16);
    std::memcpy(key.aes, p + 16, 32);
    std::memcpy(key.hmac, p + 48, 32);
    key.activeFrom = GetI64(p + 80);
    keys.push_back(key);
    OPENSSL_cleanse(&key, sizeof(key));
  }
  bool duplicate = false;
  for (size_t i = 0; i < keys.size() && !duplicate; ++i)
    for (size_t j = i + 1; j < keys.size(); ++j)
      if (std::memcmp(keys[i].name, keys[j].name, 16) == 0) duplicate = true;
  if (duplicate) {
    OPENSSL_cleanse(keys.data(), keys.size() * sizeof(TicketKey));
    return false;
  }
  // std::sort swaps through temporaries on the stack; sort indices instead and copy once.
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a].activeFrom < keys[b].activeFrom; });
  Clear();
  for (size_t i : order) keys_.push_back(keys[i]);
  OPENSSL_cleanse(keys.data(), keys.size() * sizeof(TicketKey));
  return true;
}

size_t TicketKeyRing::ExportSize() const { return kHeaderSize + keys_.size() * kKeySize; }

void TicketKeyRing::Export(unsigned char* out) const {
  std::memcpy(out, kMagic, sizeof(kMagic));
  out[5] = static_cast<unsigned char>(keys_.size() >> 8);
  out[6] = static_cast<unsigned char>(keys_.size() & 0xff);
  unsigned char* p = out + kHeaderSize;
  for (const TicketKey& key : keys_) {
    std::memcpy(p, key.name, 16);
    std::memcpy(p + 16, key.aes, 32);
    std::memcpy(p + 48, key.hmac, 32);
    PutI64(p + 80, key.activeFrom);
    p += kKeySize;
  }
}

int TicketKeyRing::Encrypt(int64_t now, unsigned char keyName[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                           EVP_MAC_CTX* mac) {
  Maintain(now);
  long current = CurrentIndex(now);
  if (current < 0) return 0;  // no key: TLS 1.2 sends an empty ticket, TLS 1.3 none
  const TicketKey& key = keys_[static_cast<size_t>(current)];
  const EVP_CIPHER* aes = EVP_aes_256_cbc();
  int ivLength = EVP_CIPHER_get_iv_length(aes);
  if (ivLength <= 0 || ivLength > EVP_MAX_IV_LENGTH || RAND_bytes(iv, ivLength) != 1) return -1;
  std::memcpy(keyName, key.name, sizeof(key.name));
  if (EVP_EncryptInit_ex(cipher, aes, nullptr, key.aes, iv) != 1 || !InitMac(mac, key)) return -1;
  counters.encrypted++;
  return 1;
}

int TicketKeyRing::Decrypt(int64_t now, bool tls13, const unsigned char keyName[16], const unsigned char* iv,
                           EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac) {
  Maintain(now);
  long found = -1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (CRYPTO_memcmp(keys_[i].name, keyName, sizeof(keys_[i].name)) == 0) found = static_cast<long>(i);
  }
  if (found < 0 || now >= DecryptUntil(static_cast<size_t>(found), now)) {
    counters.rejected++;
    return 0;  // SSL_TICKET_NO_DECRYPT: a full handshake and a new ticket
  }
  const TicketKey& key = keys_[static_cast<size_t>(found)];
  if (!InitMac(mac, key) || EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) return -1;
  if (found < CurrentIndex(now)) {
    counters.decryptedWithOldKey++;
    return 2;  // SSL_TICKET_SUCCESS_RENEW: resume, and issue a ticket under the current key
  }
  counters.decrypted++;
  // TLS 1.3: OpenSSL sends a ticket after a resumption only when the callback asks for
  // renewal (ssl/t1_lib.c tls_decrypt_ticket sets ext.ticket_expected for
  // SSL_TICKET_SUCCESS_RENEW, and its own default keys always renew under TLS 1.3), so
  // without 2 a client that uses each ticket once (RFC 8446 C.4) would run out of them.
  return tls13 ? 2 : 1;
}

// ----- TicketKeys (JS wrapper) ----------------------------------------------------------------

Napi::Function TicketKeys::Init(Napi::Env env, Addon* addon) {
  (void)addon;
  return DefineClass(env, "TicketKeys",
                     {
                         InstanceMethod<&TicketKeys::Generate>("generate"),
                         InstanceMethod<&TicketKeys::Maintain>("maintain"),
                         InstanceMethod<&TicketKeys::Import>("import"),
                         InstanceMethod<&TicketKeys::Export>("export"),
                         InstanceMethod<&TicketKeys::Describe>("describe"),
                         InstanceMethod<&TicketKeys::Stats>("stats"),
                         InstanceMethod<&TicketKeys::SetClock>("setClock"),
                         InstanceMethod<&TicketKeys::Clear>("clear"),
                         InstanceMethod<&TicketKeys::Size>("size"),
                     });
}

// new TicketKeys(interval, gracePeriod, keep, autoRotate): numbers in ms (validated in TS).
TicketKeys::TicketKeys(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TicketKeys>(info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < 3; ++i) {
    if (!info[i].IsNumber()) ThrowCodedTypeError(env, "ERR_INVALID_ARG_TYPE", "TicketKeys(interval, gracePeriod, keep, autoRotate): numbers expected");
  }
  ring_ = std::make_shared<TicketKeyRing>(Int64Arg(info, 0), Int64Arg(info, 1),
                                          static_cast<size_t>(std::max<int64_t>(0, Int64Arg(info, 2))),
                                          info[3].ToBoolean().Value());
  Napi::Object self = info.This().As<Napi::Object>();
  self.TypeTag(&kTicketKeysTag);
  slots::Init(env, self);
}

TicketKeys::~TicketKeys() = default;  // the ring cleanses its keys when the last owner goes

std::shared_ptr<TicketKeyRing> TicketKeys::RingFromValue(Napi::Value value, const char* param) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kTicketKeysTag)) {
    ThrowCodedTypeError(value.Env(), "ERR_INVALID_ARG_TYPE", std::string("The \"") + param + "\" argument must be a TicketKeys");
  }
  return Unwrap(value.As<Napi::Object>())->ring_;
}

int64_t TicketKeys::SystemNow() { return SystemNowMs(); }

int64_t TicketKeys::Now(Napi::Env env, Napi::Value object) {
  if (!object.IsObject()) return SystemNowMs();
  Napi::Value clock = slots::Get(env, object.As<Napi::Object>(), "clock");
  if (!clock.IsFunction()) return SystemNowMs();
  Napi::Value now = clock.As<Napi::Function>().Call({});
  return now.IsNumber() ? now.As<Napi::Number>().Int64Value() : SystemNowMs();
}

Napi::Value TicketKeys::Generate(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  if (!ring_->Generate(Int64Arg(info, 0))) ThrowOpenSSLError(info.Env(), "could not generate a ticket key (RAND_bytes failed or 64 keys held)");
  return info.Env().Undefined();
}

Napi::Value TicketKeys::Maintain(const Napi::CallbackInfo& info) {
  ClearErrorOnReturn clear;
  ring_->Maintain(Int64Arg(info, 0));
  return info.Env().Undefined();
}

Napi::Value TicketKeys::Import(const Napi::CallbackInfo& info) {
  Napi::Uint8Array record = info[0].As<Napi::Uint8Array>();
  return Napi::Boolean::New(info.Env(), ring_->Import(record.Data(), record.ByteLength()));
}

Napi::Value TicketKeys::Export(const Napi::CallbackInfo& info) {
  // The caller is expected to zero this Buffer once it has been written where it goes.
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), ring_->ExportSize());
  ring_->Export(out.Data());
  return out;
}

Napi::Value TicketKeys::Describe(const Napi::CallbackInfo& info) {
  // Key names and times only (names travel in clear in every ticket); never key bytes.
  Napi::Env env = info.Env();
  int64_t now = Int64Arg(info, 0);
  long current = ring_->CurrentIndex(now);
  Napi::Array out = Napi::Array::New(env);
  const auto& keys = ring_->Keys();
  static const char* hex = "0123456789abcdef";
  for (size_t i = 0; i < keys.size(); ++i) {
    std::string name;
    for (unsigned char c : keys[i].name) {
      name.push_back(hex[c >> 4]);
      name.push_back(hex[c & 15]);
    }
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("name", name);
    entry.Set("activeFrom", Napi::Number::New(env, static_cast<double>(keys[i].activeFrom)));
    long index = static_cast<long>(i);
    entry.Set("state", index == current ? "current" : index > current ? "next"
                                                                      : "previous");
    int64_t until = ring_->DecryptUntil(i, now);
    entry.Set("decryptUntil", until == INT64_MAX ? env.Null() : Napi::Number::New(env, static_cast<double>(until)));
    out.Set(static_cast<uint32_t>(i), entry);
  }
  return out;
}

Napi::Value TicketKeys::Stats(const Napi::CallbackInfo& info) {
  Napi::Object s = Napi::Object::New(info.Env());
  s.Set("encrypted", ring_->counters.encrypted);
  s.Set("decrypted", ring_->counters.decrypted);
  s.Set("decryptedWithOldKey", ring_->counters.decryptedWithOldKey);
  s.Set("rejected", ring_->counters.rejected);
  return s;
}

Napi::Value TicketKeys::SetClock(const Napi::CallbackInfo& info) {
  bool set = info[0].IsFunction();
  slots::Set(info.Env(), Value(), "clock", set ? info[0] : info.Env().Undefined());
  ring_->jsClock = set;
  return info.Env().Undefined();
}

Napi::Value TicketKeys::Clear(const Napi::CallbackInfo& info) {
  ring_->Close();
  return info.Env().Undefined();
}

Napi::Value TicketKeys::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ring_->Size()));
}

}  // namespace ossl
