/*
 * model.h — the AWS service model as C data.
 *
 * tools/gen_models.py turns botocore's service-2.json files into constant
 * tables of these types (src/gen/<service>_model.c).  Codecs and the central
 * validator walk these tables; handlers never look at wire formats.
 *
 * Shapes, members and operations of one service live in three flat arrays
 * and refer to each other by index.  A structure's members are the run
 * members[first .. first+count-1]; a list's element is members[first]; a
 * map's key and value are members[first] and members[first+1].  This keeps
 * the per-member wire names (locationName, flattened) where the model puts
 * them: on the member, not on the target shape.
 */
#ifndef NB_MODEL_H
#define NB_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    NB_T_STRUCTURE,
    NB_T_LIST,
    NB_T_MAP,
    NB_T_STRING,
    NB_T_INTEGER,
    NB_T_LONG,
    NB_T_BOOLEAN,
    NB_T_FLOAT,
    NB_T_DOUBLE,
    NB_T_BLOB,
    NB_T_TIMESTAMP,
} nb_type;

/* Where a member travels in the HTTP message (rest protocols). */
typedef enum {
    NB_LOC_BODY,
    NB_LOC_HEADER,
    NB_LOC_HEADERS, /* map of prefixed headers */
    NB_LOC_QUERY,
    NB_LOC_URI,
    NB_LOC_STATUS,
} nb_location;

/* Member flags. */
#define NB_M_REQUIRED 0x01u
#define NB_M_FLATTENED 0x02u /* member-level flattened (query/xml) */
#define NB_M_XMLATTR 0x04u
#define NB_M_IDEMPOTENCY 0x08u
#define NB_M_PAYLOAD 0x10u   /* the structure's payload member */
#define NB_M_HOSTLABEL 0x20u
#define NB_M_JSONVALUE 0x40u /* header string carrying base64 JSON (rest) */

/* Shape flags. */
#define NB_S_FLATTENED 0x01u /* shape-level flattened (list or map) */
#define NB_S_EXCEPTION 0x02u
#define NB_S_SENDER_FAULT 0x04u
#define NB_S_HAS_MIN 0x08u
#define NB_S_HAS_MAX 0x10u
#define NB_S_SENSITIVE 0x20u
#define NB_S_DOCUMENT 0x40u
#define NB_S_STREAMING 0x80u
#define NB_S_JSON_NAMES 0x100u /* a member has a JSON body name (nb_member.json) */

typedef struct nb_member {
    const char *name;     /* member name in the model */
    const char *wire;     /* locationName, or NULL when the same as name */
    const char *query;    /* ec2 queryName, or NULL */
    const char *json;     /* JSON body name (the current model's locationName
                           * of a body member, JSON protocols), or NULL when
                           * the same as name */
    uint32_t shape;       /* index into the service's shapes */
    uint8_t location;     /* nb_location */
    uint8_t flags;        /* NB_M_* */
} nb_member;

typedef struct nb_shape {
    const char *name;
    uint8_t type;         /* nb_type */
    uint16_t flags;       /* NB_S_* */
    uint16_t count;       /* structure: members; enum: values */
    uint32_t first;       /* first member index (structure/list/map) */
    int64_t min, max;     /* length/size/value limits when flagged */
    const char *const *enums; /* enum values, count in nenums */
    uint16_t nenums;
    uint16_t http_status; /* exceptions: modelled HTTP status, else 0 */
    const char *error_code; /* exceptions: awsQueryError code, else NULL */
    const char *timestamp_format; /* NULL, "iso8601", "unixTimestamp", "rfc822" */
    const char *pattern;  /* strings: the model's regular expression, or NULL */
} nb_shape;

typedef struct nb_operation {
    const char *name;
    const char *method;   /* HTTP method */
    const char *uri;      /* requestUri template */
    int32_t input;        /* shape index or -1 */
    int32_t output;       /* shape index or -1 */
    const char *result_wrapper; /* query protocol output wrapper, or NULL */
    uint16_t http_status; /* success status (0 = 200) */
    const uint32_t *errors; /* shape indexes of modelled errors */
    uint16_t nerrors;
} nb_operation;

/* Protocol bits: every protocol a service's SDKs have used. */
#define NB_P_JSON 0x01u
#define NB_P_QUERY 0x02u
#define NB_P_REST_JSON 0x04u
#define NB_P_REST_XML 0x08u
#define NB_P_EC2 0x10u
#define NB_P_CBOR 0x20u

typedef struct nb_model {
    const char *service_id;       /* "SQS" */
    const char *endpoint_prefix;  /* "sqs" */
    const char *signing_name;     /* SigV4 service name */
    const char *target_prefix;    /* X-Amz-Target prefix, or NULL */
    const char *json_version;     /* "1.0" / "1.1", or NULL */
    const char *xml_namespace;    /* query/xml namespace, or NULL */
    const char *api_version;
    const char *botocore_version; /* the botocore the tables came from */
    uint32_t protocols;           /* NB_P_* */
    uint8_t query_compatible;     /* awsQueryCompatible: send x-amzn-query-error */
    const nb_shape *shapes;
    uint32_t nshapes;
    const nb_member *members;
    uint32_t nmembers;
    const nb_operation *ops;      /* sorted by name */
    uint32_t nops;
} nb_model;

/* Binary search of ops by name; NULL when unknown. */
const nb_operation *nb_model_op(const nb_model *m, const char *name, size_t len);
/* Index of a member of structure shape s by name, or -1. */
int nb_model_member(const nb_model *m, const nb_shape *s, const char *name, size_t len);
/* The same by the name in a JSON body: a member's json name where it has
 * one (shapes flagged NB_S_JSON_NAMES), else its name. */
int nb_model_member_json(const nb_model *m, const nb_shape *s, const char *name, size_t len);
/* A member's name in a JSON body. */
static inline const char *nb_member_json(const nb_member *mem)
{
    return mem->json ? mem->json : mem->name;
}
/* Index of a shape by name (linear; for startup/tests), or -1. */
int nb_model_shape(const nb_model *m, const char *name);

#endif
