/* SGD with momentum for an ensemble, with the divergence check on the gradients in the same pass
 * (rlnet.models.member_sgd), fp32, CPU.
 *
 * Why: the check (is each member's gradient finite?) and the update each stream every gradient
 * from memory; with 20 members of N = 300 that is two passes over 7.2 MB per step. Here each
 * member's gradients are summed and then used for its update while they are still in L2.
 *
 * Parameter p is (E, n[p]) contiguous, member e's slice at e n[p]. For a member e in [e0, e1):
 *   - finite[e] = whether the sum of each of its gradients is finite (not NaN/inf, and no
 *     overflowing sum: the test of rlnet.models.divergence.grads_finite_per_member);
 *   - if alive[e] == 0 (diverged earlier) or !finite[e]: its gradients and momentum are zeroed and
 *     its weights kept;
 *   - else, as torch.optim.SGD (no dampening, weight decay or Nesterov):
 *     buf = momentum buf + g (buf = g at the first step), w = w - lr buf; without momentum
 *     (buf == NULL), w = w - lr g.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>

static int sums_finite(int P, float *const *g, const long *n, int e) {
    for (int p = 0; p < P; p++) {
        const float *gp = g[p] + (size_t)e * n[p];
        long nv = n[p] / 16 * 16;
        __m512 acc = _mm512_setzero_ps();
        for (long i = 0; i < nv; i += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(gp + i));
        float s = _mm512_reduce_add_ps(acc);
        for (long i = nv; i < n[p]; i++) s += gp[i];
        if (!isfinite(s)) return 0;
    }
    return 1;
}

int rlnet_member_sgd(int e0, int e1, int P, float *const *w, float *const *g, float *const *buf,
                     const long *n, float lr, float momentum, int first, const unsigned char *alive,
                     unsigned char *finite) {
    const __m512 vlr = _mm512_set1_ps(-lr), vm = _mm512_set1_ps(momentum);
    /* Backwards: the backward pass ends with the last members, whose gradients are still in cache. */
    for (int e = e1 - 1; e >= e0; e--) {
        finite[e] = (unsigned char)sums_finite(P, g, n, e);
        int ok = alive[e] && finite[e];
        for (int p = 0; p < P; p++) {
            size_t off = (size_t)e * n[p];
            float *wp = w[p] + off, *gp = g[p] + off, *bp = buf ? buf[p] + off : NULL;
            if (!ok) {  /* frozen: a zero gradient and momentum give a zero update */
                memset(gp, 0, sizeof(float) * n[p]);
                if (bp) memset(bp, 0, sizeof(float) * n[p]);
                continue;
            }
            long i = 0;
            for (; i < n[p]; i += 16) {
                __mmask16 m = n[p] - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n[p] - i)) - 1);
                __m512 gv = _mm512_maskz_loadu_ps(m, gp + i);
                if (bp) {
                    if (!first) gv = _mm512_add_ps(_mm512_mul_ps(vm, _mm512_maskz_loadu_ps(m, bp + i)), gv);
                    _mm512_mask_storeu_ps(bp + i, m, gv);
                }
                /* torch's rounding: the momentum as a product then a sum, the step as one fma */
                _mm512_mask_storeu_ps(wp + i, m, _mm512_fmadd_ps(gv, vlr, _mm512_maskz_loadu_ps(m, wp + i)));
            }
        }
    }
    return 0;
}

#else
int rlnet_member_sgd(int e0, int e1, int P, float *const *w, float *const *g, float *const *buf,
                     const long *n, float lr, float momentum, int first, const unsigned char *alive,
                     unsigned char *finite) { return -1; }
#endif
