/* A small JSON reader for test fixtures (objects, arrays, strings with the
 * common escapes, numbers, true/false/null), included by the tests that
 * need it. Everything is kept in one tree of JsonValue; json_free frees it. */
#include <stdlib.h>
#include <string.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonKind;

typedef struct JsonValue {
  JsonKind kind;
  double number; /* JSON_NUMBER, JSON_BOOL (0/1) */
  char *string;  /* JSON_STRING */
  int count;     /* JSON_ARRAY / JSON_OBJECT */
  struct JsonValue *items;
  char **keys;   /* JSON_OBJECT */
} JsonValue;

static void json_skip_space(const char **p) {
  while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

static int json_parse_value(const char **p, JsonValue *out);

static int json_parse_string(const char **p, char **out) {
  if (**p != '"') return -1;
  (*p)++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  while (**p && **p != '"') {
    char c = *(*p)++;
    if (c == '\\') {
      char e = *(*p)++;
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': { /* ASCII only is enough for the fixtures */
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
          char h = *(*p)++;
          v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
        }
        c = (char)v;
        break;
      }
      default: c = e;
      }
    }
    if (n + 2 > cap) s = realloc(s, cap *= 2);
    s[n++] = c;
  }
  if (**p != '"') {
    free(s);
    return -1;
  }
  (*p)++;
  s[n] = 0;
  *out = s;
  return 0;
}

static int json_parse_value(const char **p, JsonValue *out) {
  memset(out, 0, sizeof *out);
  json_skip_space(p);
  char c = **p;
  if (c == '{' || c == '[') {
    int is_object = c == '{';
    out->kind = is_object ? JSON_OBJECT : JSON_ARRAY;
    (*p)++;
    json_skip_space(p);
    if (**p == (is_object ? '}' : ']')) {
      (*p)++;
      return 0;
    }
    for (;;) {
      out->items = realloc(out->items, (out->count + 1) * sizeof *out->items);
      if (is_object) {
        out->keys = realloc(out->keys, (out->count + 1) * sizeof *out->keys);
        json_skip_space(p);
        if (json_parse_string(p, &out->keys[out->count])) return -1;
        json_skip_space(p);
        if (*(*p)++ != ':') return -1;
      }
      if (json_parse_value(p, &out->items[out->count])) return -1;
      out->count++;
      json_skip_space(p);
      char d = *(*p)++;
      if (d == ',') continue;
      if (d == (is_object ? '}' : ']')) return 0;
      return -1;
    }
  }
  if (c == '"') {
    out->kind = JSON_STRING;
    return json_parse_string(p, &out->string);
  }
  if (!strncmp(*p, "true", 4) || !strncmp(*p, "false", 5)) {
    out->kind = JSON_BOOL;
    out->number = c == 't';
    *p += c == 't' ? 4 : 5;
    return 0;
  }
  if (!strncmp(*p, "null", 4)) {
    *p += 4;
    return 0;
  }
  char *end;
  out->number = strtod(*p, &end);
  if (end == *p) return -1;
  out->kind = JSON_NUMBER;
  *p = end;
  return 0;
}

/* Parses text; 0 on success. */
static int json_parse(const char *text, JsonValue *out) {
  const char *p = text;
  if (json_parse_value(&p, out)) return -1;
  json_skip_space(&p);
  return *p ? -1 : 0;
}

static void json_free(JsonValue *v) {
  for (int i = 0; i < v->count; i++) {
    json_free(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->string);
  memset(v, 0, sizeof *v);
}

/* Member of an object, or NULL. */
static const JsonValue *json_get(const JsonValue *obj, const char *key) {
  if (!obj || obj->kind != JSON_OBJECT) return NULL;
  for (int i = 0; i < obj->count; i++)
    if (!strcmp(obj->keys[i], key)) return &obj->items[i];
  return NULL;
}

/* Number of elements of an array member (0 if absent). */
static int json_array_len(const JsonValue *obj, const char *key) {
  const JsonValue *a = json_get(obj, key);
  return a && a->kind == JSON_ARRAY ? a->count : 0;
}

/* String member ("" if absent, as proto3 defaults). */
static const char *json_string_or_empty(const JsonValue *obj, const char *key) {
  const JsonValue *s = json_get(obj, key);
  return s && s->kind == JSON_STRING ? s->string : "";
}
