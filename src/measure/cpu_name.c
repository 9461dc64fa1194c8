/* CPU naming (cpu_name.h). Family/model ranges are those of GCC's and
 * LLVM's host CPU detection (AMD family 17h, 19h, 1Ah; Intel family 6). */
#include "measure/cpu_name.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cpu_march_name(const char *vendor, int family, int model) {
  if (!strcmp(vendor, "AuthenticAMD")) {
    if (family == 0x17) return model >= 0x30 ? "znver2" : "znver1";
    if (family == 0x19) return (model >= 0x10 && model <= 0x1f) || (model >= 0x60 && model <= 0xaf) ? "znver4" : "znver3";
    if (family == 0x1a) return "znver5";
    return NULL;
  }
  if (!strcmp(vendor, "GenuineIntel") && family == 6) {
    static const struct {
      int model;
      const char *name;
    } intel[] = {{0x3a, "ivybridge"}, {0x3e, "ivybridge"}, {0x3c, "haswell"},    {0x3f, "haswell"},
                 {0x45, "haswell"},   {0x46, "haswell"},   {0x3d, "broadwell"},  {0x47, "broadwell"},
                 {0x4f, "broadwell"}, {0x56, "broadwell"}, {0x4e, "skylake"},    {0x5e, "skylake"},
                 {0x8e, "skylake"},   {0x9e, "skylake"},   {0x55, "skylake-avx512"}, {0x6a, "icelake-server"},
                 {0x6c, "icelake-server"}, {0x7d, "icelake-client"}, {0x7e, "icelake-client"},
                 {0x8f, "sapphirerapids"}, {0xcf, "emeraldrapids"}, {0x97, "alderlake"}, {0x9a, "alderlake"},
                 {0xb7, "raptorlake"}, {0xba, "raptorlake"}, {0xbf, "raptorlake"}};
    for (size_t i = 0; i < sizeof intel / sizeof intel[0]; i++)
      if (intel[i].model == model) return intel[i].name;
  }
  return NULL;
}

/* The value after "key\t: " on a line that starts with key. */
static int field(const char *line, const char *key, char *out, size_t size) {
  size_t k = strlen(key);
  if (strncmp(line, key, k)) return 0;
  const char *colon = line + k;
  while (*colon == ' ' || *colon == '\t') colon++; /* "model" must not match "model name" */
  if (*colon != ':') return 0;
  colon++;
  while (*colon == ' ') colon++;
  snprintf(out, size, "%s", colon);
  out[strcspn(out, "\n")] = 0;
  return 1;
}

void cpu_describe(const char *cpuinfo_path, char *out, size_t size) {
  FILE *f = fopen(cpuinfo_path, "r");
  if (!f) {
    snprintf(out, size, "unknown CPU");
    return;
  }
  char line[512], name[200] = "", vendor[64] = "", value[64];
  int family = -1, model = -1;
  while (fgets(line, sizeof line, f)) {
    if (!name[0]) field(line, "model name", name, sizeof name);
    if (!vendor[0]) field(line, "vendor_id", vendor, sizeof vendor);
    if (family < 0 && field(line, "cpu family", value, sizeof value)) family = atoi(value);
    if (model < 0 && field(line, "model", value, sizeof value)) model = atoi(value);
    if (line[0] == '\n') break; /* the first processor is enough */
  }
  fclose(f);
  if (!name[0]) snprintf(name, sizeof name, "unknown CPU");
  const char *march = cpu_march_name(vendor, family, model);
  if (march) snprintf(out, size, "%s (%s)", name, march);
  else snprintf(out, size, "%s", name);
}
