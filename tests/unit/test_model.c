/*
 * test_model.c — sanity of the generated model tables (src/gen/<service>_model.c,
 * from tools/gen_models.py) and of the lookups in src/core/model.c:
 *
 *   - every operation is found by nb_model_op, and ops are strictly sorted;
 *   - every index (member -> shape, shape -> members, op -> input/output and
 *     errors) is in range; inputs/outputs are structures, errors exceptions;
 *   - lists have exactly 1 member, maps 2; enums carry their values;
 *   - SQS has the 23 operations of the current model, speaks JSON and query
 *     and is awsQueryCompatible; STS is query only;
 *   - modelled error codes (QueueDoesNotExist -> AWS.SimpleQueueService.NonExistentQueue).
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model.h"
#include "core/nimbus.h"
#include "gen/models.h"


static int passed, failed;

#include "check.h"

/* Structural checks of one model; problems are counted once per kind so a
 * broken table does not print thousands of lines. */
static void check_tables(const nb_model *m)
{
    const char *sid = m->service_id;
    check(m->shapes && m->nshapes > 0 && m->members && m->nmembers > 0 && m->ops && m->nops > 0,
          "%s: tables present", sid);

    /* Operations: found, sorted, shapes in range. */
    int not_found = 0, unsorted = 0, bad_io = 0, bad_err = 0, no_method = 0;
    for (uint32_t i = 0; i < m->nops; i++) {
        const nb_operation *op = &m->ops[i];
        if (nb_model_op(m, op->name, strlen(op->name)) != op) {
            not_found++;
            printf("  %s: op %s not found by nb_model_op\n", sid, op->name);
        }
        if (i > 0 && strcmp(m->ops[i - 1].name, op->name) >= 0) {
            unsorted++;
            printf("  %s: ops %s, %s out of order\n", sid, m->ops[i - 1].name, op->name);
        }
        for (int k = 0; k < 2; k++) {
            int32_t s = k ? op->output : op->input;
            if (s < -1 || s >= (int32_t)m->nshapes || (s >= 0 && m->shapes[s].type != NB_T_STRUCTURE)) {
                bad_io++;
                printf("  %s: op %s %s shape %d\n", sid, op->name, k ? "output" : "input", s);
            }
        }
        if (op->nerrors && !op->errors)
            bad_err++;
        for (uint16_t e = 0; op->errors && e < op->nerrors; e++) {
            uint32_t s = op->errors[e];
            if (s >= m->nshapes || !(m->shapes[s].flags & NB_S_EXCEPTION)) {
                bad_err++;
                printf("  %s: op %s error %u not an exception\n", sid, op->name, s);
            }
        }
        if (!op->method || !op->uri)
            no_method++;
    }
    check(not_found == 0, "%s: every op found by nb_model_op (%d not)", sid, not_found);
    check(unsorted == 0, "%s: ops strictly sorted by name (%d pairs out of order)", sid, unsorted);
    check(bad_io == 0, "%s: op input/output shapes are structures or -1 (%d bad)", sid, bad_io);
    check(bad_err == 0, "%s: op errors are exception shapes (%d bad)", sid, bad_err);
    check(no_method == 0, "%s: ops have method and uri", sid);

    /* Members point at shapes. */
    int bad_member = 0;
    for (uint32_t i = 0; i < m->nmembers; i++) {
        const nb_member *mem = &m->members[i];
        if (mem->shape >= m->nshapes || !mem->name || !mem->name[0] || mem->location > NB_LOC_STATUS) {
            bad_member++;
            printf("  %s: member %u (%s) -> shape %u\n", sid, i, mem->name ? mem->name : "?", mem->shape);
        }
    }
    check(bad_member == 0, "%s: every member's shape index < nshapes (%d bad)", sid, bad_member);

    /* Shapes: member runs in range, list 1 / map 2, enums, names unique. */
    int bad_run = 0, bad_list = 0, bad_map = 0, bad_enum = 0, dup_name = 0, bad_type = 0, bad_exc = 0,
        dup_member = 0;
    for (uint32_t i = 0; i < m->nshapes; i++) {
        const nb_shape *s = &m->shapes[i];
        if (s->type > NB_T_TIMESTAMP || !s->name)
            bad_type++;
        bool runs = s->type == NB_T_STRUCTURE || s->type == NB_T_LIST || s->type == NB_T_MAP;
        if (runs && (uint64_t)s->first + s->count > m->nmembers) {
            bad_run++;
            printf("  %s: shape %s members %u+%u out of range\n", sid, s->name, s->first, s->count);
        }
        if (s->type == NB_T_LIST && s->count != 1) {
            bad_list++;
            printf("  %s: list %s has %u members\n", sid, s->name, s->count);
        }
        if (s->type == NB_T_MAP && s->count != 2) {
            bad_map++;
            printf("  %s: map %s has %u members\n", sid, s->name, s->count);
        }
        if (s->nenums && (!s->enums || s->type != NB_T_STRING))
            bad_enum++;
        for (uint16_t e = 0; s->enums && e < s->nenums; e++)
            if (!s->enums[e])
                bad_enum++;
        if ((s->flags & NB_S_EXCEPTION) && s->type != NB_T_STRUCTURE)
            bad_exc++;
        if (s->type == NB_T_STRUCTURE && runs && (uint64_t)s->first + s->count <= m->nmembers) {
            for (uint16_t a = 0; a < s->count; a++)
                for (uint16_t b = a + 1; b < s->count; b++)
                    if (strcmp(m->members[s->first + a].name, m->members[s->first + b].name) == 0)
                        dup_member++;
            for (uint16_t a = 0; a < s->count; a++) {
                const char *mn = m->members[s->first + a].name;
                if (nb_model_member(m, s, mn, strlen(mn)) != (int)(s->first + a))
                    dup_member++;
            }
        }
        if (nb_model_shape(m, s->name) != (int)i)
            dup_name++;
    }
    check(bad_type == 0, "%s: shape types valid (%d bad)", sid, bad_type);
    check(bad_run == 0, "%s: member runs inside the member table (%d bad)", sid, bad_run);
    check(bad_list == 0, "%s: lists have exactly 1 member (%d bad)", sid, bad_list);
    check(bad_map == 0, "%s: maps have exactly 2 members (%d bad)", sid, bad_map);
    check(bad_enum == 0, "%s: enums are strings with their values (%d bad)", sid, bad_enum);
    check(bad_exc == 0, "%s: exceptions are structures (%d bad)", sid, bad_exc);
    check(dup_name == 0, "%s: shape names unique, nb_model_shape finds each (%d bad)", sid, dup_name);
    check(dup_member == 0, "%s: structure members unique, nb_model_member finds each (%d bad)", sid, dup_member);

    /* Lookups of names that are not there. */
    check(nb_model_op(m, "", 0) == NULL, "%s: empty op name not found", sid);
    check(nb_model_op(m, "Zzz", 3) == NULL, "%s: unknown op not found", sid);
    const char *first = m->ops[0].name;
    size_t fl = strlen(first);
    check(fl < 2 || nb_model_op(m, first, fl - 1) == NULL, "%s: proper prefix of %s not found", sid, first);
    char longer[128];
    snprintf(longer, sizeof longer, "%sX", first);
    check(nb_model_op(m, longer, strlen(longer)) == NULL, "%s: %s not found", sid, longer);
    snprintf(longer, sizeof longer, "%s", first);
    longer[fl] = 0;
    check(nb_model_op(m, longer, fl + 1) == NULL, "%s: name with a NUL byte not found", sid);
    check(nb_model_op(NULL, first, fl) == NULL && nb_model_op(m, NULL, 0) == NULL, "%s: NULL args", sid);
    check(nb_model_shape(m, "NoSuchShape") == -1, "%s: unknown shape -1", sid);
}

static const nb_shape *shape(const nb_model *m, const char *name)
{
    int i = nb_model_shape(m, name);
    if (!check(i >= 0, "%s: shape %s exists", m->service_id, name))
        return NULL;
    return &m->shapes[i];
}

static const nb_member *member(const nb_model *m, const char *shape_name, const char *name)
{
    const nb_shape *s = shape(m, shape_name);
    if (!s)
        return NULL;
    int i = nb_model_member(m, s, name, strlen(name));
    if (!check(i >= 0, "%s: %s.%s exists", m->service_id, shape_name, name))
        return NULL;
    return &m->members[i];
}

static const char *wire(const nb_member *mem)
{
    return mem ? (mem->wire ? mem->wire : mem->name) : "(none)";
}

static void test_sqs(void)
{
    const nb_model *m = &nb_model_sqs;
    check_tables(m);
    static const char *const ops[] = {
        "AddPermission", "CancelMessageMoveTask", "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch", "CreateQueue", "DeleteMessage", "DeleteMessageBatch",
        "DeleteQueue", "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues",
        "ListMessageMoveTasks", "ListQueueTags", "ListQueues", "PurgeQueue", "ReceiveMessage",
        "RemovePermission", "SendMessage", "SendMessageBatch", "SetQueueAttributes",
        "StartMessageMoveTask", "TagQueue", "UntagQueue",
    };
    const uint32_t n = sizeof ops / sizeof ops[0];
    check(m->nops == n, "SQS: %u ops (got %u)", n, m->nops);
    for (uint32_t i = 0; i < n && i < m->nops; i++)
        check(strcmp(m->ops[i].name, ops[i]) == 0, "SQS: op %u is %s (got %s)", i, ops[i], m->ops[i].name);

    check(m->protocols == (NB_P_JSON | NB_P_QUERY), "SQS: protocols JSON|QUERY (got 0x%x)", m->protocols);
    check(m->query_compatible == 1, "SQS: awsQueryCompatible");
    check(strcmp(m->target_prefix, "AmazonSQS") == 0, "SQS: target prefix AmazonSQS");
    check(strcmp(m->json_version, "1.0") == 0, "SQS: JSON 1.0");
    check(strcmp(m->endpoint_prefix, "sqs") == 0 && strcmp(m->signing_name, "sqs") == 0, "SQS: sqs names");
    check(strcmp(m->xml_namespace, "http://queue.amazonaws.com/doc/2012-11-05/") == 0, "SQS: xml namespace");
    check(strcmp(m->api_version, "2012-11-05") == 0, "SQS: api version");

    const nb_shape *qdne = shape(m, "QueueDoesNotExist");
    if (qdne) {
        check(qdne->error_code && strcmp(qdne->error_code, "AWS.SimpleQueueService.NonExistentQueue") == 0,
              "SQS: QueueDoesNotExist error_code (got %s)", qdne->error_code ? qdne->error_code : "NULL");
        check(qdne->http_status == 400, "SQS: QueueDoesNotExist status 400");
        check((qdne->flags & (NB_S_EXCEPTION | NB_S_SENDER_FAULT)) == (NB_S_EXCEPTION | NB_S_SENDER_FAULT),
              "SQS: QueueDoesNotExist is a sender-fault exception");
    }
    const nb_shape *qne = shape(m, "QueueNameExists");
    check(qne && qne->error_code && strcmp(qne->error_code, "QueueAlreadyExists") == 0,
          "SQS: QueueNameExists error_code QueueAlreadyExists");
    const nb_shape *ol = shape(m, "OverLimit");
    check(ol && ol->http_status == 403, "SQS: OverLimit status 403");

    /* Operations reference the right shapes and query wrappers. */
    const nb_operation *sm = nb_model_op(m, "SendMessage", 11);
    check(sm && sm->input >= 0 && strcmp(m->shapes[sm->input].name, "SendMessageRequest") == 0 &&
              sm->output >= 0 && strcmp(m->shapes[sm->output].name, "SendMessageResult") == 0 &&
              sm->result_wrapper && strcmp(sm->result_wrapper, "SendMessageResult") == 0,
          "SQS: SendMessage shapes and result wrapper");
    const nb_operation *dq = nb_model_op(m, "DeleteQueue", 11);
    check(dq && dq->output == -1, "SQS: DeleteQueue has no output");
    for (uint32_t i = 0; i < m->nops; i++)
        check(m->ops[i].result_wrapper != NULL, "SQS: %s has a query result wrapper", m->ops[i].name);

    /* Required members and the query traits the codecs rely on. */
    const nb_member *qu = member(m, "SendMessageRequest", "QueueUrl");
    check(qu && (qu->flags & NB_M_REQUIRED), "SQS: SendMessage QueueUrl required");
    const nb_member *dt = member(m, "MessageAttributeValue", "DataType");
    check(dt && (dt->flags & NB_M_REQUIRED), "SQS: MessageAttributeValue.DataType required");
    const nb_member *ma = member(m, "SendMessageRequest", "MessageAttributes");
    check(ma && strcmp(wire(ma), "MessageAttribute") == 0, "SQS: MessageAttributes wire MessageAttribute");
    const nb_shape *mbam = shape(m, "MessageBodyAttributeMap");
    check(mbam && mbam->type == NB_T_MAP && (mbam->flags & NB_S_FLATTENED) &&
              strcmp(wire(&m->members[mbam->first]), "Name") == 0 &&
              strcmp(wire(&m->members[mbam->first + 1]), "Value") == 0,
          "SQS: MessageBodyAttributeMap flattened Name/Value");
    const nb_shape *anl = shape(m, "AttributeNameList");
    check(anl && anl->type == NB_T_LIST && (anl->flags & NB_S_FLATTENED) &&
              strcmp(wire(&m->members[anl->first]), "AttributeName") == 0,
          "SQS: AttributeNameList flattened AttributeName");
    const nb_shape *ml = shape(m, "MessageList");
    check(ml && (ml->flags & NB_S_FLATTENED) && strcmp(wire(&m->members[ml->first]), "Message") == 0,
          "SQS: MessageList flattened Message");
    const nb_member *slv = member(m, "MessageAttributeValue", "StringListValues");
    check(slv && (slv->flags & NB_M_FLATTENED) && strcmp(wire(slv), "StringListValue") == 0,
          "SQS: StringListValues member-level flattened StringListValue");
    /* TagMap carries locationName "Tag" on the shape (botocore 1.29), so
     * every member of that shape without its own name travels as "Tag". */
    check(strcmp(wire(member(m, "CreateQueueRequest", "tags")), "Tag") == 0, "SQS: CreateQueue tags wire Tag");
    check(strcmp(wire(member(m, "ListQueueTagsResult", "Tags")), "Tag") == 0, "SQS: ListQueueTags Tags wire Tag");
    check(strcmp(wire(member(m, "TagQueueRequest", "Tags")), "Tag") == 0,
          "SQS: TagQueue Tags wire Tag (TagMap's shape-level locationName; got %s)",
          wire(member(m, "TagQueueRequest", "Tags")));
    check(strcmp(wire(member(m, "CreateQueueRequest", "Attributes")), "Attribute") == 0,
          "SQS: CreateQueue Attributes wire Attribute");
    const nb_shape *qan = shape(m, "QueueAttributeName");
    check(qan && qan->nenums >= 20 && strcmp(qan->enums[0], "All") == 0, "SQS: QueueAttributeName enum");
}

static void test_sts(void)
{
    const nb_model *m = &nb_model_sts;
    check_tables(m);
    check(m->protocols == NB_P_QUERY, "STS: protocols QUERY only (got 0x%x)", m->protocols);
    check(m->query_compatible == 0, "STS: not awsQueryCompatible");
    check(m->target_prefix == NULL && m->json_version == NULL, "STS: no JSON target");
    check(strcmp(m->endpoint_prefix, "sts") == 0, "STS: endpoint prefix");
    check(strcmp(m->xml_namespace, "https://sts.amazonaws.com/doc/2011-06-15/") == 0, "STS: xml namespace");
    const nb_operation *gci = nb_model_op(m, "GetCallerIdentity", 17);
    check(gci && gci->result_wrapper && strcmp(gci->result_wrapper, "GetCallerIdentityResult") == 0 &&
              gci->input >= 0 && m->shapes[gci->input].count == 0,
          "STS: GetCallerIdentity (empty input, wrapper)");
    check(nb_model_op(m, "AssumeRole", 10) != NULL, "STS: AssumeRole present");
    const nb_member *ra = member(m, "AssumeRoleRequest", "RoleArn");
    check(ra && (ra->flags & NB_M_REQUIRED), "STS: AssumeRole RoleArn required");
    const nb_shape *rsn = shape(m, "roleSessionNameType");
    check(rsn && (rsn->flags & NB_S_HAS_MIN) && rsn->min == 2 && (rsn->flags & NB_S_HAS_MAX) && rsn->max == 64,
          "STS: roleSessionNameType length 2..64");
    const nb_shape *et = shape(m, "ExpiredTokenException");
    check(et && et->error_code && strcmp(et->error_code, "ExpiredTokenException") == 0 && et->http_status == 400,
          "STS: ExpiredTokenException error code/status");
    const nb_shape *date = shape(m, "dateType");
    check(date && date->type == NB_T_TIMESTAMP, "STS: dateType is a timestamp");
}

int main(void)
{
    test_sqs();
    test_sts();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
