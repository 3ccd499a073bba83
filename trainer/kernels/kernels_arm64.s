//go:build arm64 && !purego

#include "textflag.h"

// NEON micro-kernels; see simd_arm64.go for the contracts. Strides arrive
// in elements and are turned into bytes. Go's assembler has no vector
// FADD, FADDP or FMAX: those are WORD-encoded (the comment names the
// instruction). FMAX returns NaN when either operand is NaN, as the generic
// ReLU does.

// func bcast4x16(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int)
// Accumulators V16-V31 (row r in V(16+4r)..V(19+4r)), B's row in V0-V3,
// A's broadcasts in V4-V7.
TEXT ·bcast4x16(SB), NOSPLIT, $0-80
	MOVD k+0(FP), R0
	MOVD a+8(FP), R1
	MOVD rs+16(FP), R2
	MOVD ps+24(FP), R3
	MOVD b+32(FP), R4
	MOVD ldb+40(FP), R5
	MOVD c+48(FP), R6
	MOVD ldc+56(FP), R7
	MOVD bias+64(FP), R8
	MOVD flags+72(FP), R9
	LSL  $2, R2, R2
	LSL  $2, R3, R3
	LSL  $2, R5, R5
	LSL  $2, R7, R7
	ADD  R2, R1, R10
	ADD  R2, R10, R11
	ADD  R2, R11, R12
	ADD  R7, R6, R13
	ADD  R7, R13, R14
	ADD  R7, R14, R15

	TBZ  $0, R9, b16noacc
	VLD1 (R6), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1 (R13), [V20.S4, V21.S4, V22.S4, V23.S4]
	VLD1 (R14), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1 (R15), [V28.S4, V29.S4, V30.S4, V31.S4]
	B    b16body

b16noacc:
	TBZ  $1, R9, b16zero
	VLD1 (R8), [V16.S4, V17.S4, V18.S4, V19.S4]
	B    b16copy

b16zero:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

b16copy:
	VORR V16.B16, V16.B16, V20.B16
	VORR V17.B16, V17.B16, V21.B16
	VORR V18.B16, V18.B16, V22.B16
	VORR V19.B16, V19.B16, V23.B16
	VORR V16.B16, V16.B16, V24.B16
	VORR V17.B16, V17.B16, V25.B16
	VORR V18.B16, V18.B16, V26.B16
	VORR V19.B16, V19.B16, V27.B16
	VORR V16.B16, V16.B16, V28.B16
	VORR V17.B16, V17.B16, V29.B16
	VORR V18.B16, V18.B16, V30.B16
	VORR V19.B16, V19.B16, V31.B16

b16body:
	CBZ R0, b16epilogue

b16loop:
	VLD1  (R4), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1R (R1), [V4.S4]
	VLD1R (R10), [V5.S4]
	VLD1R (R11), [V6.S4]
	VLD1R (R12), [V7.S4]
	VFMLA V0.S4, V4.S4, V16.S4
	VFMLA V1.S4, V4.S4, V17.S4
	VFMLA V2.S4, V4.S4, V18.S4
	VFMLA V3.S4, V4.S4, V19.S4
	VFMLA V0.S4, V5.S4, V20.S4
	VFMLA V1.S4, V5.S4, V21.S4
	VFMLA V2.S4, V5.S4, V22.S4
	VFMLA V3.S4, V5.S4, V23.S4
	VFMLA V0.S4, V6.S4, V24.S4
	VFMLA V1.S4, V6.S4, V25.S4
	VFMLA V2.S4, V6.S4, V26.S4
	VFMLA V3.S4, V6.S4, V27.S4
	VFMLA V0.S4, V7.S4, V28.S4
	VFMLA V1.S4, V7.S4, V29.S4
	VFMLA V2.S4, V7.S4, V30.S4
	VFMLA V3.S4, V7.S4, V31.S4
	ADD   R3, R1, R1
	ADD   R3, R10, R10
	ADD   R3, R11, R11
	ADD   R3, R12, R12
	ADD   R5, R4, R4
	SUBS  $1, R0, R0
	BNE   b16loop

b16epilogue:
	TBZ  $2, R9, b16store
	VEOR V0.B16, V0.B16, V0.B16
	WORD $0x4e20f610 // FMAX V16.4S, V16.4S, V0.4S
	WORD $0x4e20f631 // FMAX V17.4S, V17.4S, V0.4S
	WORD $0x4e20f652 // FMAX V18.4S, V18.4S, V0.4S
	WORD $0x4e20f673 // FMAX V19.4S, V19.4S, V0.4S
	WORD $0x4e20f694 // FMAX V20.4S, V20.4S, V0.4S
	WORD $0x4e20f6b5 // FMAX V21.4S, V21.4S, V0.4S
	WORD $0x4e20f6d6 // FMAX V22.4S, V22.4S, V0.4S
	WORD $0x4e20f6f7 // FMAX V23.4S, V23.4S, V0.4S
	WORD $0x4e20f718 // FMAX V24.4S, V24.4S, V0.4S
	WORD $0x4e20f739 // FMAX V25.4S, V25.4S, V0.4S
	WORD $0x4e20f75a // FMAX V26.4S, V26.4S, V0.4S
	WORD $0x4e20f77b // FMAX V27.4S, V27.4S, V0.4S
	WORD $0x4e20f79c // FMAX V28.4S, V28.4S, V0.4S
	WORD $0x4e20f7bd // FMAX V29.4S, V29.4S, V0.4S
	WORD $0x4e20f7de // FMAX V30.4S, V30.4S, V0.4S
	WORD $0x4e20f7ff // FMAX V31.4S, V31.4S, V0.4S

b16store:
	VST1 [V16.S4, V17.S4, V18.S4, V19.S4], (R6)
	VST1 [V20.S4, V21.S4, V22.S4, V23.S4], (R13)
	VST1 [V24.S4, V25.S4, V26.S4, V27.S4], (R14)
	VST1 [V28.S4, V29.S4, V30.S4, V31.S4], (R15)
	RET

// func bcast4x4(k int, a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, bias *float32, flags int)
// bcast4x16 for 4 columns: accumulators V16, V20, V24, V28.
TEXT ·bcast4x4(SB), NOSPLIT, $0-80
	MOVD k+0(FP), R0
	MOVD a+8(FP), R1
	MOVD rs+16(FP), R2
	MOVD ps+24(FP), R3
	MOVD b+32(FP), R4
	MOVD ldb+40(FP), R5
	MOVD c+48(FP), R6
	MOVD ldc+56(FP), R7
	MOVD bias+64(FP), R8
	MOVD flags+72(FP), R9
	LSL  $2, R2, R2
	LSL  $2, R3, R3
	LSL  $2, R5, R5
	LSL  $2, R7, R7
	ADD  R2, R1, R10
	ADD  R2, R10, R11
	ADD  R2, R11, R12
	ADD  R7, R6, R13
	ADD  R7, R13, R14
	ADD  R7, R14, R15

	TBZ  $0, R9, b4noacc
	VLD1 (R6), [V16.S4]
	VLD1 (R13), [V20.S4]
	VLD1 (R14), [V24.S4]
	VLD1 (R15), [V28.S4]
	B    b4body

b4noacc:
	TBZ  $1, R9, b4zero
	VLD1 (R8), [V16.S4]
	B    b4copy

b4zero:
	VEOR V16.B16, V16.B16, V16.B16

b4copy:
	VORR V16.B16, V16.B16, V20.B16
	VORR V16.B16, V16.B16, V24.B16
	VORR V16.B16, V16.B16, V28.B16

b4body:
	CBZ R0, b4epilogue

b4loop:
	VLD1  (R4), [V0.S4]
	VLD1R (R1), [V4.S4]
	VLD1R (R10), [V5.S4]
	VLD1R (R11), [V6.S4]
	VLD1R (R12), [V7.S4]
	VFMLA V0.S4, V4.S4, V16.S4
	VFMLA V0.S4, V5.S4, V20.S4
	VFMLA V0.S4, V6.S4, V24.S4
	VFMLA V0.S4, V7.S4, V28.S4
	ADD   R3, R1, R1
	ADD   R3, R10, R10
	ADD   R3, R11, R11
	ADD   R3, R12, R12
	ADD   R5, R4, R4
	SUBS  $1, R0, R0
	BNE   b4loop

b4epilogue:
	TBZ  $2, R9, b4store
	VEOR V0.B16, V0.B16, V0.B16
	WORD $0x4e20f610 // FMAX V16.4S, V16.4S, V0.4S
	WORD $0x4e20f694 // FMAX V20.4S, V20.4S, V0.4S
	WORD $0x4e20f718 // FMAX V24.4S, V24.4S, V0.4S
	WORD $0x4e20f79c // FMAX V28.4S, V28.4S, V0.4S

b4store:
	VST1 [V16.S4], (R6)
	VST1 [V20.S4], (R13)
	VST1 [V24.S4], (R14)
	VST1 [V28.S4], (R15)
	RET

// func axpy16(alpha float32, x, y *float32, n int)
// y += alpha*x over n elements, n a multiple of 16.
TEXT ·axpy16(SB), NOSPLIT, $0-32
	MOVD  $alpha+0(FP), R0
	VLD1R (R0), [V31.S4]
	MOVD  x+8(FP), R1
	MOVD  y+16(FP), R2
	MOVD  n+24(FP), R3
	LSR   $4, R3, R3
	CBZ   R3, axdone

axloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1   (R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V0.S4, V31.S4, V4.S4
	VFMLA  V1.S4, V31.S4, V5.S4
	VFMLA  V2.S4, V31.S4, V6.S4
	VFMLA  V3.S4, V31.S4, V7.S4
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R2)
	SUBS   $1, R3, R3
	BNE    axloop

axdone:
	RET

// func dot16(x, y *float32, n int) float32
// The inner product over n elements, n a multiple of 16.
TEXT ·dot16(SB), NOSPLIT, $0-28
	MOVD x+0(FP), R1
	MOVD y+8(FP), R2
	MOVD n+16(FP), R3
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	LSR  $4, R3, R3
	CBZ  R3, dtsum

dtloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V0.S4, V4.S4, V16.S4
	VFMLA  V1.S4, V5.S4, V17.S4
	VFMLA  V2.S4, V6.S4, V18.S4
	VFMLA  V3.S4, V7.S4, V19.S4
	SUBS   $1, R3, R3
	BNE    dtloop

dtsum:
	WORD $0x4e31d610 // FADD V16.4S, V16.4S, V17.4S
	WORD $0x4e33d652 // FADD V18.4S, V18.4S, V19.4S
	WORD $0x4e32d610 // FADD V16.4S, V16.4S, V18.4S
	WORD $0x6e30d610 // FADDP V16.4S, V16.4S, V16.4S
	WORD $0x7e30da00 // FADDP S0, V16.2S
	FMOVS F0, ret+24(FP)
	RET
