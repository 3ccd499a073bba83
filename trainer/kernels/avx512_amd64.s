//go:build amd64 && !purego

#include "textflag.h"
#include "tile_amd64.h"

// AVX-512F micro-kernel; see avx512_amd64.go for the contract. Tiles of 8
// rows by up to 32 columns: two ZMM accumulators per row (16 in all) when
// the tile is wider than 16 columns, one (8) otherwise. Columns past w are
// masked off with K1 (columns 0..15) and K2 (16..31): masked loads neither
// read nor fault on those lanes, masked stores leave them alone. As in the
// other kernels, ReLU and the ReLU mask let NaN through (VMAXPS returns its
// second source when either is NaN; the mask keeps C unless mask ≤ 0,
// compare predicate NLE_UQ).

// ROW32 adds A(r, p)·B[p][0:32] to row r's accumulators.
#define ROW32(addr, bc, z0, z1) \
	VBROADCASTSS addr, bc; \
	VFMADD231PS  Z24, bc, z0; \
	VFMADD231PS  Z25, bc, z1

// LOADC loads a row of C into its accumulators (lanes past w: 0) and moves
// DI to the next row.
#define LOADC(z0, z1) \
	VMOVUPS.Z (DI), K1, z0; \
	VMOVUPS.Z 64(DI), K2, z1; \
	ADDQ      R11, DI

// STOREC stores a row's accumulators into C and moves DI to the next row.
#define STOREC(z0, z1) \
	VMOVUPS z0, K1, (DI); \
	VMOVUPS z1, K2, 64(DI); \
	ADDQ    R11, DI

// BIAS adds the bias row in Z28:Z29 to a row's accumulators.
#define BIAS(z0, z1) \
	VADDPS Z28, z0, z0; \
	VADDPS Z29, z1, z1

// RELU sets a row's negative accumulators to 0 (Z30 holds zeros).
#define RELU(z0, z1) \
	VMAXPS z0, Z30, z0; \
	VMAXPS z1, Z30, z1

// MASK zeroes a row's accumulators where the mask row at R12 is ≤ 0 (Z30
// holds zeros), then moves R12 to the next mask row (R13 bytes on).
#define MASK(z0, z1) \
	VMOVUPS.Z (R12), K1, Z28; \
	VCMPPS    $0x06, Z30, Z28, K3; \
	VMOVAPS.Z z0, K3, z0; \
	VMOVUPS.Z 64(R12), K2, Z29; \
	VCMPPS    $0x06, Z30, Z29, K4; \
	VMOVAPS.Z z1, K4, z1; \
	ADDQ      R13, R12

// func zbcast8x32(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags, cols, ldm int)
TEXT ·zbcast8x32(SB), NOSPLIT, $0-96
	TILE_ARGS
	MOVQ cols+80(FP), AX

	// Column masks: K1 = lanes 0..min(w,16)-1 (low 16 bits of AX), K2 =
	// lanes 16..w-1 (the next 16); K2 empty selects the 16-wide loop.
	KMOVW AX, K1
	SHRQ  $16, AX
	KMOVW AX, K2

zinit:
	TESTQ $1, R13
	JNZ   zloadc
	ZERO_Z0_Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	JMP    zbody

zloadc:
	LOADC(Z0, Z1)
	LOADC(Z2, Z3)
	LOADC(Z4, Z5)
	LOADC(Z6, Z7)
	LOADC(Z8, Z9)
	LOADC(Z10, Z11)
	LOADC(Z12, Z13)
	LOADC(Z14, Z15)

zbody:
	// A's rows 0..2 from SI, 3..5 from BX, 6..7 from R14.
	LEAQ  (SI)(R8*2), BX
	ADDQ  R8, BX
	LEAQ  (BX)(R8*2), R14
	ADDQ  R8, R14
	TESTQ CX, CX
	JZ    zepilogue
	TESTQ AX, AX
	JZ    zloop16

zloop32:
	VMOVUPS   (DX), Z24
	VMOVUPS.Z 64(DX), K2, Z25
	ROW32((SI), Z26, Z0, Z1)
	ROW32((SI)(R8*1), Z27, Z2, Z3)
	ROW32((SI)(R8*2), Z26, Z4, Z5)
	ROW32((BX), Z27, Z6, Z7)
	ROW32((BX)(R8*1), Z26, Z8, Z9)
	ROW32((BX)(R8*2), Z27, Z10, Z11)
	ROW32((R14), Z26, Z12, Z13)
	ROW32((R14)(R8*1), Z27, Z14, Z15)
	ADDQ R9, SI
	ADDQ R9, BX
	ADDQ R9, R14
	ADDQ R10, DX
	DECQ CX
	JNZ  zloop32
	JMP  zepilogue

zloop16:
	VMOVUPS.Z        (DX), K1, Z24
	VFMADD231PS.BCST (SI), Z24, Z0
	VFMADD231PS.BCST (SI)(R8*1), Z24, Z2
	VFMADD231PS.BCST (SI)(R8*2), Z24, Z4
	VFMADD231PS.BCST (BX), Z24, Z6
	VFMADD231PS.BCST (BX)(R8*1), Z24, Z8
	VFMADD231PS.BCST (BX)(R8*2), Z24, Z10
	VFMADD231PS.BCST (R14), Z24, Z12
	VFMADD231PS.BCST (R14)(R8*1), Z24, Z14
	ADDQ R9, SI
	ADDQ R9, BX
	ADDQ R9, R14
	ADDQ R10, DX
	DECQ CX
	JNZ  zloop16

zepilogue:
	MOVQ   bias+64(FP), R12
	VPXORD Z30, Z30, Z30
	TESTQ  $2, R13
	JZ     zrelu
	VMOVUPS.Z (R12), K1, Z28
	VMOVUPS.Z 64(R12), K2, Z29
	BIAS(Z0, Z1)
	BIAS(Z2, Z3)
	BIAS(Z4, Z5)
	BIAS(Z6, Z7)
	BIAS(Z8, Z9)
	BIAS(Z10, Z11)
	BIAS(Z12, Z13)
	BIAS(Z14, Z15)

zrelu:
	TESTQ $4, R13
	JZ    zmask
	RELU(Z0, Z1)
	RELU(Z2, Z3)
	RELU(Z4, Z5)
	RELU(Z6, Z7)
	RELU(Z8, Z9)
	RELU(Z10, Z11)
	RELU(Z12, Z13)
	RELU(Z14, Z15)

zmask:
	// ReLU mask: the mask pointer comes in bias, its stride in ldm.
	TESTQ $8, R13
	JZ    zstore
	MOVQ  ldm+88(FP), R13
	SHLQ  $2, R13
	MASK(Z0, Z1)
	MASK(Z2, Z3)
	MASK(Z4, Z5)
	MASK(Z6, Z7)
	MASK(Z8, Z9)
	MASK(Z10, Z11)
	MASK(Z12, Z13)
	MASK(Z14, Z15)

zstore:
	MOVQ c+48(FP), DI
	STOREC(Z0, Z1)
	STOREC(Z2, Z3)
	STOREC(Z4, Z5)
	STOREC(Z6, Z7)
	STOREC(Z8, Z9)
	STOREC(Z10, Z11)
	STOREC(Z12, Z13)
	STOREC(Z14, Z15)
	VZEROUPPER
	RET
