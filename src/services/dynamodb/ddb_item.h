/*
 * ddb_item.h — DynamoDB AttributeValue trees: validation, size, storage
 * encoding, equality/ordering and key bytes.
 *
 * Representation (fixed by the protocol layer, see core/service.h): an item
 * is a json-c object {attrName: AttributeValue}; an AttributeValue is a
 * json-c object with one of
 *   S    string                 N    string (number text)
 *   B    string of raw bytes (may hold NULs: use json_object_get_string_len)
 *   SS   array of strings       NS   array of number strings
 *   BS   array of raw-byte strings
 *   M    object of AttributeValues
 *   L    array of AttributeValues
 *   NULL boolean true           BOOL boolean
 * Members with a JSON null value count as absent (the codec's view of an
 * omitted member); members of other names are ignored.
 *
 * Error messages are DynamoDB's ValidationException texts, written into a
 * caller buffer (DDB_ERRLEN is enough for every fixed text; echoed values
 * are truncated to the buffer).
 */
#ifndef NB_DDB_ITEM_H
#define NB_DDB_ITEM_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define DDB_MAX_DEPTH 32        /* an item's attribute values are level 1 */
#define DDB_MAX_HASH_KEY 2048   /* bytes of a partition key value */
#define DDB_MAX_RANGE_KEY 1024  /* bytes of a sort key value */
#define DDB_ERRLEN 512

typedef enum {
    DDB_T_NONE = 0, /* not a (single-typed) AttributeValue */
    DDB_T_S, DDB_T_N, DDB_T_B,
    DDB_T_SS, DDB_T_NS, DDB_T_BS,
    DDB_T_M, DDB_T_L,
    DDB_T_NULL, DDB_T_BOOL,
} ddb_type;

/* The type of an AttributeValue with exactly one type member, and that
 * member's value in *val (may be NULL); DDB_T_NONE otherwise. */
ddb_type ddb_av_type(json_object *av, json_object **val);
/* "S", "N", ..., "BOOL"; "" for DDB_T_NONE. */
const char *ddb_type_name(ddb_type t);

/* Validates one AttributeValue at nesting level depth (1 for an item's
 * attribute, +1 per M/L) as DynamoDB does; rewrites N and NS members to
 * canonical text in place.  Returns 0, or -1 with the message in err. */
int ddb_av_validate(json_object *av, int depth, char *err, size_t errlen);
/* Every attribute of an item (a json-c object), in order. */
int ddb_item_validate(json_object *item, char *err, size_t errlen);

/* Sizes in bytes by DynamoDB's rules ("Item sizes and formats"): an item is
 * the sum of UTF-8 name lengths plus value sizes.  Values must be valid. */
size_t ddb_av_size(json_object *av);
size_t ddb_item_size(json_object *item);

/* Compact storage encoding, appended to out.  A valid tree round-trips
 * exactly through decode (member order, raw bytes, number text).  Returns
 * 0, or -1 when the tree is not a valid value (out may then hold a partial
 * encoding: truncate it to its old length). */
int ddb_av_encode(json_object *av, nb_buf *out);
int ddb_item_encode(json_object *item, nb_buf *out);
/* Decodes exactly len bytes into a new tree (*out, owned by the caller).
 * Returns 0, or -1 on malformed, truncated or non-canonical input (*out is
 * then NULL and nothing is leaked). */
int ddb_av_decode(const void *data, size_t len, json_object **out);
int ddb_item_decode(const void *data, size_t len, json_object **out);

/* Appends the DynamoDB JSON text of an encoded item ({"a":{"S":"x"},...},
 * blobs in base64) to out, without building a tree.  0, or -1 on
 * malformed input (out unchanged). */
int ddb_item_render(const void *data, size_t len, nb_buf *out);

/* Deep equality: numbers by value ("1" == "1.0"), sets ignoring order,
 * maps ignoring member order, lists in order. */
bool ddb_av_equal(json_object *a, json_object *b);
/* Order of two scalars of the same type: S and B by unsigned bytes, N by
 * value.  Values of different types order by their ddb_type (arbitrary but
 * total); other types compare as equal. */
int ddb_av_cmp(json_object *a, json_object *b);

/* The bytes to store in a SQLite BLOB key column so that memcmp order is
 * DynamoDB's order: S its UTF-8 bytes, B its bytes, N ddb_num_sortkey.
 * Checks the key rules for attribute `name` (partition key when hash):
 * no empty S/B, at most 2048/1024 bytes.  Appends to out; 0 or -1 + err. */
int ddb_key_bytes(json_object *av, const char *name, bool hash, nb_buf *out, char *err,
                  size_t errlen);

#endif
