// Macros shared by the amd64 kernels (kernels_amd64.s, avx512_amd64.s,
// peak_amd64.s).

// TILE_ARGS loads the arguments the broadcast tiles bcast4x16 and
// zbcast8x32 share (the same Go signature up to flags) and turns the
// strides from elements into bytes: k in CX, a in SI, rs in R8, ps in R9,
// b in DX, ldb in R10, c in DI, ldc in R11, flags in R13.
#define TILE_ARGS \
	MOVQ k+0(FP), CX; \
	MOVQ a+8(FP), SI; \
	MOVQ rs+16(FP), R8; \
	MOVQ ps+24(FP), R9; \
	MOVQ b+32(FP), DX; \
	MOVQ ldb+40(FP), R10; \
	MOVQ c+48(FP), DI; \
	MOVQ ldc+56(FP), R11; \
	MOVQ flags+72(FP), R13; \
	SHLQ $2, R8; \
	SHLQ $2, R9; \
	SHLQ $2, R10; \
	SHLQ $2, R11

// ZERO_Y0_Y7 zeroes Y0 to Y7.
#define ZERO_Y0_Y7 \
	VXORPS Y0, Y0, Y0 \
	VXORPS Y1, Y1, Y1 \
	VXORPS Y2, Y2, Y2 \
	VXORPS Y3, Y3, Y3 \
	VXORPS Y4, Y4, Y4 \
	VXORPS Y5, Y5, Y5 \
	VXORPS Y6, Y6, Y6 \
	VXORPS Y7, Y7, Y7

// ZERO_Z0_Z11 zeroes Z0 to Z11.
#define ZERO_Z0_Z11 \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11
