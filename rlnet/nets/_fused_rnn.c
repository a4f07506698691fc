/* Fused forward and backward through time of the ensemble rate RNN (rlnet.nets.bptt), fp32, CPU.
 *
 * Why: the step of an ensemble of small RNNs (N = 300, batch 32, T = 8) is a sequence of
 * 300 x 300 x 32 products with an elementwise pass between them. Batched library GEMMs keep
 * reloading each member's W_h (20 members: 7 MB, more than the 2 MB L2) and every elementwise
 * pass is another trip through memory. Here each member runs its whole sequence while its W_h
 * stays in L2, and the relu and its derivative are applied to the tile the product just wrote.
 *
 * Same equations, layouts and results (up to float32 summation order) as rlnet/nets/bptt.py;
 * tests/test_fused_rnn.py checks both against autograd in float64.
 * Built at first use by rlnet/nets/fused.py with the machine's C compiler (-O3 -march=native);
 * without AVX-512 every entry point returns -1 and the torch path runs.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>

int rlnet_fused_available(void) { return 1; }

/* c[r][v] += sum_k A(r, k) B[k, 16 v ..], A(m, k) = A[m sam + k sak]; the last vector masked. */
static inline __attribute__((always_inline)) void accumulate(
    const int MR, const int NV, const float *A, long sam, long sak, const float *B, long ldb, int K,
    __mmask16 last, __m512 c[12][4]) {
    for (int k = 0; k < K; k++) {
        __m512 b[4];
        const float *bk = B + k * ldb;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            b[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, bk + 16 * v) : _mm512_loadu_ps(bk + 16 * v);
        const float *ak = A + k * sak;
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(ak[r * sam]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) c[r][v] = _mm512_fmadd_ps(a, b[v], c[r][v]);
        }
    }
}

/* C[MR x 16 NV] = alpha2 * A2 B2 + A1 B1, A(m, k) = A[m sam + k sak], B rows of length ldb.
 * The last vector of each row is masked by `last` (the column edge). */
static inline __attribute__((always_inline)) void tile(
    const int MR, const int NV,
    const float *A1, long sam1, long sak1, const float *B1, long ldb1, int K1,
    const float *A2, long sam2, long sak2, const float *B2, long ldb2, int K2, float alpha2,
    float *C, long ldc, __mmask16 last, int epi, const float *Mk, long ldm) {
    __m512 c[12][4];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) c[r][v] = _mm512_setzero_ps();
    accumulate(MR, NV, A2, sam2, sak2, B2, ldb2, K2, last, c);
    if (alpha2 != 1.0f) {
        __m512 al = _mm512_set1_ps(alpha2);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) c[r][v] = _mm512_mul_ps(c[r][v], al);
    }
    accumulate(MR, NV, A1, sam1, sak1, B1, ldb1, K1, last, c);
    /* Epilogue on the registers: 1 = relu (the forward), 2 = zero where Mk <= 0 (relu').
     * NaN as torch: relu(NaN) = NaN (max returns its second operand on NaN), and a NaN rate
     * passes its gradient (NLE is true when unordered), so a diverging member stays visible. */
    const __m512 zero = _mm512_setzero_ps();
    if (epi == 1) {
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) c[r][v] = _mm512_max_ps(zero, c[r][v]);
    } else if (epi == 2) {
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                __m512 m = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xFFFF, Mk + r * ldm + 16 * v);
                c[r][v] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, zero, _CMP_NLE_UQ), c[r][v]);
            }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            if (v == NV - 1) _mm512_mask_storeu_ps(C + r * ldc + 16 * v, last, c[r][v]);
            else _mm512_storeu_ps(C + r * ldc + 16 * v, c[r][v]);
        }
}

typedef void (*tile_fn)(const float *, long, long, const float *, long, int,
                        const float *, long, long, const float *, long, int, float,
                        float *, long, __mmask16, int, const float *, long);

#define TILE(MR, NV)                                                                          \
    static void tile_##MR##_##NV(const float *A1, long sam1, long sak1, const float *B1,       \
                                 long ldb1, int K1, const float *A2, long sam2, long sak2,     \
                                 const float *B2, long ldb2, int K2, float alpha2, float *C,  \
                                 long ldc, __mmask16 last, int epi, const float *Mk, long ldm) {\
        tile(MR, NV, A1, sam1, sak1, B1, ldb1, K1, A2, sam2, sak2, B2, ldb2, K2, alpha2, C,    \
             ldc, last, epi, Mk, ldm);                                                        \
    }
#define TILES(MR) TILE(MR, 1) TILE(MR, 2) TILE(MR, 3) TILE(MR, 4)
TILES(1) TILES(2) TILES(3) TILES(4) TILES(5) TILES(6)
TILES(7) TILES(8) TILES(9) TILES(10) TILES(11) TILES(12)
#define ROW(MR) {tile_##MR##_1, tile_##MR##_2, tile_##MR##_3, tile_##MR##_4}
static const tile_fn TILE_FNS[13][4] = {
    {0, 0, 0, 0}, ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6),
    ROW(7), ROW(8), ROW(9), ROW(10), ROW(11), ROW(12)};

/* One column panel (nv vectors from column n0, the last masked by `last`), row tiles of MR. */
static void gemm_panel(int M, int MR, int nv, __mmask16 last, int n0,
                       const float *A1, long sam1, long sak1, const float *B1, long ldb1, int K1,
                       const float *A2, long sam2, long sak2, const float *B2, long ldb2, int K2,
                       float alpha2, float *C, long ldc, int epi, const float *Mk, long ldm) {
    for (int m0 = 0; m0 < M; m0 += MR) {
        int mr = M - m0 < MR ? M - m0 : MR;
        TILE_FNS[mr][nv - 1](A1 + m0 * sam1, sam1, sak1, B1 + n0, ldb1, K1,
                             A2 + m0 * sam2, sam2, sak2, B2 + n0, ldb2, K2, alpha2,
                             C + m0 * ldc + n0, ldc, last, epi, Mk ? Mk + m0 * ldm + n0 : NULL, ldm);
    }
}

/* C (M x Nc, row stride ldc) = A1 B1 + alpha2 A2 B2; K1 or K2 may be 0.
 * Column panels of 16 NV outer (the B panel stays in L1/L2 across row tiles), row tiles inner. */
static void gemm2(int M, int Nc, int MR, int NV,
                  const float *A1, long sam1, long sak1, const float *B1, long ldb1, int K1,
                  const float *A2, long sam2, long sak2, const float *B2, long ldb2, int K2,
                  float alpha2, float *C, long ldc, int epi, const float *Mk, long ldm) {
    int nvt = (Nc + 15) / 16;
    for (int n0 = 0; n0 < Nc; n0 += 16 * NV) {
        int left = nvt - n0 / 16, w = NV;
        /* A one-vector last panel is load-bound: split the last NV + 1 vectors in two instead. */
        if (left == NV + 1 && NV > 2) w = (NV + 2) / 2;
        if (w != NV) {  /* both panels of the split, then done */
            int n1 = n0 + 16 * w;
            gemm_panel(M, MR, w, 0xFFFF, n0, A1, sam1, sak1, B1, ldb1, K1, A2, sam2, sak2, B2, ldb2, K2, alpha2,
                       C, ldc, epi, Mk, ldm);
            int nc = Nc - n1, nv = (nc + 15) / 16, rem = nc - 16 * (nv - 1);
            gemm_panel(M, MR, nv, (__mmask16)(rem == 16 ? 0xFFFF : (1u << rem) - 1), n1, A1, sam1, sak1, B1,
                       ldb1, K1, A2, sam2, sak2, B2, ldb2, K2, alpha2, C, ldc, epi, Mk, ldm);
            return;
        }
        int nc = Nc - n0 < 16 * NV ? Nc - n0 : 16 * NV;
        int nv = (nc + 15) / 16;
        int rem = nc - 16 * (nv - 1);
        gemm_panel(M, MR, nv, (__mmask16)(rem == 16 ? 0xFFFF : (1u << rem) - 1), n0, A1, sam1, sak1, B1, ldb1,
                   K1, A2, sam2, sak2, B2, ldb2, K2, alpha2, C, ldc, epi, Mk, ldm);
    }
}

/* One 16 x 16 block in registers: dst[c][r] = src[r][c]. */
static inline void transpose16(const float *src, long ss, float *dst, long lds) {
    __m512 r[16], t[16], u[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * ss);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* u[4q + j] holds, in each 128-bit lane l, row block q's column 4l + j (rows 4q..4q+3). */
    for (int i = 0; i < 8; i++) {
        int q = i / 4 * 8 + i % 4;
        t[i] = _mm512_shuffle_f32x4(u[q], u[q + 4], 0x88);
        t[i + 8] = _mm512_shuffle_f32x4(u[q], u[q + 4], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        /* t[i], t[i + 4]: lanes of row blocks {0,1} and {2,3}; t[i + 8], t[i + 12] likewise. */
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 4], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 4], 0xdd);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 8], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 8], t[i + 12], 0xdd);
    }
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + i * lds, r[i]);
}

/* dst (cols x rows, row stride lds) = src^T, src rows of stride ss: 16 x 16 blocks in registers,
 * the edges by gathering 16 strided lanes per store. */
static void transpose(int rows, int cols, const float *src, long ss, float *dst, long lds) {
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32((int)ss));
    for (int r0 = 0; r0 < rows; r0 += 16) {
        int nr = rows - r0 < 16 ? rows - r0 : 16;
        __mmask16 m = (__mmask16)(nr == 16 ? 0xFFFF : (1u << nr) - 1);
        int c = 0;
        if (nr == 16)
            for (; c + 16 <= cols; c += 16) transpose16(src + r0 * ss + c, ss, dst + c * lds + r0, lds);
        for (; c < cols; c++) {
            __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, src + r0 * ss + c, 4);
            _mm512_mask_storeu_ps(dst + c * lds + r0, m, v);
        }
    }
}

/* out[n ors + j ocs] = scale sum_k A[n lda + k] X[j K + k] for n < N, j < J: the thin weight
 * gradients (J = inputs or outputs, a handful). A dot-product form: as a product tile the 3-wide
 * output would waste 13 of 16 vector lanes. */
static void thin_grad(int N, int J, long K, const float *A, long lda, const float *X, float scale,
                      float *out, long ors, long ocs) {
    long kv = K / 16 * 16;
    __mmask16 tail = (__mmask16)((1u << (K - kv)) - 1);
    for (int n = 0; n < N; n++) {
        const float *a = A + n * lda;
        for (int j0 = 0; j0 < J; j0 += 4) {
            int nj = J - j0 < 4 ? J - j0 : 4;
            __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
            for (long k = 0; k < kv; k += 16) {
                __m512 av = _mm512_loadu_ps(a + k);
                for (int j = 0; j < nj; j++)
                    acc[j] = _mm512_fmadd_ps(av, _mm512_loadu_ps(X + (j0 + j) * K + k), acc[j]);
            }
            if (tail) {
                __m512 av = _mm512_maskz_loadu_ps(tail, a + kv);
                for (int j = 0; j < nj; j++)
                    acc[j] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(tail, X + (j0 + j) * K + kv), acc[j]);
            }
            for (int j = 0; j < nj; j++) out[n * ors + (j0 + j) * ocs] = scale * _mm512_reduce_add_ps(acc[j]);
        }
    }
}

/* Exported for the kernel's own test: dst (cols x rows) = src (rows x cols)^T. */
int rlnet_transpose(int rows, int cols, const float *src, float *dst) {
    transpose(rows, cols, src, cols, dst, rows);
    return 0;
}

/* Exported for the kernel's own test: C (M x Nc) = A B, A (M x K) and B (K x Nc) row-major. */
int rlnet_gemm(int M, int Nc, int K, const float *A, const float *B, float *C, int MR, int NV, int transA) {
    long sam = transA ? 1 : K, sak = transA ? M : 1;
    gemm2(M, Nc, MR, NV, A, sam, sak, B, Nc, 0, A, sam, sak, B, Nc, K, 1.0f, C, Nc, 0, NULL, 0);
    return 0;
}

/* Per-thread scratch, kept between calls: a fresh block of a few MB from malloc is a fresh mmap
 * whose pages fault in again on every call (about 100 page faults per training step, measured).
 * Slot 0 is the forward's, 1 the backward's. */
static __thread float *SCRATCH[2];
static __thread size_t SCRATCH_BYTES[2];

static float *scratch(int slot, size_t bytes) {
    if (SCRATCH_BYTES[slot] < bytes) {
        free(SCRATCH[slot]);
        bytes = (bytes + 63) / 64 * 64;
        SCRATCH[slot] = aligned_alloc(64, bytes);
        SCRATCH_BYTES[slot] = SCRATCH[slot] ? bytes : 0;
    }
    return SCRATCH[slot];
}

/* Forward of members [e0, e1): y (E,T,B,O) and the rates neuron-major, RT (E,N,ldr), row n holding
 * r_t[b, n] at t B + b (the caller returns R (E,T,B,N) as a permuted view: writing both layouts
 * cost a memory pass). x (T,B,I) per member at x_stride (0 = shared).
 * mode 1: euler r_t = relu(leak r_{t-1} + gain drive_t); 2: exponential h_t = leak h_{t-1} +
 * gain drive_t, r_t = relu(h_t). */
int rlnet_forward(int e0, int e1, int T, int B, int N, int I, int O,
                  const float *Wh, const float *Wx, const float *Wo, const float *x, long x_stride,
                  float leak, float gain, int mode, float *y, float *RT, long ldr) {
    /* drive_t^T (N x B) = W_h r_{t-1}^T + W_x x_t^T: W_h is the broadcast operand, read in
     * place, and r_{t-1}^T is the previous step's slice of RT. */
    size_t nb = (size_t)N * B;
    float *buf = scratch(0, sizeof(float) * (2 * nb + (size_t)(I + O) * B + 64));
    if (!buf) return -2;
    float *drive = buf, *hT = buf + nb, *xT = buf + 2 * nb, *yT = xT + (size_t)I * B;
    const int fast = mode == 1 && leak == 0.0f && gain == 1.0f;  /* dt = tau: the figures' case */
    for (int e = e0; e < e1; e++) {
        const float *wh = Wh + (size_t)e * N * N, *wx = Wx + (size_t)e * N * I, *wo = Wo + (size_t)e * O * N;
        const float *xe = x + (size_t)e * x_stride;
        float *RTe = RT + (size_t)e * N * ldr;
        for (int t = 0; t < T; t++) {
            transpose(B, I, xe + (size_t)t * B * I, I, xT, B);
            if (fast) {  /* r_t = relu(drive_t), applied to the product's registers */
                gemm2(N, B, 12, 2, wx, I, 1, xT, B, I, wh, N, 1, RTe + (size_t)(t > 0 ? t - 1 : 0) * B, ldr,
                      t > 0 ? N : 0, 1.0f, RTe + (size_t)t * B, ldr, 1, NULL, 0);
            } else {
                gemm2(N, B, 12, 2, wx, I, 1, xT, B, I, wh, N, 1, RTe + (size_t)(t > 0 ? t - 1 : 0) * B, ldr,
                      t > 0 ? N : 0, 1.0f, drive, B, 0, NULL, 0);
                for (int n = 0; n < N; n++) {
                    const float *dn = drive + (size_t)n * B;
                    float *rn = RTe + n * ldr + (size_t)t * B, *hn = hT + (size_t)n * B;
                    const float *pn = rn - B;
                    for (int b = 0; b < B; b++) {
                        float v = gain * dn[b];
                        if (t > 0) v += leak * (mode == 1 ? pn[b] : hn[b]);
                        if (mode == 2) hn[b] = v;
                        rn[b] = v < 0.0f ? 0.0f : v;  /* keeps NaN, as torch's relu */
                    }
                }
            }
            /* y_t (B x O) while the step's rates are in cache: y_t^T (O x B) = W_o r_t^T. */
            const float *rt = RTe + (size_t)t * B;
            gemm2(O, B, 12, 2, wo, N, 1, rt, ldr, N, wo, N, 1, rt, ldr, 0, 1.0f, yT, B, 0, NULL, 0);
            transpose(O, B, yT, B, y + ((size_t)e * T + t) * B * O, O);
        }
    }
    return 0;
}

/* Backward of members [e0, e1). gy (E,T,B,O) and gR (E,T,B,N) may be NULL (unused outputs);
 * gWh (E,N,N), gWx (E,N,I), gWo (E,O,N) may be NULL (not needed). RT from the forward.
 * delta_t is kept neuron-major, DT (N, T B): the step's product is then the forward's shape,
 * dL/dr_t^T (N x B) = W_o^T gy_t^T + gain W_h^T delta_{t+1}^T, and dW_h is one product over all
 * steps, gain sum_{t>=1} delta_t^T r_{t-1}. */
int rlnet_backward(int e0, int e1, int T, int B, int N, int I, int O,
                   const float *Wh, const float *Wo, const float *x, long x_stride,
                   float leak, float gain, int mode, const float *gy, const float *gR,
                   const float *RT, long ldr, float *gWh, float *gWx, float *gWo) {
    size_t nb = (size_t)N * B, tb = (size_t)T * B, ldd = tb, ldp = (N + 15) / 16 * 16;
    size_t io = (size_t)(I > O ? I : O) * tb;  /* x^T, then gy^T */
    float *buf = scratch(1, sizeof(float) * (ldd * N + (size_t)O * B + io + (size_t)N * N + tb * ldp + 64));
    if (!buf) return -2;
    float *DT = buf, *gyT = buf + ldd * N, *thinT = gyT + (size_t)O * B;
    float *whT = thinT + io;  /* the product reading W_h^T along rows ran 1.14x faster than down W_h's columns */
    float *Rp = whT + (size_t)N * N;  /* R (T B x N) with 64-byte aligned rows: dW_h's streamed operand */
    Rp = (float *)(((size_t)Rp + 63) / 64 * 64);
    for (int e = e0; e < e1; e++) {
        const float *wh = Wh + (size_t)e * N * N, *wo = Wo + (size_t)e * O * N;
        const float *xe = x + (size_t)e * x_stride;
        const float *RTe = RT + (size_t)e * N * ldr;
        const float *gye = gy ? gy + (size_t)e * T * B * O : NULL, *gRe = gR ? gR + (size_t)e * T * nb : NULL;
        transpose(N, N, wh, N, whT, N);
        for (int t = T - 1; t >= 0; t--) {
            if (gye) transpose(B, O, gye + (size_t)t * B * O, O, gyT, B);
            int has_next = t < T - 1;
            /* A1 = W_o^T (A(n, o) = W_o[o, n]), A2 = W_h^T. Without gR and leak, relu'(v_t) is
             * applied to the product's registers. */
            int fused = !gRe && (leak == 0.0f || !has_next);
            gemm2(N, B, 12, 2, wo, 1, N, gyT, B, gye ? O : 0, whT, N, 1, DT + (size_t)(t + has_next) * B, ldd,
                  has_next ? N : 0, gain, DT + (size_t)t * B, ldd, fused ? 2 : 0, RTe + (size_t)t * B, ldr);
            if (fused) continue;
            const float *gRt = gRe ? gRe + (size_t)t * nb : NULL;
            for (int n = 0; n < N; n++) {
                float *d = DT + n * ldd + (size_t)t * B;
                const float *r = RTe + n * ldr + (size_t)t * B, *dn = d + B;
                for (int b = 0; b < B; b++) {
                    float g = d[b];
                    if (gRt) g += gRt[(size_t)b * N + n];
                    if (mode == 1 && has_next) g += leak * dn[b];
                    g = r[b] <= 0.0f ? 0.0f : g;  /* a NaN rate passes, as torch's threshold_backward */
                    if (mode == 2 && has_next) g += leak * dn[b];
                    d[b] = g;
                }
            }
        }
        if (gWh) {
            float *gwh = gWh + (size_t)e * N * N;
            if (T > 1) {  /* A(i, k) = DT[i, B + k], k = (t - 1) B + b for t >= 1; B = R_{0..T-2}.
                           * 6 x 4 tiles (N = 300: no row edge, 10 loads per 24 FMAs) ran the backward
                           * 0.3-4 % faster than 8 x 3 in each of 6 alternated runs. */
                transpose(N, (T - 1) * B, RTe, ldr, Rp, ldp);
                gemm2(N, N, 6, 4, DT, ldd, 1, Rp, ldp, 0, DT + B, ldd, 1, Rp, ldp, (T - 1) * B, gain, gwh, N, 0, NULL, 0);
            }
            else
                memset(gwh, 0, sizeof(float) * N * N);
        }
        /* The thin gradients over all steps and trials (K = T B): dW_x = gain delta x, dW_o = gy^T r. */
        if (gWx) {
            transpose((int)tb, I, xe, I, thinT, tb);
            thin_grad(N, I, (long)tb, DT, ldd, thinT, gain, gWx + (size_t)e * N * I, I, 1);
        }
        if (gWo) {
            float *gwo = gWo + (size_t)e * O * N;
            if (gye) {
                transpose((int)tb, O, gye, O, thinT, tb);
                thin_grad(N, O, (long)tb, RTe, ldr, thinT, 1.0f, gwo, 1, N);
            } else {
                memset(gwo, 0, sizeof(float) * O * N);
            }
        }
    }
    return 0;
}

#else
int rlnet_fused_available(void) { return 0; }
int rlnet_transpose(int rows, int cols, const float *src, float *dst) { return -1; }
int rlnet_gemm(int M, int Nc, int K, const float *A, const float *B, float *C, int MR, int NV, int transA) { return -1; }
int rlnet_forward(int e0, int e1, int T, int B, int N, int I, int O, const float *Wh, const float *Wx,
                  const float *Wo, const float *x, long x_stride, float leak, float gain, int mode,
                  float *y, float *RT, long ldr) { return -1; }
int rlnet_backward(int e0, int e1, int T, int B, int N, int I, int O, const float *Wh, const float *Wo,
                   const float *x, long x_stride, float leak, float gain, int mode, const float *gy,
                   const float *gR, const float *RT, long ldr, float *gWh, float *gWx,
                   float *gWo) { return -1; }
#endif
