/* A tiny JSON reader for the reference-model dumps (header-only, tests only):
 * parses a whole document into a tree of JsonValue. Numbers are doubles. */
#ifndef GRANITE_TESTS_REF_JSON_H
#define GRANITE_TESTS_REF_JSON_H

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonKind;

typedef struct JsonValue {
  JsonKind kind;
  double number; /* also bools: 0/1 */
  char *string;
  int count;               /* array/object items */
  struct JsonValue *items; /* array items or object values */
  char **keys;             /* object keys */
} JsonValue;

typedef struct {
  const char *p;
  int failed;
} JsonParser;

static void json_ws(JsonParser *ps) {
  while (isspace((unsigned char)*ps->p)) ps->p++;
}

static char *json_string(JsonParser *ps) {
  if (*ps->p != '"') { ps->failed = 1; return NULL; }
  ps->p++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  while (*ps->p && *ps->p != '"') {
    char ch = *ps->p++;
    if (ch == '\\') {
      char esc = *ps->p++;
      ch = esc == 'n' ? '\n' : esc == 't' ? '\t' : esc;
      if (esc == 'u') { ch = '?'; ps->p += 4; }
    }
    if (n + 2 > cap) s = realloc(s, cap *= 2);
    s[n++] = ch;
  }
  if (*ps->p != '"') ps->failed = 1;
  else ps->p++;
  s[n] = 0;
  return s;
}

static void json_parse_value(JsonParser *ps, JsonValue *v);

static void json_parse_list(JsonParser *ps, JsonValue *v, char close, int object) {
  int cap = 0;
  ps->p++;
  json_ws(ps);
  if (*ps->p == close) { ps->p++; return; }
  for (;;) {
    if (v->count == cap) {
      cap = cap ? 2 * cap : 8;
      v->items = realloc(v->items, sizeof(JsonValue) * cap);
      if (object) v->keys = realloc(v->keys, sizeof(char *) * cap);
    }
    json_ws(ps);
    if (object) {
      v->keys[v->count] = json_string(ps);
      json_ws(ps);
      if (*ps->p != ':') { ps->failed = 1; return; }
      ps->p++;
    }
    json_parse_value(ps, &v->items[v->count++]);
    if (ps->failed) return;
    json_ws(ps);
    if (*ps->p == ',') { ps->p++; continue; }
    if (*ps->p == close) { ps->p++; return; }
    ps->failed = 1;
    return;
  }
}

static void json_parse_value(JsonParser *ps, JsonValue *v) {
  memset(v, 0, sizeof(*v));
  json_ws(ps);
  char c = *ps->p;
  if (c == '{') { v->kind = JSON_OBJECT; json_parse_list(ps, v, '}', 1); }
  else if (c == '[') { v->kind = JSON_ARRAY; json_parse_list(ps, v, ']', 0); }
  else if (c == '"') { v->kind = JSON_STRING; v->string = json_string(ps); }
  else if (!strncmp(ps->p, "true", 4)) { v->kind = JSON_BOOL; v->number = 1; ps->p += 4; }
  else if (!strncmp(ps->p, "false", 5)) { v->kind = JSON_BOOL; ps->p += 5; }
  else if (!strncmp(ps->p, "null", 4)) { v->kind = JSON_NULL; ps->p += 4; }
  else if (!strncmp(ps->p, "NaN", 3)) { v->kind = JSON_NUMBER; v->number = NAN; ps->p += 3; }
  else {
    char *end;
    v->kind = JSON_NUMBER;
    v->number = strtod(ps->p, &end);
    if (end == ps->p) ps->failed = 1;
    ps->p = end;
  }
}

/* NULL on a syntax error. */
static JsonValue *json_parse(const char *text) {
  JsonParser ps = {text, 0};
  JsonValue *v = calloc(1, sizeof(JsonValue));
  json_parse_value(&ps, v);
  if (ps.failed) return NULL; /* leaks on error: tests only */
  return v;
}

static const JsonValue *json_get(const JsonValue *obj, const char *key) {
  if (!obj || obj->kind != JSON_OBJECT) return NULL;
  for (int i = 0; i < obj->count; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

static void json_free(JsonValue *v) {
  if (!v) return;
  for (int i = 0; i < v->count; i++) {
    json_free(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->string);
}

#endif
