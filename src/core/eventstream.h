/*
 * eventstream.h — the AWS event-stream message framing
 * (application/vnd.amazon.eventstream), as services stream events
 * (Lambda's InvokeWithResponseStream; S3 SelectObjectContent, Kinesis
 * SubscribeToShard and others use the same framing).
 *
 * A message is: total length (4 bytes, big-endian), headers length (4),
 * CRC32 of those 8 bytes (4), the headers, the payload, and the CRC32 of
 * everything before it (4).  A header is: name length (1 byte), name,
 * value type (1 byte; 7 = string), value length (2, big-endian), value.
 * Only string headers are written: the ones AWS sends (:event-type,
 * :content-type, :message-type, :exception-type, :error-code) are all
 * strings.
 */
#ifndef NB_EVENTSTREAM_H
#define NB_EVENTSTREAM_H

#include <stddef.h>

#include "buf.h"

typedef struct nb_es_header {
    const char *name;   /* at most 255 bytes */
    const char *value;  /* at most 65535 bytes */
} nb_es_header;

/* Append one message to out.  Returns 0, or -1 (out unchanged) when a
 * header is too long or the message would exceed 16 MB (the framing's
 * limit for a message as AWS's decoders enforce it). */
int nb_es_message(nb_buf *out, const nb_es_header *h, int nh, const void *payload, size_t len);

/* An event message (":message-type" event) with ":event-type" and
 * ":content-type" set. */
int nb_es_event(nb_buf *out, const char *event_type, const char *content_type,
                const void *payload, size_t len);

#define NB_ES_MAX_MESSAGE (16 * 1024 * 1024)

#endif
