/* LayerNorm over the feature axis (spec §4.4, Keras defaults): population
 * variance, eps 1e-3, y = (x − μ)·rstd·γ + β. */
#ifndef GRANITE_NN_LAYERNORM_H
#define GRANITE_NN_LAYERNORM_H

#include <stdbool.h>

#define LAYERNORM_EPS 1e-3f

/* Tests only: true makes layernorm_forward take its generic loop where it
 * would take the AVX2 rows, to check that both give the same bits. */
extern bool layernorm_generic;

/* out[rows×dim]; mean and rstd [rows] are kept for the backward pass. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                       const float *beta, int rows, int dim);
/* Accumulates d_in (may be NULL), d_gamma and d_beta. */
void layernorm_backward(float *d_in, float *d_gamma, float *d_beta, const float *d_out,
                        const float *in, const float *mean, const float *rstd, const float *gamma,
                        int rows, int dim);

#endif
