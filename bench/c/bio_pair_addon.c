/*
 * The C loop of bio_pair.c as a node addon: the same libssl calls, on the OpenSSL inside node
 * (no -lssl: node exports it, as for our addon), so bench scenario (a) can run it in slices
 * interleaved with ours in one process. Both then share the OpenSSL build, the allocator and
 * the machine's moment; what differs is only our N-API and JS layers. Built by bench/engine.ts.
 *
 * exports: setup(certPath, keyPath, protocol, mode), run(count) -> connections resumed, teardown()
 * A libssl failure inside the loop ends the process through die(), as in the standalone program:
 * this is a benchmark peer, not library code.
 */
#define BIO_PAIR_NO_MAIN
#include "bio_pair.c"

#include <node_api.h>

static napi_value Setup(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  char args[4][1024];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = 0; i < 4; i++) {
    size_t n = 0;
    if (i >= argc || napi_get_value_string_utf8(env, argv[i], args[i], sizeof(args[i]), &n) != napi_ok ||
        n >= sizeof(args[i]) - 1) {
      napi_throw_type_error(env, NULL, "setup(cert, key, protocol, mode) takes four strings (paths under 1 KiB)");
      return NULL;
    }
  }
  bp_setup(args[0], args[1], args[2], args[3]);
  bp_run(1); /* warm-up connection that makes the first session */
  return NULL;
}

static napi_value Run(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int64_t count = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int64(env, argv[0], &count) != napi_ok || sctx == NULL) {
    napi_throw_error(env, NULL, "run(count) needs a number, after setup()");
    return NULL;
  }
  napi_create_int64(env, bp_run((long)count), &out);
  return out;
}

static napi_value Teardown(napi_env env, napi_callback_info info) {
  (void)info;
  if (sctx != NULL) bp_teardown();
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"setup", NULL, Setup, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, Run, NULL, NULL, NULL, napi_default, NULL},
      {"teardown", NULL, Teardown, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
