// The numbers that the WebAssembly kernels (assembly/*.ts) and their TypeScript hosts
// (src/kernels/wasm_layout.ts, src/tasks/mlp_wasm.ts) must agree on, written once: both
// compilers read this file (AssemblyScript through `import ... from "./layout"`, tsc and tsx
// through `import ... from "../../assembly/layout.ts"`), and scripts/build-wasm.mjs reads
// HEAP from it. It must stay valid in both languages: plain `export const NAME = <integer>;`
// lines, no types, no imports (AssemblyScript infers i32 for these, as for the kernels' own
// untyped constants). test/wasm_layout.test.ts checks that no kernel keeps a copy and that
// build/ was compiled from this version.

// ---- LSTM engine (assembly/lstm.ts, src/kernels/wasm.ts): fixed addresses ----

/**
 * First byte of the host's layout (weights, state, tape, ...). The bytes below it belong to
 * the host's fixed blocks and the kernels' constant table; the build passes it to the LSTM
 * kernels as `--memoryBase` so that no static data of theirs lands below it.
 */
export const HEAP = 65536;
/** Byte address of the kernels' constant table (pre-splatted vectors, written by `init`). */
export const CONST_TABLE = 2048;
/** Vectors (16 bytes each) in the constant table. */
export const CONST_TABLE_VECTORS = 32;

// ---- LSTM engine: context fields (i32 index from the context block) ----
// F_H and F_P are written by the host for its own bookkeeping; the kernels do not read them.

export const F_I = 0;
export const F_H = 1;
export const F_HP = 2;
export const F_L = 3;
export const F_N = 4;
export const F_P = 5;
export const F_B = 6;
export const F_X = 7;
export const F_OUT = 8;
export const F_DOUT = 9;
export const F_DX = 10;
export const F_T = 11;
export const F_REC = 12;
export const F_FIRST = 13;
export const F_STATE = 14;
export const F_STATE0 = 15;
export const F_DSTATE = 16;
export const F_TH = 17;
export const F_TAPE = 18;
export const F_TAPEX = 19;
export const F_HEAD = 20;
export const F_SCR = 21;
export const F_SCRSTRIDE = 22;
export const F_G64 = 25;
export const F_G64STRIDE = 26;
export const F_GHEAD = 27;
export const F_XP = 30;
export const F_S = 31;
// scratch offsets (bytes from the thread's scratch base) and row lengths (floats)
export const F_ZB = 32;
export const F_PI = 33;
export const F_DUMMY = 34;
export const F_DZ = 35;
export const F_DZI = 37;
export const F_INR = 38;
export const F_THS = 40;
export const F_DIO = 41;
export const F_KR = 42;
export const F_OMAX = 43;
export const F_GA = 44;
export const F_GBS = 45;
/** Head gradient partial sums (Hp + 4 floats). */
export const F_GHS = 46;
/** The forward pass's next unclaimed coordinate (claimed atomically). */
export const F_NEXT = 47;
/** Coordinates per claim in the forward pass (even). */
export const F_FCHUNK = 48;
/** The backward pass's split: 0 fixed ranges per thread, 1 chunks claimed on demand. */
export const F_BMODE = 49;
/** Coordinates per chunk of the backward pass (a multiple of B). */
export const F_BCHUNK = 50;
/** The backward pass's next unclaimed coordinate (claimed atomically). */
export const F_NEXTB = 51;
/** 1: the tape keeps its gates and c' in bfloat16 (`tape: "bf16"`, 5 Hp per row), 0: gates in float32 (4 Hp per row; c' see F_TAPEC). */
export const F_TAPE16 = 52;
/** Scratch offset of three float32 rows (5 Hp each) that the backward pass unpacks a bfloat16 tape into. */
export const F_UNP = 53;
/**
 * A float32 tape keeps each step's gates (4 Hp floats per layer and coordinate) and, apart, the
 * cell state c' of every F_CK-th step of a segment (steps t with t % F_CK == F_CK - 1) at
 * F_TAPEC; the backward pass recomputes the others from the nearest one kept before them (or
 * the segment's checkpoint), bit for bit, as the forward pass computed them.
 */
export const F_TAPEC = 54;
export const F_CK = 55;
/**
 * c' of the backward pass's top step (float32 tape): layer l's of coordinate c at
 * F_CTOP + c F_CTOPS + l 4 Hp bytes (the live state's c rows, where a recomputation ended, or
 * the copy the host keeps when unrecorded steps follow the recorded ones).
 */
export const F_CTOP = 56;
export const F_CTOPS = 58;
/** Scratch offset of one row (Hp floats) for a recomputed c'. */
export const F_CS = 57;
/** c0, c1 per thread (the backward pass's fixed ranges), up to F_LAYER. */
export const F_RANGE = 64;
/** Per-layer fields from here: layer l's field k at F_LAYER + LAYER_FIELDS l + k. */
export const F_LAYER = 256;
export const LAYER_FIELDS = 8;

// ---- LSTM engine: per-layer fields (index within a layer's LAYER_FIELDS) ----

export const L_W = 0;
export const L_B = 1;
export const L_WT = 2;
export const L_K = 3;
export const L_KIN = 4;
export const L_KINP = 5;
export const L_GW = 6;
export const L_GB = 7;

// ---- MLP task (assembly/mlp.ts, src/tasks/mlp_wasm.ts): activation codes ----

export const ACT_SIGMOID = 0;
export const ACT_RELU = 1;
export const ACT_TANH = 2;
