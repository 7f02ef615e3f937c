/*
 * malloc_trim(0) for Node: glibc keeps memory that calls freed in its arenas (free pages inside
 * the heap, which trimming the heap's top does not reach) until malloc_trim gives it back. Node
 * has no FFI, so this is the smallest addon that can call it. The trim runs on libuv's thread
 * pool, never on the event loop. Elsewhere (musl, macOS) `supported` is false and trim() resolves
 * to false.
 */
#include <stdlib.h>
#include <node_api.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int released;
} Trim;

static void run(napi_env env, void *data) {
  (void)env;
  Trim *t = data;
#ifdef __GLIBC__
  t->released = malloc_trim(0);
#else
  t->released = 0;
#endif
}

static void done(napi_env env, napi_status status, void *data) {
  Trim *t = data;
  napi_value released;
  napi_get_boolean(env, status == napi_ok && t->released == 1, &released);
  if (status == napi_ok) {
    napi_resolve_deferred(env, t->deferred, released);
  } else {
    napi_value msg, err;
    napi_create_string_utf8(env, "malloc_trim did not run", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, t->deferred, err);
  }
  napi_delete_async_work(env, t->work);
  free(t);
}

/* trim(): Promise<boolean>, true when memory went back to the system. */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value promise, name;
  Trim *t = calloc(1, sizeof(Trim));
  if (t == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (napi_create_promise(env, &t->deferred, &promise) != napi_ok) {
    free(t);
    napi_throw_error(env, NULL, "cannot make a promise for malloc_trim");
    return NULL;
  }
  /* From here on the promise exists: a failure settles it, so no caller waits on it forever. */
  int queued = napi_create_string_utf8(env, "malloc_trim", NAPI_AUTO_LENGTH, &name) == napi_ok &&
               napi_create_async_work(env, NULL, name, run, done, t, &t->work) == napi_ok;
  if (queued && napi_queue_async_work(env, t->work) != napi_ok) {
    napi_delete_async_work(env, t->work);
    queued = 0;
  }
  if (!queued) {
    napi_value msg, err;
    napi_create_string_utf8(env, "cannot schedule malloc_trim", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, t->deferred, err);
    free(t);
  }
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, supported;
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn);
#ifdef __GLIBC__
  napi_get_boolean(env, 1, &supported);
#else
  napi_get_boolean(env, 0, &supported);
#endif
  napi_set_named_property(env, exports, "trim", fn);
  napi_set_named_property(env, exports, "supported", supported);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
