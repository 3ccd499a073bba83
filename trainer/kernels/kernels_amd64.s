//go:build amd64 && !purego

#include "textflag.h"
#include "tile_amd64.h"

// AVX2+FMA micro-kernels; see simd_amd64.go for the contracts. As in the
// generic kernels, ReLU and the ReLU mask let NaN through (VMAXPS returns
// its second source when either is NaN; the mask keeps C unless mask ≤ 0,
// compare predicate NLE_UQ). Strides
// arrive in elements and are turned into bytes. Edge tiles use masked loads
// and stores (VMASKMOVPS), which neither read nor write the masked lanes.

// maskTab: 16 lanes of ones then 16 of zeros; the 16 lanes at index 16-w
// hold w ones.
DATA maskTab<>+0(SB)/4, $0xffffffff
DATA maskTab<>+4(SB)/4, $0xffffffff
DATA maskTab<>+8(SB)/4, $0xffffffff
DATA maskTab<>+12(SB)/4, $0xffffffff
DATA maskTab<>+16(SB)/4, $0xffffffff
DATA maskTab<>+20(SB)/4, $0xffffffff
DATA maskTab<>+24(SB)/4, $0xffffffff
DATA maskTab<>+28(SB)/4, $0xffffffff
DATA maskTab<>+32(SB)/4, $0xffffffff
DATA maskTab<>+36(SB)/4, $0xffffffff
DATA maskTab<>+40(SB)/4, $0xffffffff
DATA maskTab<>+44(SB)/4, $0xffffffff
DATA maskTab<>+48(SB)/4, $0xffffffff
DATA maskTab<>+52(SB)/4, $0xffffffff
DATA maskTab<>+56(SB)/4, $0xffffffff
DATA maskTab<>+60(SB)/4, $0xffffffff
DATA maskTab<>+64(SB)/4, $0x00000000
DATA maskTab<>+68(SB)/4, $0x00000000
DATA maskTab<>+72(SB)/4, $0x00000000
DATA maskTab<>+76(SB)/4, $0x00000000
DATA maskTab<>+80(SB)/4, $0x00000000
DATA maskTab<>+84(SB)/4, $0x00000000
DATA maskTab<>+88(SB)/4, $0x00000000
DATA maskTab<>+92(SB)/4, $0x00000000
DATA maskTab<>+96(SB)/4, $0x00000000
DATA maskTab<>+100(SB)/4, $0x00000000
DATA maskTab<>+104(SB)/4, $0x00000000
DATA maskTab<>+108(SB)/4, $0x00000000
DATA maskTab<>+112(SB)/4, $0x00000000
DATA maskTab<>+116(SB)/4, $0x00000000
DATA maskTab<>+120(SB)/4, $0x00000000
DATA maskTab<>+124(SB)/4, $0x00000000
GLOBL maskTab<>(SB), RODATA|NOPTR, $128

// FMA4 adds the rank-1 update of 4 rows: B's row in Y12:Y13, A(r, p) at
// (SI), (SI)(R8*1), (SI)(R8*2) and (BX).
#define FMA4 \
	VBROADCASTSS (SI), Y14; \
	VFMADD231PS  Y12, Y14, Y0; \
	VFMADD231PS  Y13, Y14, Y1; \
	VBROADCASTSS (SI)(R8*1), Y15; \
	VFMADD231PS  Y12, Y15, Y2; \
	VFMADD231PS  Y13, Y15, Y3; \
	VBROADCASTSS (SI)(R8*2), Y14; \
	VFMADD231PS  Y12, Y14, Y4; \
	VFMADD231PS  Y13, Y14, Y5; \
	VBROADCASTSS (BX), Y15; \
	VFMADD231PS  Y12, Y15, Y6; \
	VFMADD231PS  Y13, Y15, Y7

// func bcast4x16(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags, w, ldm int)
TEXT ·bcast4x16(SB), NOSPLIT, $0-96
	TILE_ARGS
	MOVQ bias+64(FP), R12
	MOVQ w+80(FP), AX

	// Column masks for an edge tile.
	LEAQ maskTab<>(SB), BX
	MOVQ $16, R14
	SUBQ AX, R14
	VMOVUPS (BX)(R14*4), Y10
	VMOVUPS 32(BX)(R14*4), Y11

	// A's row 3 in BX, C's row 3 in R15.
	LEAQ (SI)(R8*2), BX
	ADDQ R8, BX
	LEAQ (DI)(R11*2), R15
	ADDQ R11, R15

	TESTQ $1, R13
	JNZ   b4loadc
	ZERO_Y0_Y7
	JMP    b4body

b4loadc:
	CMPQ AX, $16
	JNE  b4loadcmask
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS (DI)(R11*1), Y2
	VMOVUPS 32(DI)(R11*1), Y3
	VMOVUPS (DI)(R11*2), Y4
	VMOVUPS 32(DI)(R11*2), Y5
	VMOVUPS (R15), Y6
	VMOVUPS 32(R15), Y7
	JMP     b4body

b4loadcmask:
	VMASKMOVPS (DI), Y10, Y0
	VMASKMOVPS 32(DI), Y11, Y1
	VMASKMOVPS (DI)(R11*1), Y10, Y2
	VMASKMOVPS 32(DI)(R11*1), Y11, Y3
	VMASKMOVPS (DI)(R11*2), Y10, Y4
	VMASKMOVPS 32(DI)(R11*2), Y11, Y5
	VMASKMOVPS (R15), Y10, Y6
	VMASKMOVPS 32(R15), Y11, Y7

b4body:
	TESTQ CX, CX
	JZ    b4epilogue
	CMPQ  AX, $16
	JNE   b4loopmask

b4loop:
	VMOVUPS (DX), Y12
	VMOVUPS 32(DX), Y13
	FMA4
	ADDQ R9, SI
	ADDQ R9, BX
	ADDQ R10, DX
	DECQ CX
	JNZ  b4loop
	JMP  b4epilogue

b4loopmask:
	VMASKMOVPS (DX), Y10, Y12
	VMASKMOVPS 32(DX), Y11, Y13
	FMA4
	ADDQ R9, SI
	ADDQ R9, BX
	ADDQ R10, DX
	DECQ CX
	JNZ  b4loopmask

b4epilogue:
	TESTQ $2, R13
	JZ    b4relu
	VMASKMOVPS (R12), Y10, Y12
	VMASKMOVPS 32(R12), Y11, Y13
	VADDPS     Y12, Y0, Y0
	VADDPS     Y13, Y1, Y1
	VADDPS     Y12, Y2, Y2
	VADDPS     Y13, Y3, Y3
	VADDPS     Y12, Y4, Y4
	VADDPS     Y13, Y5, Y5
	VADDPS     Y12, Y6, Y6
	VADDPS     Y13, Y7, Y7

b4relu:
	TESTQ $4, R13
	JZ    b4mask
	VXORPS Y12, Y12, Y12
	VMAXPS Y0, Y12, Y0
	VMAXPS Y1, Y12, Y1
	VMAXPS Y2, Y12, Y2
	VMAXPS Y3, Y12, Y3
	VMAXPS Y4, Y12, Y4
	VMAXPS Y5, Y12, Y5
	VMAXPS Y6, Y12, Y6
	VMAXPS Y7, Y12, Y7

b4mask:
	// ReLU mask: C stays where mask > 0 or NaN (NLE_UQ), else 0; the mask
	// pointer comes in bias, its stride in ldm.
	TESTQ $8, R13
	JZ    b4store
	MOVQ  ldm+88(FP), R9
	SHLQ  $2, R9
	LEAQ  (R12)(R9*2), R14
	ADDQ  R9, R14
	VXORPS Y12, Y12, Y12
	VMASKMOVPS (R12), Y10, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y0, Y0
	VMASKMOVPS 32(R12), Y11, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y1, Y1
	VMASKMOVPS (R12)(R9*1), Y10, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y2, Y2
	VMASKMOVPS 32(R12)(R9*1), Y11, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y3, Y3
	VMASKMOVPS (R12)(R9*2), Y10, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y4, Y4
	VMASKMOVPS 32(R12)(R9*2), Y11, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y5, Y5
	VMASKMOVPS (R14), Y10, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y6, Y6
	VMASKMOVPS 32(R14), Y11, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y7, Y7

b4store:
	CMPQ AX, $16
	JNE  b4storemask
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, (DI)(R11*1)
	VMOVUPS Y3, 32(DI)(R11*1)
	VMOVUPS Y4, (DI)(R11*2)
	VMOVUPS Y5, 32(DI)(R11*2)
	VMOVUPS Y6, (R15)
	VMOVUPS Y7, 32(R15)
	VZEROUPPER
	RET

b4storemask:
	VMASKMOVPS Y0, Y10, (DI)
	VMASKMOVPS Y1, Y11, 32(DI)
	VMASKMOVPS Y2, Y10, (DI)(R11*1)
	VMASKMOVPS Y3, Y11, 32(DI)(R11*1)
	VMASKMOVPS Y4, Y10, (DI)(R11*2)
	VMASKMOVPS Y5, Y11, 32(DI)(R11*2)
	VMASKMOVPS Y6, Y10, (R15)
	VMASKMOVPS Y7, Y11, 32(R15)
	VZEROUPPER
	RET

// func bcast1x16(k int, a *float32, ps int, b *float32, ldb int, c *float32, bias *float32, flags, w int)
// Two pairs of accumulators (even and odd p) hide the FMA latency.
TEXT ·bcast1x16(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ ps+16(FP), R9
	MOVQ b+24(FP), DX
	MOVQ ldb+32(FP), R10
	MOVQ c+40(FP), DI
	MOVQ bias+48(FP), R12
	MOVQ flags+56(FP), R13
	MOVQ w+64(FP), AX
	SHLQ $2, R9
	SHLQ $2, R10

	LEAQ maskTab<>(SB), BX
	MOVQ $16, R14
	SUBQ AX, R14
	VMOVUPS (BX)(R14*4), Y10
	VMOVUPS 32(BX)(R14*4), Y11

	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  $1, R13
	JNZ    b1loadc
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	JMP    b1body

b1loadc:
	VMASKMOVPS (DI), Y10, Y0
	VMASKMOVPS 32(DI), Y11, Y1

b1body:
	CMPQ CX, $2
	JL   b1tail

b1loop2:
	VBROADCASTSS (SI), Y14
	VMASKMOVPS   (DX), Y10, Y12
	VMASKMOVPS   32(DX), Y11, Y13
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	ADDQ         R9, SI
	ADDQ         R10, DX
	VBROADCASTSS (SI), Y15
	VMASKMOVPS   (DX), Y10, Y12
	VMASKMOVPS   32(DX), Y11, Y13
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	ADDQ         R9, SI
	ADDQ         R10, DX
	SUBQ         $2, CX
	CMPQ         CX, $2
	JGE          b1loop2

b1tail:
	TESTQ CX, CX
	JZ    b1epilogue
	VBROADCASTSS (SI), Y14
	VMASKMOVPS   (DX), Y10, Y12
	VMASKMOVPS   32(DX), Y11, Y13
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1

b1epilogue:
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	TESTQ  $2, R13
	JZ     b1relu
	VMASKMOVPS (R12), Y10, Y12
	VMASKMOVPS 32(R12), Y11, Y13
	VADDPS     Y12, Y0, Y0
	VADDPS     Y13, Y1, Y1

b1relu:
	TESTQ $4, R13
	JZ    b1mask
	VXORPS Y12, Y12, Y12
	VMAXPS Y0, Y12, Y0
	VMAXPS Y1, Y12, Y1

b1mask:
	TESTQ $8, R13
	JZ    b1store
	VXORPS     Y12, Y12, Y12
	VMASKMOVPS (R12), Y10, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y0, Y0
	VMASKMOVPS 32(R12), Y11, Y13
	VCMPPS     $0x06, Y12, Y13, Y13
	VANDPS     Y13, Y1, Y1

b1store:
	VMASKMOVPS Y0, Y10, (DI)
	VMASKMOVPS Y1, Y11, 32(DI)
	VZEROUPPER
	RET

// HSUM4 reduces four accumulators of 8 lanes to their four sums in the low
// 128 bits of a (clobbers b, c, d and x).
#define HSUM4(a, b, c, d, x, xa, xx) \
	VHADDPS b, a, a; \
	VHADDPS d, c, c; \
	VHADDPS c, a, a; \
	VEXTRACTF128 $1, a, xx; \
	VADDPS xx, xa, xa

// func dot2x4(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, mask *float32, ldm int, rows int)
// Rows of A: SI and R9; rows of B: DX, R11, R12, BX; byte offset AX.
TEXT ·dot2x4(SB), NOSPLIT, $0-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	MOVQ b+24(FP), DX
	MOVQ ldb+32(FP), R10
	MOVQ c+40(FP), DI
	MOVQ ldc+48(FP), R8
	MOVQ mask+56(FP), R13
	MOVQ ldm+64(FP), R14
	MOVQ rows+72(FP), R15
	SHLQ $2, R9
	SHLQ $2, R10
	SHLQ $2, R8
	SHLQ $2, R14
	ADDQ SI, R9
	LEAQ (DX)(R10*1), R11
	LEAQ (DX)(R10*2), R12
	LEAQ (R12)(R10*1), BX
	XORQ AX, AX

	ZERO_Y0_Y7

	// Tail mask: the 8 lanes at index 16-(k mod 8).
	MOVQ    CX, R10
	ANDQ    $7, R10
	LEAQ    maskTab<>(SB), DX
	NEGQ    R10
	VMOVUPS 64(DX)(R10*4), Y15
	MOVQ    b+24(FP), DX
	SHRQ    $3, CX
	NEGQ    R10 // k mod 8: without a tail, skip the masked step

	CMPQ R15, $2
	JNE  d1start

	TESTQ CX, CX
	JZ    d2tail

d2loop:
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     (R9)(AX*1), Y9
	VMOVUPS     (DX)(AX*1), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMOVUPS     (R11)(AX*1), Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y5
	VMOVUPS     (R12)(AX*1), Y10
	VFMADD231PS Y10, Y8, Y2
	VFMADD231PS Y10, Y9, Y6
	VMOVUPS     (BX)(AX*1), Y11
	VFMADD231PS Y11, Y8, Y3
	VFMADD231PS Y11, Y9, Y7
	ADDQ        $32, AX
	DECQ        CX
	JNZ         d2loop
	TESTQ       R10, R10
	JZ          d2sum

d2tail:
	VMASKMOVPS  (SI)(AX*1), Y15, Y8
	VMASKMOVPS  (R9)(AX*1), Y15, Y9
	VMASKMOVPS  (DX)(AX*1), Y15, Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMASKMOVPS  (R11)(AX*1), Y15, Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y5
	VMASKMOVPS  (R12)(AX*1), Y15, Y10
	VFMADD231PS Y10, Y8, Y2
	VFMADD231PS Y10, Y9, Y6
	VMASKMOVPS  (BX)(AX*1), Y15, Y11
	VFMADD231PS Y11, Y8, Y3
	VFMADD231PS Y11, Y9, Y7

d2sum:
	HSUM4(Y0, Y1, Y2, Y3, Y8, X0, X8)
	HSUM4(Y4, Y5, Y6, Y7, Y8, X4, X9)
	TESTQ R13, R13
	JZ    d2store
	VXORPS  X12, X12, X12
	VMOVUPS (R13), X10
	VCMPPS  $0x06, X12, X10, X10
	VANDPS  X10, X0, X0
	VMOVUPS (R13)(R14*1), X11
	VCMPPS  $0x06, X12, X11, X11
	VANDPS  X11, X4, X4

d2store:
	VMOVUPS X0, (DI)
	VMOVUPS X4, (DI)(R8*1)
	VZEROUPPER
	RET

d1start:
	TESTQ CX, CX
	JZ    d1tail

d1loop:
	VMOVUPS     (SI)(AX*1), Y8
	VFMADD231PS (DX)(AX*1), Y8, Y0
	VFMADD231PS (R11)(AX*1), Y8, Y1
	VFMADD231PS (R12)(AX*1), Y8, Y2
	VFMADD231PS (BX)(AX*1), Y8, Y3
	ADDQ        $32, AX
	DECQ        CX
	JNZ         d1loop
	TESTQ       R10, R10
	JZ          d1sum

d1tail:
	VMASKMOVPS  (SI)(AX*1), Y15, Y8
	VMASKMOVPS  (DX)(AX*1), Y15, Y10
	VFMADD231PS Y10, Y8, Y0
	VMASKMOVPS  (R11)(AX*1), Y15, Y11
	VFMADD231PS Y11, Y8, Y1
	VMASKMOVPS  (R12)(AX*1), Y15, Y10
	VFMADD231PS Y10, Y8, Y2
	VMASKMOVPS  (BX)(AX*1), Y15, Y11
	VFMADD231PS Y11, Y8, Y3

d1sum:
	HSUM4(Y0, Y1, Y2, Y3, Y8, X0, X8)
	TESTQ R13, R13
	JZ    d1store
	VXORPS  X12, X12, X12
	VMOVUPS (R13), X10
	VCMPPS  $0x06, X12, X10, X10
	VANDPS  X10, X0, X0

d1store:
	VMOVUPS X0, (DI)
	VZEROUPPER
	RET

// func axpyAsm(alpha float32, x, y *float32, n int)
TEXT ·axpyAsm(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y15
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX
	XORQ         AX, AX
	CMPQ         CX, $32
	JL           ax8

ax32:
	VMOVUPS     (DI)(AX*4), Y0
	VMOVUPS     32(DI)(AX*4), Y1
	VMOVUPS     64(DI)(AX*4), Y2
	VMOVUPS     96(DI)(AX*4), Y3
	VFMADD231PS (SI)(AX*4), Y15, Y0
	VFMADD231PS 32(SI)(AX*4), Y15, Y1
	VFMADD231PS 64(SI)(AX*4), Y15, Y2
	VFMADD231PS 96(SI)(AX*4), Y15, Y3
	VMOVUPS     Y0, (DI)(AX*4)
	VMOVUPS     Y1, 32(DI)(AX*4)
	VMOVUPS     Y2, 64(DI)(AX*4)
	VMOVUPS     Y3, 96(DI)(AX*4)
	ADDQ        $32, AX
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         ax32

ax8:
	CMPQ CX, $8
	JL   axtail
	VMOVUPS     (DI)(AX*4), Y0
	VFMADD231PS (SI)(AX*4), Y15, Y0
	VMOVUPS     Y0, (DI)(AX*4)
	ADDQ        $8, AX
	SUBQ        $8, CX
	JMP         ax8

axtail:
	TESTQ CX, CX
	JZ    axdone
	LEAQ  maskTab<>(SB), DX
	NEGQ  CX
	VMOVUPS     64(DX)(CX*4), Y14
	VMASKMOVPS  (SI)(AX*4), Y14, Y1
	VMASKMOVPS  (DI)(AX*4), Y14, Y0
	VFMADD231PS Y1, Y15, Y0
	VMASKMOVPS  Y0, Y14, (DI)(AX*4)

axdone:
	VZEROUPPER
	RET

// func dotAsm(x, y *float32, n int) float32
TEXT ·dotAsm(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	XORQ   AX, AX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JL     dt8

dt32:
	VMOVUPS     (SI)(AX*4), Y4
	VMOVUPS     32(SI)(AX*4), Y5
	VMOVUPS     64(SI)(AX*4), Y6
	VMOVUPS     96(SI)(AX*4), Y7
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS 32(DI)(AX*4), Y5, Y1
	VFMADD231PS 64(DI)(AX*4), Y6, Y2
	VFMADD231PS 96(DI)(AX*4), Y7, Y3
	ADDQ        $32, AX
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         dt32

dt8:
	CMPQ CX, $8
	JL   dttail
	VMOVUPS     (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ        $8, AX
	SUBQ        $8, CX
	JMP         dt8

dttail:
	TESTQ CX, CX
	JZ    dtsum
	LEAQ  maskTab<>(SB), DX
	NEGQ  CX
	VMOVUPS     64(DX)(CX*4), Y14
	VMASKMOVPS  (SI)(AX*4), Y14, Y4
	VMASKMOVPS  (DI)(AX*4), Y14, Y5
	VFMADD231PS Y5, Y4, Y1

dtsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, ret+24(FP)
	VZEROUPPER
	RET
