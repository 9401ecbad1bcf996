/*
 * codec.h — wire protocols as codecs driven by the model's shapes.
 *
 * decode: request (headers, body, query string) → input value tree.
 * encode: output value tree → response body (+ headers, status).
 * error:  nb_error → response in the protocol's error format.
 * Written: awsJson (codec_json.c), query (codec_query.c), rest-json
 * (codec_restjson.c).  New protocols (rest-xml, smithy-rpc-v2-cbor) add one
 * nb_codec.
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
extern const nb_codec nb_codec_restjson;

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
/* The awsJson conversions, shared with rest-json (codec_json.c).
 * decode_text: strict parse of text (empty = {}) and, when shape >= 0,
 * type checks (SerializationException) with blobs decoded and timestamps
 * made epoch-second doubles; -1 with err filled.  encode_tree: the reverse,
 * in place, on a tree of the given shape (blobs to base64, timestamps). */
int nb_json_decode_text(const nb_model *m, int shape, const char *text, size_t len,
                        json_object **out, nb_error *err);
void nb_json_encode_tree(const nb_model *m, int shape, json_object *v);

/* rest-json routing (codec_restjson.c).  A requestUri template matches a
 * path when its literal characters match, each {Label} takes one non-empty
 * segment and a greedy {Label+} the rest (one or more segments); literals
 * after '?' in the template ("?versions", "?List=ALL") must be in the
 * query.  Captured values are raw (still percent-encoded). */
#define NB_REST_MAX_LABELS 8
typedef struct nb_rest_label {
    const char *name, *val; /* name into the template, val into the path */
    size_t nlen, vlen;
} nb_rest_label;
/* Number of labels captured (>= 0), or -1 when the template does not match. */
int nb_rest_match(const char *tmpl, const char *path, size_t plen, const char *query,
                  size_t qlen, nb_rest_label *labels, int max);
/* The operation of m whose method and template match, the most specific
 * (most literal characters) first; NULL when none.  The table is built once
 * per model, on first use. */
const nb_operation *nb_rest_route(const nb_model *m, const char *method, const char *path,
                                  size_t plen, const char *query, size_t qlen);
void nb_rest_free(void); /* at exit: the routing tables */

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
