/* PNG of validation curves (cli/runs_plot.h). */
#include "cli/runs_plot.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/common.h"

/* Colours that stay apart for up to ten runs (then they repeat). */
static const double palette[][3] = {{0.12, 0.47, 0.71}, {1.00, 0.50, 0.05}, {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
                                    {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.50, 0.50, 0.50},
                                    {0.74, 0.74, 0.13}, {0.09, 0.75, 0.81}};

typedef struct {
  double x0, y0, w, h;    /* plot area in pixels */
  double xmin, xmax;      /* data range */
  double ymin, ymax;      /* MAPE range (percent), drawn in log10 */
} Panel;

static double px(const Panel *p, double x) { return p->x0 + (x - p->xmin) / (p->xmax - p->xmin) * p->w; }
static double py(const Panel *p, double y) {
  return p->y0 + p->h - (log10(y) - log10(p->ymin)) / (log10(p->ymax) - log10(p->ymin)) * p->h;
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for about n ticks. */
static double nice_step(double range, int n) {
  double raw = range / n, p = pow(10, floor(log10(raw))), m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double align_x, double align_y) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s, &e);
  cairo_move_to(cr, x - e.width * align_x - e.x_bearing, y - e.height * align_y - e.y_bearing);
  cairo_show_text(cr, s);
}

static void draw_panel(cairo_t *cr, const Panel *p, const char *title, const char *xlabel, double xscale,
                       const RunLog *runs, int n, int by_time) {
  cairo_set_source_rgb(cr, 0, 0, 0);
  cairo_set_line_width(cr, 1);
  cairo_set_font_size(cr, 14);
  text_at(cr, p->x0 + p->w / 2, p->y0 - 10, title, 0.5, 1);
  cairo_set_font_size(cr, 11);
  text_at(cr, p->x0 + p->w / 2, p->y0 + p->h + 34, xlabel, 0.5, 0);
  /* x ticks */
  double step = nice_step((p->xmax - p->xmin) / xscale, 6) * xscale;
  for (double x = ceil(p->xmin / step) * step; x <= p->xmax + 1e-9 * step; x += step) {
    double X = px(p, x);
    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
    cairo_move_to(cr, X + 0.5, p->y0);
    cairo_line_to(cr, X + 0.5, p->y0 + p->h);
    cairo_stroke(cr);
    char buf[32];
    snprintf(buf, sizeof buf, "%g", x / xscale);
    cairo_set_source_rgb(cr, 0, 0, 0);
    text_at(cr, X, p->y0 + p->h + 16, buf, 0.5, 0);
  }
  /* y ticks at 1, 2, 5 times powers of ten; every integer multiple when the
   * range is less than about a decade */
  bool dense = p->ymax / p->ymin < 20;
  for (int e = (int)floor(log10(p->ymin)); e <= (int)ceil(log10(p->ymax)); e++)
    for (int m = 1; m <= 9; m += dense ? 1 : m == 1 ? 1 : 3) {
      double y = m * pow(10, e);
      if (y < p->ymin || y > p->ymax) continue;
      double Y = py(p, y);
      cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
      cairo_move_to(cr, p->x0, Y + 0.5);
      cairo_line_to(cr, p->x0 + p->w, Y + 0.5);
      cairo_stroke(cr);
      char buf[32];
      snprintf(buf, sizeof buf, "%g%%", y);
      cairo_set_source_rgb(cr, 0, 0, 0);
      text_at(cr, p->x0 - 6, Y, buf, 1, 0.5);
    }
  cairo_set_source_rgb(cr, 0, 0, 0); /* the frame over the grid lines */
  cairo_rectangle(cr, p->x0 + 0.5, p->y0 + 0.5, p->w, p->h);
  cairo_stroke(cr);
  /* the curves, clipped to the plot area */
  cairo_save(cr);
  cairo_rectangle(cr, p->x0, p->y0, p->w, p->h);
  cairo_clip(cr);
  cairo_set_line_width(cr, 2);
  for (int r = 0; r < n; r++) {
    const double *c = palette[r % ARRAY_LEN(palette)];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    int drawn = 0;
    for (int i = 0; i < runs[r].num_points; i++) {
      const RunPoint *q = &runs[r].points[i];
      if (!isfinite(q->mape) || q->mape <= 0) continue;
      double X = px(p, by_time ? q->seconds : (double)q->step), Y = py(p, q->mape);
      if (drawn++) cairo_line_to(cr, X, Y);
      else cairo_move_to(cr, X, Y);
    }
    if (drawn == 1) { /* a single point: a dot */
      double X, Y;
      cairo_get_current_point(cr, &X, &Y);
      cairo_arc(cr, X, Y, 3, 0, 2 * M_PI);
      cairo_fill(cr);
    }
    cairo_stroke(cr);
  }
  cairo_restore(cr);
}

int runs_plot_png(const char *path, const RunLog *runs, const char *const *labels, int n, int width, int height) {
  double ymin = INFINITY, ymax = -INFINITY, smax = 0, tmax = 0;
  for (int r = 0; r < n; r++)
    for (int i = 0; i < runs[r].num_points; i++) {
      const RunPoint *q = &runs[r].points[i];
      if (!isfinite(q->mape) || q->mape <= 0) continue;
      if (q->mape < ymin) ymin = q->mape;
      if (q->mape > ymax) ymax = q->mape;
      if (q->step > smax) smax = (double)q->step;
      if (q->seconds > tmax) tmax = q->seconds;
    }
  if (!isfinite(ymin)) {
    ymin = 1;
    ymax = 100; /* no validation anywhere: empty axes, the legend says so */
  }
  ymin /= 1.15;
  ymax *= 1.15;
  if (ymax / ymin < 2) ymin = ymax / 2;
  if (smax <= 0) smax = 1;
  if (tmax <= 0) tmax = 1;

  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
  cairo_t *cr = cairo_create(s);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  double legend_h = 18.0 * n + 10, top = 40, bottom = 50 + legend_h, left = 70, gap = 80, right = 20;
  double pw = (width - left - gap - right) / 2, ph = height - top - bottom;
  Panel a = {left, top, pw, ph, 0, smax, ymin, ymax};
  Panel b = {left + pw + gap, top, pw, ph, 0, tmax, ymin, ymax};
  bool minutes = tmax > 180, hours = tmax > 3 * 3600;
  draw_panel(cr, &a, "validation MAPE vs step", "step", 1, runs, n, 0);
  draw_panel(cr, &b, "validation MAPE vs wall time", hours ? "hours" : minutes ? "minutes" : "seconds",
             hours ? 3600 : minutes ? 60 : 1, runs, n, 1);
  /* the legend, under the panels */
  cairo_set_font_size(cr, 12);
  for (int r = 0; r < n; r++) {
    double y = height - legend_h + 18.0 * r + 4;
    const double *c = palette[r % ARRAY_LEN(palette)];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_rectangle(cr, left, y + 3, 24, 4);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s%s", labels[r], runs[r].num_points ? "" : "  (no validation)");
    text_at(cr, left + 32, y + 5, buf, 0, 0.5);
  }
  cairo_destroy(cr);

  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
  cairo_status_t st = cairo_surface_write_to_png(s, tmp);
  cairo_surface_destroy(s);
  if (st != CAIRO_STATUS_SUCCESS) {
    gr_error("%s: cannot write the PNG: %s", path, cairo_status_to_string(st));
    unlink(tmp);
    return -1;
  }
  if (rename(tmp, path)) {
    gr_error("%s: cannot write the PNG: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}
