/**
 * The fixed feature network of the neural-art task: three layers of seeded random 3x3
 * convolutions with ReLU, a 2x2 average pooling between layers (so the layers see the image
 * at full, half and quarter resolution), forward and hand-written backward. No pretrained VGG
 * can be had here; Gram matrices of random multi-scale convolutional features are a known
 * working substitute for texture and style statistics (Ustyuzhaninov et al., "What does it take
 * to generate natural textures?", ICLR 2017; He et al. 2016, random shallow networks).
 *
 * Engine: plain TypeScript over `Float32Array`s, the 3x3 taps of one (output, input) channel
 * pair held in locals and every plane stored with a one-pixel zero border, so the inner loop
 * has no branches. The backward pass through a convolution is the same loop with the kernel
 * flipped and the channel roles swapped. Timings: bench/art_step.ts.
 */
import { normal, type Key } from "../core/rng.ts";

/** The network's shape: image side (a multiple of 4) and channels of the three layers. */
export interface ArtNetShape {
  readonly size: number;
  readonly channels: readonly [number, number, number];
}

/** One layer: 3x3 weights `[cout, cin, 3, 3]` and their flipped transpose `[cin, cout, 3, 3]`. */
interface Layer {
  readonly cin: number;
  readonly cout: number;
  /** Output side (the input side too: padding 1, stride 1). */
  readonly side: number;
  readonly w: Float32Array;
  readonly wT: Float32Array;
}

/** The activations of one forward pass, kept for the backward pass. */
export interface ArtActivations {
  /** Post-ReLU features of each layer, `[c, side * side]`. */
  readonly feats: readonly [Float32Array, Float32Array, Float32Array];
}

export interface ArtNet {
  readonly shape: ArtNetShape;
  /** Features of an image `[3, size, size]` (pixels in [0, 1]; the net sees them centred on 0.5). */
  forward(image: Float32Array): ArtActivations;
  /**
   * dL/dimage given dL/dfeatures of each layer (null: zero), through the activations of the
   * last `forward`. The arrays in `dFeats` are overwritten.
   */
  backward(acts: ArtActivations, dFeats: readonly [Float32Array | null, Float32Array | null, Float32Array | null]): Float32Array;
}

/**
 * out[o] (= or +=) sum_c conv3x3(inP[c], w[o, c]) for `cout` output planes of `side`^2 pixels,
 * the input planes `inP` padded to (side + 2)^2.
 */
function conv3x3(inP: Float32Array, cin: number, w: Float32Array, cout: number, side: number, out: Float32Array): void {
  const P = side + 2;
  const PP = P * P;
  const N = side * side;
  out.fill(0, 0, cout * N);
  for (let o = 0; o < cout; o++) {
    for (let c = 0; c < cin; c++) {
      const k = (o * cin + c) * 9;
      const w0 = w[k]!, w1 = w[k + 1]!, w2 = w[k + 2]!, w3 = w[k + 3]!, w4 = w[k + 4]!;
      const w5 = w[k + 5]!, w6 = w[k + 6]!, w7 = w[k + 7]!, w8 = w[k + 8]!;
      const base = c * PP;
      for (let y = 0; y < side; y++) {
        const r0 = base + y * P;
        const r1 = r0 + P;
        const r2 = r1 + P;
        const ob = o * N + y * side;
        for (let x = 0; x < side; x++) {
          out[ob + x]! +=
            w0 * inP[r0 + x]! + w1 * inP[r0 + x + 1]! + w2 * inP[r0 + x + 2]! +
            w3 * inP[r1 + x]! + w4 * inP[r1 + x + 1]! + w5 * inP[r1 + x + 2]! +
            w6 * inP[r2 + x]! + w7 * inP[r2 + x + 1]! + w8 * inP[r2 + x + 2]!;
        }
      }
    }
  }
}

/** Copies `c` planes of `side`^2 into the interior of zero-bordered (side + 2)^2 planes. */
function pad(src: Float32Array, c: number, side: number, dst: Float32Array, shift = 0): void {
  const P = side + 2;
  dst.fill(0);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < side; y++) {
      const s = (ch * side + y) * side;
      const d = ch * P * P + (y + 1) * P + 1;
      for (let x = 0; x < side; x++) dst[d + x] = src[s + x]! - shift;
    }
  }
}

/** 2x2 average pooling of `c` planes of `side`^2 into zero-bordered planes of (side/2 + 2)^2. */
function poolInto(src: Float32Array, c: number, side: number, dstP: Float32Array): void {
  const h = side / 2;
  const P = h + 2;
  dstP.fill(0);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const s0 = (ch * side + 2 * y) * side;
      const s1 = s0 + side;
      const d = ch * P * P + (y + 1) * P + 1;
      for (let x = 0; x < h; x++) {
        dstP[d + x] = 0.25 * (src[s0 + 2 * x]! + src[s0 + 2 * x + 1]! + src[s1 + 2 * x]! + src[s1 + 2 * x + 1]!);
      }
    }
  }
}

/** dst (side^2 planes) += the gradient of 2x2 average pooling, given dPooled ((side/2)^2 planes). */
function unpoolAdd(dPooled: Float32Array, c: number, side: number, dst: Float32Array): void {
  const h = side / 2;
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const d0 = (ch * side + 2 * y) * side;
      const d1 = d0 + side;
      const s = (ch * h + y) * h;
      for (let x = 0; x < h; x++) {
        const g = 0.25 * dPooled[s + x]!;
        dst[d0 + 2 * x]! += g;
        dst[d0 + 2 * x + 1]! += g;
        dst[d1 + 2 * x]! += g;
        dst[d1 + 2 * x + 1]! += g;
      }
    }
  }
}

/** `[cin, cout, 3, 3]`: the kernel flipped in both axes with input and output swapped. */
function flippedTranspose(w: Float32Array, cout: number, cin: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let o = 0; o < cout; o++) {
    for (let c = 0; c < cin; c++) {
      for (let k = 0; k < 9; k++) t[(c * cout + o) * 9 + (8 - k)] = w[(o * cin + c) * 9 + k]!;
    }
  }
  return t;
}

/**
 * The network for `shape`, its filters drawn from `key`: each filter N(0, 2 / fan-in) (He
 * initialisation, so activations keep their scale through the ReLUs), no bias. The same key
 * gives the same filters, whatever the image size.
 */
export function artNet(shape: ArtNetShape, key: Key): ArtNet {
  const [c1, c2, c3] = shape.channels;
  const sides = [shape.size, shape.size / 2, shape.size / 4] as const;
  const dims: readonly (readonly [number, number])[] = [[3, c1], [c1, c2], [c2, c3]];
  const filters = normal(key, 9 * (3 * c1 + c1 * c2 + c2 * c3));
  let at = 0;
  const layers: Layer[] = dims.map(([cin, cout], l) => {
    const w = filters.slice(at, at + 9 * cin * cout);
    at += 9 * cin * cout;
    const std = Math.sqrt(2 / (9 * cin));
    for (let i = 0; i < w.length; i++) w[i]! *= std;
    return { cin, cout, side: sides[l]!, w, wT: flippedTranspose(w, cout, cin) };
  });
  // Padded inputs of each layer and scratch, allocated once; `forward` returns fresh features.
  const inP = layers.map((L) => new Float32Array(L.cin * (L.side + 2) ** 2));
  const gradP = layers.map((L) => new Float32Array(L.cout * (L.side + 2) ** 2));

  function forward(image: Float32Array): ArtActivations {
    pad(image, 3, shape.size, inP[0]!, 0.5);
    const feats = layers.map((L) => new Float32Array(L.cout * L.side * L.side)) as [Float32Array, Float32Array, Float32Array];
    layers.forEach((L, l) => {
      const f = feats[l]!;
      conv3x3(inP[l]!, L.cin, L.w, L.cout, L.side, f);
      for (let i = 0; i < f.length; i++) if (!(f[i]! > 0)) f[i] = 0;
      if (l < 2) poolInto(f, L.cout, L.side, inP[l + 1]!);
    });
    return { feats };
  }

  function backward(acts: ArtActivations, dFeats: readonly [Float32Array | null, Float32Array | null, Float32Array | null]): Float32Array {
    let dIn: Float32Array | null = null; // dL/d(pooled input of the layer above)
    for (let l = 2; l >= 0; l--) {
      const L = layers[l]!;
      const N = L.side * L.side;
      const dF = dFeats[l] ?? new Float32Array(L.cout * N);
      if (dIn !== null) unpoolAdd(dIn, L.cout, L.side, dF);
      const f = acts.feats[l]!;
      for (let i = 0; i < dF.length; i++) if (!(f[i]! > 0)) dF[i] = 0;
      pad(dF, L.cout, L.side, gradP[l]!);
      dIn = new Float32Array(L.cin * N);
      conv3x3(gradP[l]!, L.cout, L.wT, L.cin, L.side, dIn);
    }
    return dIn!;
  }

  return { shape, forward, backward };
}
