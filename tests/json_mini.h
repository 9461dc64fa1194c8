/* A minimal JSON reader for test fixtures (jsonl files): parses one text
 * into a tree; numbers keep their text so 64-bit integers stay exact. */
#ifndef GRANITE_TESTS_JSON_MINI_H
#define GRANITE_TESTS_JSON_MINI_H

#include <stddef.h>
#include <stdint.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue {
  JsonType type;
  int boolean;
  char *text;               /* string contents (unescaped) or number text */
  size_t n;                 /* array/object length */
  struct JsonValue *items;  /* array elements or object values */
  char **keys;              /* object keys */
} JsonValue;

/* Parses text[0..len) (one value, white space around it allowed); returns 0,
 * or -1 (with *error_offset, may be NULL) on bad JSON or text after the value. */
int json_parse(const char *text, size_t len, JsonValue *out, size_t *error_offset);
void json_free(JsonValue *v);

/* Object member by key, or NULL. */
const JsonValue *json_get(const JsonValue *obj, const char *key);
/* String of a member, or def. */
const char *json_get_string(const JsonValue *obj, const char *key, const char *def);
/* Integer of a number value (exact for int64/uint64 texts). */
int64_t json_int(const JsonValue *v);
uint64_t json_uint(const JsonValue *v);
/* Double of a number, or of a numeric string (protobuf's JSON mapping writes
 * "NaN", "Infinity" and 64-bit integers as strings); 0 if v is NULL. */
double json_number(const JsonValue *v);
/* Elements of an array member (0 if absent or not an array). */
size_t json_array_len(const JsonValue *obj, const char *key);

#endif
