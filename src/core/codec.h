/*
 * codec.h — wire protocols as codecs driven by the model's shapes.
 *
 * decode: request (headers, body, query string) → input value tree.
 * encode: output value tree → response body (+ headers, status).
 * error:  nb_error → response in the protocol's error format.
 * New protocols (rest-json, rest-xml, smithy-rpc-v2-cbor) add one nb_codec.
 */
#ifndef NB_CODEC_H
#define NB_CODEC_H

#include "http.h"
#include "model.h"
#include "service.h"

typedef struct nb_codec {
    const char *name;
    /* Returns 0 and *in (possibly an empty object), or -1 with err filled. */
    int (*decode)(const nb_model *m, const nb_operation *op, nb_req *r, json_object **in,
                  nb_error *err);
    void (*encode)(const nb_model *m, const nb_operation *op, nb_req *r, json_object *out);
    void (*error)(const nb_model *m, nb_req *r, const nb_error *err);
} nb_codec;

extern const nb_codec nb_codec_json;
extern const nb_codec nb_codec_query;

/* Query protocol form parsing, shared with the router (Action lookup). */
typedef struct nb_form_pair {
    char *key, *val;
    size_t klen, vlen;
} nb_form_pair;
typedef struct nb_form {
    nb_form_pair *p;
    int n, cap;
} nb_form;
int nb_form_parse(nb_form *f, const char *s, size_t n);  /* -1 on bad encoding */
const char *nb_form_get(const nb_form *f, const char *key, size_t *vlen);
void nb_form_free(nb_form *f);

/* Central validation of an input tree against its shape (validate.c). */
int nb_validate(const nb_model *m, int shape, json_object *v, nb_error *err);
void nb_validate_free(void); /* at exit: compiled patterns */
/* JSON text of a value tree (as json-c's PLAIN | NOSLASHESCAPE output). */
void nb_json_write(nb_buf *b, json_object *v);
void nb_json_free(void); /* at exit: the decoder's tokener */
void nb_json_write_string(nb_buf *b, const char *s, size_t n); /* a quoted, escaped string */
/* A value whose JSON text is given: the JSON codec writes it verbatim
 * (other codecs must not receive one).  For handlers that hold output
 * already encoded, e.g. stored DynamoDB items. */
json_object *nb_json_raw(const char *text, size_t len);

/* Error helper used by codecs and the validator. */
void nb_err_set(nb_error *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ISO 8601 timestamp text for epoch seconds (millisecond precision). */
void nb_iso8601(double secs, char out[32]);
int nb_parse_timestamp(const char *s, size_t n, double *out);

#endif
